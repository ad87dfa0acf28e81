"""Memory of `rag serve` under the README's one-liner: a new gradio_client per question, dropped after its answer.

Each Client is a Gradio session; before ui/sessions.py released a session once its client's heartbeat
ended, each one stayed (~105 KB). This starts `rag serve` on a copy of the corpus, lets WARM_UP_CLIENTS
fill Python's and the allocator's pools, then asks N questions, each from a client of its own, and
prints the server's resident memory every STEP clients (after the gone clients' heartbeats have ended:
15 s, Gradio's interval, plus a margin). Exits 1 on an error or when memory grew more than 5 MB.

    .venv/bin/python -m eval.client_sessions --clients 1000 --step 250
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from gradio_client import Client

from eval.concurrency import free_port, running_server
from eval.load_test import memory_mb, server_pid

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Who is the Foreign Ministry spokesperson?"
WARM_UP_CLIENTS = 100
SETTLE_S = 20.0  # a dropped client's heartbeat ends within Gradio's 15 s interval; its session is released then
GROWTH_LIMIT_MB = 5.0


def one_question(url: str) -> dict:
    """The README's one-liner: a new client, one question, the client dropped."""
    return json.loads(Client(url, verbose=False).predict(QUESTION, api_name="/ask"))


def settled_rss_mb(pid: int) -> float:
    gc.collect()  # the dropped clients' threads and streams end with them
    time.sleep(SETTLE_S)
    return memory_mb(pid, "VmRSS")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="questions, each from a new client")
    parser.add_argument("--step", type=int, default=250, help="memory is read every this many clients")
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    args = parser.parse_args(argv)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rag-sessions-") as tmp:
        shutil.copytree(args.corpus, Path(tmp) / "corpus", ignore=shutil.ignore_patterns(".rag-index"))
        os.environ["RAG_DATA_DIR"] = str(Path(tmp) / "data")  # the server subprocess's library: not the user's
        port = free_port()
        with running_server(Path(tmp) / "corpus", port) as url:
            pid = server_pid(port)
            for _ in range(WARM_UP_CLIENTS):
                one_question(url)
            before = settled_rss_mb(pid)
            print(f"| clients | RSS | growth | per client | asking |\n|---|---|---|---|---|\n| {WARM_UP_CLIENTS} (warm-up) | {before:.1f} MB | | | |")
            asking_s, growth = 0.0, 0.0
            for n in range(1, args.clients + 1):
                started = time.perf_counter()
                try:
                    if not one_question(url).get("found"):
                        errors.append(f"client {n}: not answered")
                except Exception as exc:  # a failed call is reported, the run goes on
                    errors.append(f"client {n}: {exc}")
                asking_s += time.perf_counter() - started
                if n % args.step == 0 or n == args.clients:
                    growth = settled_rss_mb(pid) - before
                    print(f"| {n} | {before + growth:.1f} MB | {growth:+.1f} MB | {growth * 1024 / n:+.1f} KB | {asking_s:.0f} s |", flush=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} after")
    for error in errors[:20]:
        print(error, file=sys.stderr)
    return 1 if errors or growth > GROWTH_LIMIT_MB else 0


if __name__ == "__main__":
    sys.exit(main())
