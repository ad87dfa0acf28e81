"""One article holding a huge word without spaces (a base64 data URI): chunking, indexing, one question.

    .venv/bin/python -m eval.bench_big_inputs                # a 19 MB word
    .venv/bin/python -m eval.bench_big_inputs --megabytes 2

Writes a short story with a `data:image/png;base64,…` URI of --megabytes set into one of its
sentences, as a pasted image lands in a scraped article. Reports Chunker.split in this process (wall
time, tracemalloc's peak of Python allocations, the longest chunk and sentence in characters), then
`rag index` and `rag ask --json` on it in child processes, as a user runs them: wall time, the
child's own peak resident memory (getrusage via wait4, torch and the models included) and, for the
question, the size of the JSON reply. A child that passes --max-rss-gb is killed (the machine is
shared). The machine's cores and load come with the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from rag.index.chunking import Chunker
from rag.schema import Article

RAG = str(Path(sys.executable).parent / "rag")
QUESTION = "What did the council attach to its flood report?"


def story(megabytes: float, seed: int = 0) -> str:
    """A dated story whose third sentence carries a data URI of about `megabytes` MB, no space in it."""
    payload = base64.b64encode(random.Random(seed).randbytes(int(megabytes * 1e6 * 3 / 4))).decode("ascii")
    return (
        "---\ntitle: Council publishes flood map\ndate: 2023-05-04\nsource: Example Wire\n---\n"
        "The Fenwick council published its flood report on Tuesday. The report warns that 300 homes are at risk. "
        f"The council attached a flood map to its flood report: data:image/png;base64,{payload} "
        "The mayor said the new flood wall would cost 4 million dollars.\n"
    )


def chunking(text: str) -> dict:
    """Chunker.split on the text: wall seconds, then tracemalloc's peak in a second run."""
    article = Article(id="big", title="big", path="big.md", text=text)
    started = time.perf_counter()
    chunks = Chunker().split(article)
    seconds = time.perf_counter() - started
    del chunks
    tracemalloc.start()
    chunks = Chunker().split(article)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "seconds": round(seconds, 2),
        "tracemalloc_peak_mb": round(peak / 1e6, 1),
        "chunks": len(chunks),
        "longest_chunk_chars": max(len(c.text) for c in chunks),
        "longest_sentence_chars": max(e - s for c in chunks for s, e in c.sentences),
    }


def _rss_mb(pid: int) -> float:
    """The process's resident memory now, from /proc (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)


def run(arguments: list[str], env: dict, max_rss_mb: float) -> tuple[dict, str | None]:
    """One `rag` child: its wall time, its own peak resident memory (wait4's rusage is per child), and its
    stdout; None and why when it failed, or was killed on passing max_rss_mb (before the bounds, asking
    about a 19 MB word took all 23 GB of the machine and the kernel killed it)."""
    started = time.perf_counter()
    killed = False
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([RAG, *arguments], stdout=out, stderr=err, text=True, env=env)
        # os.wait4, not Popen.poll/wait: it is what returns this child's own peak memory.
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        while pid == 0:
            if not killed and _rss_mb(process.pid) > max_rss_mb:
                process.send_signal(signal.SIGKILL)
                killed = True
            time.sleep(0.1)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    figures: dict = {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}
    code = os.waitstatus_to_exitcode(status)
    if killed:
        return figures | {"failed": f"killed on passing {max_rss_mb:.0f} MB resident"}, None
    if code != 0:
        return figures | {"failed": (errors.strip().splitlines() or [f"exit status {code}"])[-1][:300]}, None
    return figures, output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=19.0, help="size of the word without spaces")
    parser.add_argument("--max-rss-gb", type=float, default=8.0, help="kill a child that passes this much resident memory")
    parser.add_argument("--work", type=Path, default=None, help="folder for the corpus, its index and the library (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="big-inputs-"))
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    text = story(args.megabytes)
    (corpus / "flood.md").write_text(text, encoding="utf-8")
    size = (corpus / "flood.md").stat().st_size
    env = {**os.environ, "RAG_MAX_FILE_BYTES": str(max(size, 20_000_000)), "RAG_DATA_DIR": str(work / "library")}
    record: dict = {
        "file_mb": round(size / 1e6, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "chunking": chunking(text[text.index("The Fenwick") :]),
    }
    record["index"], _ = run(["index", str(corpus)], env, args.max_rss_gb * 1024)
    record["ask"], reply = run(["ask", "--json", "--corpus", str(corpus), QUESTION], env, args.max_rss_gb * 1024)
    if reply is not None:
        answer = json.loads(reply)
        quoted = [answer.get("answer") or "", *(c["passage"] for c in answer["citations"] + answer["related"])]
        record["ask"] |= {"reply_bytes": len(reply.encode()), "longest_quoted_chars": max(len(q) for q in quoted), "found": answer["found"]}
    record["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
