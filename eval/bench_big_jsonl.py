"""Indexing one big JSONL file: time, peak memory, and a killed run that resumes.

    .venv/bin/python -m eval.bench_big_jsonl --lines 100000
    .venv/bin/python -m eval.bench_big_jsonl --lines 100000 --kill-after 0.5

Writes a synthetic wire-style JSONL (one short dated story a line, ~190 bytes, every text
different, so 100k lines fit the default 20 MB file limit) and runs `rag index` on it in a child
process, as a user would. Reports wall time, chunks/s and the child's peak resident memory
(getrusage of the waited-for child, which includes torch and the model). With --kill-after F, the
first run is SIGKILLed once F of the chunks have been saved as progress, and a second run resumes:
both times are reported, with the chunks the second run took from the first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.index.journal import saved_chunks

RAG = str(Path(sys.executable).parent / "rag")
_TOWNS = ("Ashford", "Bexley", "Carlow", "Dunmore", "Elgin", "Fenwick", "Galway", "Hexham", "Irvine", "Jarrow", "Kendal", "Lanark")
_BODIES = ("council", "port authority", "water board", "school district", "transit agency", "health trust")
_ACTS = ("approved", "delayed", "rejected", "cut", "raised", "reviewed")
_ITEMS = ("budget", "bridge repair", "bus fares", "rent cap", "flood wall", "library hours", "parking fees")
_PEOPLE = ("Ana Ruiz", "Tom Hale", "Mei Chen", "Omar Said", "Lena Berg", "Raj Patel", "Kofi Mensah")


def story(n: int, rng: random.Random) -> dict:
    """One short dated story; the number n makes every text different (the loader indexes a text once)."""
    town, body, act, item, person = (rng.choice(x) for x in (_TOWNS, _BODIES, _ACTS, _ITEMS, _PEOPLE))
    amount = 1 + (n * 7919) % 9973
    day = 1 + n % 28
    return {
        "title": f"{town} {body} {act} {item}",
        "date": f"20{10 + n % 15}-{1 + n % 12:02d}-{day:02d}",
        "text": f"The {town} {body} {act} the {item} plan worth {amount} thousand dollars on day {day}. "
        f"{person} said vote {n} followed {rng.randint(2, 40)} hours of debate.",
    }


def write_jsonl(path: Path, lines: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(lines):
            handle.write(json.dumps(story(n, rng)) + "\n")


def run_index(corpus: Path, env: dict, kill_at_chunks: int | None = None) -> dict:
    """One `rag index` child: its wall time and its own peak resident memory (wait4's rusage is per child)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([RAG, "index", str(corpus)], stdout=out, stderr=err, text=True, env=env)
        killed = False
        # os.wait4, not Popen.poll/wait: it is what returns this child's own peak memory.
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        while pid == 0:
            if kill_at_chunks is not None and not killed and saved_chunks(corpus / ".rag-index") >= kill_at_chunks:
                process.send_signal(signal.SIGKILL)
                killed = True
            time.sleep(0.2)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        output, errors = out.read(), err.read()
    if not killed and process.returncode != 0:
        sys.exit(f"rag index failed ({process.returncode}):\n{errors}")
    return {
        "seconds": round(seconds, 1),
        "killed": killed,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "summary": [line for line in output.splitlines() if line.startswith(("indexed", "resumed"))],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--kill-after", type=float, default=None, help="kill the first run once this share of chunks is saved")
    parser.add_argument("--work", type=Path, default=None, help="folder for the corpus and index (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="big-jsonl-"))
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    write_jsonl(corpus / "wire.jsonl", args.lines)
    size = (corpus / "wire.jsonl").stat().st_size
    env = {**os.environ, "RAG_MAX_FILE_BYTES": str(max(size, 20_000_000))}
    record = {
        "lines": args.lines,
        "file_mb": round(size / 1e6, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    if args.kill_after is None:
        record["run"] = run_index(corpus, env)
    else:
        record["killed_run"] = run_index(corpus, env, kill_at_chunks=int(args.kill_after * args.lines))
        record["resumed_run"] = run_index(corpus, env)
    record["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
