"""Load test: 50 visitors ask at once through `gradio_client`, while a new visitor opens the page.

The burst itself is eval/concurrency.py's (a `rag serve` subprocess on a copy of the corpus, one
client per visitor, all questions released at once, latency from submit to answer). This adds what
issue 5 asks besides: the page's latency for a new visitor meanwhile (GET / every 0.2 s while the
clients connect and ask), the server's resident memory after warm-up and at its peak (VmHWM), and a
check that every reply is the `rag ask --json` object. Prints a markdown row for eval/RESULTS.md;
exits 1 on any error.

    .venv/bin/python -m eval.load_test --clients 50
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from gradio_client import Client
from pydantic import BaseModel

from eval.concurrency import WARM_UP, ask_concurrently, free_port, running_server, summary
from eval.metrics import percentile
from eval.runner import read_gold

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_KEYS = ["question", "found", "answer", "span", "score", "citations", "related"]


class LoadReport(BaseModel):
    clients: int
    errors: list[str]
    latency_ms: dict[str, float]  # p50, p95, max of the questions
    page_ms: dict[str, float]  # p50, max of GET / while the visitors connect and ask
    page_requests: int
    rss_after_warm_up_mb: float
    peak_rss_mb: float

    def markdown(self) -> str:
        return "\n".join(
            [
                "| questions at once | errors | p50 | p95 | max "
                f"| GET / meanwhile (p50 / max, {self.page_requests} requests) | RSS after warm-up | peak RSS |",
                "|---|---|---|---|---|---|---|---|",
                f"| {self.clients} | {len(self.errors)} | {self.latency_ms['p50']:.0f} ms | {self.latency_ms['p95']:.0f} ms "
                f"| {self.latency_ms['max']:.0f} ms | {self.page_ms['p50']:.0f} / {self.page_ms['max']:.0f} ms "
                f"| {self.rss_after_warm_up_mb:.0f} MB | {self.peak_rss_mb:.0f} MB |",
            ]
        )


def server_pid(port: int) -> int:
    """The `rag serve` process listening on port, found by its command line."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # a process that ended meanwhile
        if b"serve" in args and str(port).encode() in args:
            return int(cmdline.parent.name)
    raise RuntimeError(f"no `rag serve` process on port {port}")


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for pid {pid}")


def open_page(url: str, stop: threading.Event, times_ms: list[float], errors: list[str]) -> None:
    """A new visitor loading the page, again and again until stop."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                response.read()
            times_ms.append((time.perf_counter() - started) * 1000)
        except OSError as exc:
            errors.append(f"GET / during the burst: {exc}")
        stop.wait(0.2)


def run_load_test(corpus: Path, questions: list[str], work: Path) -> LoadReport:
    shutil.copytree(corpus, work / "corpus", ignore=shutil.ignore_patterns(".rag-index"))
    port = free_port()
    with running_server(work / "corpus", port) as url:
        Client(url, verbose=False).predict(WARM_UP, api_name="/ask")  # loads the model before anything is measured
        pid = server_pid(port)
        rss_after_warm_up = memory_mb(pid, "VmRSS")
        page_ms: list[float] = []
        errors: list[str] = []
        stop = threading.Event()
        visitor = threading.Thread(target=open_page, args=(url, stop, page_ms, errors))
        visitor.start()
        try:
            replies = ask_concurrently(url, questions)
        finally:
            stop.set()
            visitor.join()
        peak_rss = memory_mb(pid, "VmHWM")
    for reply in replies:
        if reply.error or list(reply.answer or {}) != CONTRACT_KEYS:
            errors.append(f"{reply.question!r}: {reply.error or 'not the `rag ask --json` object'}")
    return LoadReport(
        clients=len(questions),
        errors=errors,
        latency_ms=summary(replies)["latency_ms"],
        page_ms={"p50": percentile(page_ms, 50), "max": max(page_ms, default=0.0)},
        page_requests=len(page_ms),
        rss_after_warm_up_mb=rss_after_warm_up,
        peak_rss_mb=peak_rss,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="questions asked at the same moment")
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold" / "seeds.jsonl", help="where the questions come from")
    args = parser.parse_args(argv)
    gold = [item.question for item in read_gold(args.gold)]
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        report = run_load_test(args.corpus, [gold[i % len(gold)] for i in range(args.clients)], Path(tmp))
    print(report.markdown())
    for error in report.errors:
        print(f"error: {error}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
