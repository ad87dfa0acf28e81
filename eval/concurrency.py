"""Many users at once: N questions sent together to a running `rag serve` through gradio_client.

Each simulated user has its own Client (connecting is not timed); all submit at the same moment
and each question's latency runs from its submit to its answer, queue wait included.

    .venv/bin/python -m eval.concurrency --corpus seeds [--clients 20]     # starts its own server
    .venv/bin/python -m eval.concurrency --url http://127.0.0.1:7860/     # or measures a running one
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gradio_client import Client
from pydantic import BaseModel

from eval.metrics import percentile
from eval.runner import read_gold

WARM_UP = "What happened?"  # answered by the reader: its model loads before anything is timed


class Reply(BaseModel):
    question: str
    answer: dict | None  # the `rag ask --json` object; None when the call failed
    error: str | None = None
    seconds: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(corpus: Path, port: int, ready_seconds: float = 300, log: Path | None = None) -> Iterator[str]:
    """`rag serve --corpus CORPUS --port PORT` in a subprocess; yields its URL once it answers and its
    index is ready (the page is up before: the server indexes behind it).

    Its output goes to LOG (kept afterwards), else to a temporary file.
    """
    from ui.app import INDEX_READY

    command = [sys.executable, "-m", "rag.cli", "serve", "--corpus", str(corpus), "--port", str(port)]
    with running(command, port, INDEX_READY, ready_seconds, log) as url:
        yield url


@contextmanager
def running(command: list[str], port: int, ready_line: str, ready_seconds: float = 300, log: Path | None = None) -> Iterator[str]:
    """A server COMMAND in a subprocess; yields its URL once PORT answers and its output holds READY_LINE."""
    # Output to a file, not a pipe: nobody reads a pipe while the server runs, and a full one blocks it.
    # Unbuffered, so the file holds everything up to the moment it is read, also when the server is killed.
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "w+", encoding="utf-8") if log else tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True, env=environment)
        try:
            deadline = time.monotonic() + ready_seconds
            while not (_answers(port) and _logged(output, ready_line)):
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    raise RuntimeError(f"`{' '.join(command[1:])}` did not come up on port {port}:\n{output.read()[-3000:]}")
                time.sleep(0.3)
            yield f"http://127.0.0.1:{port}/"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _logged(output, line: str) -> bool:
    """Whether the server's output holds the line; read with pread: the server writes through the same
    open file, and moving its offset would make it overwrite what it wrote."""
    fd = output.fileno()
    return line.encode() in os.pread(fd, os.fstat(fd).st_size, 0)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def ask_concurrently(url: str, questions: Sequence[str], clients: Sequence[Client] | None = None) -> list[Reply]:
    """Every question from its own client (connected here unless given), all released at once; replies in question order."""
    clients = clients or [Client(url, verbose=False) for _ in questions]
    start = threading.Barrier(len(questions))
    replies: list[Reply | None] = [None] * len(questions)

    def one(i: int) -> None:
        start.wait()
        began = time.perf_counter()
        try:
            answer, error = json.loads(clients[i].predict(questions[i], api_name="/ask")), None
        except Exception as exc:  # a failed call is a result here, reported, not a crash
            answer, error = None, f"{type(exc).__name__}: {exc}"
        replies[i] = Reply(question=questions[i], answer=answer, error=error, seconds=time.perf_counter() - began)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(questions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in replies if r is not None]


def summary(replies: Sequence[Reply]) -> dict:
    ms = [r.seconds * 1000 for r in replies]
    return {
        "questions": len(replies),
        "answered": sum(r.answer is not None for r in replies),
        "found": sum(bool(r.answer and r.answer["found"]) for r in replies),
        "latency_ms": {
            "p50": round(percentile(ms, 50), 1),
            "p95": round(percentile(ms, 95), 1),
            "max": round(max(ms, default=0.0), 1),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="a running server; default: start `rag serve --corpus CORPUS`")
    parser.add_argument("--corpus", type=Path, default=Path("seeds"))
    parser.add_argument("--gold", type=Path, default=Path("eval/gold/seeds.jsonl"), help="where the questions come from")
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args(argv)
    gold = [item.question for item in read_gold(args.gold)]
    # Distinct questions where the file has enough: a repeated one would hit the encoder's cache.
    questions = [gold[i % len(gold)] for i in range(args.clients)]
    if args.url:
        replies = ask_concurrently(args.url, questions)
    else:
        with running_server(args.corpus, free_port()) as url:
            Client(url, verbose=False).predict(WARM_UP, api_name="/ask")
            replies = ask_concurrently(url, questions)
    for reply in replies:
        if reply.error:
            print(f"failed: {reply.question!r}: {reply.error}")
    print(json.dumps(summary(replies), indent=2))
    return 0 if all(r.answer is not None for r in replies) else 1


if __name__ == "__main__":
    sys.exit(main())
