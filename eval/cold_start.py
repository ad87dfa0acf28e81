"""`rag ask` from a cold process, the index current: wall time over repeated runs, and where it goes.

    .venv/bin/python -m eval.cold_start --runs 10

The wall time comes from hyperfine (Debian's `hyperfine` package) when it is installed, else from
timing the subprocesses here. The breakdown runs the same steps as `rag ask` in fresh processes,
each step timed: Python's own start, imports, the index (current or not, then loaded), the models
(the encoder's and the reader's networks loaded, compiled from the cached conversion), the answer.
Both are printed as JSON with the machine's load, and appended to eval/.cache/benchmarks.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAG = Path(sys.executable).parent / "rag"
QUESTION = "Who published the 5G security report?"
SECOND_QUESTION = "What did the spokesperson call on countries to do?"


def phases(corpus: Path, question: str) -> dict[str, float]:
    """One cold run of `rag ask`'s steps in this process, each timed (milliseconds). The models load
    during the first answer: their share is the first answer less a second one to another question
    (nothing cached for it) after them."""
    started = time.perf_counter()
    from rag.config import Settings
    from rag.pipeline import Pipeline

    imported = time.perf_counter()
    pipeline = Pipeline(Settings(), corpus=corpus)
    pipeline.ensure_index()
    pipeline.loaded()
    index = time.perf_counter()
    pipeline.ask(question)
    first = time.perf_counter()
    pipeline.ask(SECOND_QUESTION)
    answer = time.perf_counter() - first
    return {
        "imports": (imported - started) * 1000,
        "index (checked current, loaded)": (index - imported) * 1000,
        "models (encoder and reader networks loaded)": (first - index - answer) * 1000,
        "answer": answer * 1000,
    }


def wall_times(corpus: Path, question: str, runs: int) -> dict:
    command = [str(RAG), "ask", "--corpus", str(corpus), question]
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as export:
            quoted = " ".join(f"'{part}'" for part in command)
            subprocess.run(["hyperfine", "--warmup", "1", "--runs", str(runs), "--export-json", export.name, quoted], check=True, capture_output=True)
            result = json.loads(Path(export.name).read_text())["results"][0]
        return {"tool": "hyperfine", "runs": runs, **{key: round(result[key] * 1000, 1) for key in ("mean", "stddev", "median", "min", "max")}}
    subprocess.run(command, check=True, capture_output=True)  # warm-up: the index and the conversions exist after it
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"tool": "subprocess", "runs": runs, "median": round(times[len(times) // 2], 1), "min": round(times[0], 1), "max": round(times[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    parser.add_argument("--question", default=QUESTION)
    parser.add_argument("--phases", action="store_true", help=argparse.SUPPRESS)  # one child run of the breakdown
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / ".cache" / "benchmarks.jsonl")
    args = parser.parse_args()
    if args.phases:
        print(json.dumps(phases(args.corpus, args.question)))
        return
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rag-cold-") as work:
        corpus = Path(work) / "corpus"
        shutil.copytree(args.corpus, corpus, ignore=shutil.ignore_patterns(".rag-index"))
        wall = wall_times(corpus, args.question, args.runs)
        children = []
        for _ in range(args.runs):
            started = time.perf_counter()
            command = [sys.executable, "-m", "eval.cold_start", "--phases", "--corpus", str(corpus), "--question", args.question]
            child = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
            total = (time.perf_counter() - started) * 1000
            steps = json.loads(child.stdout.strip().splitlines()[-1])
            # The second answer is not part of `rag ask`: it is taken out of the child's total.
            children.append({"python start and exit": total - sum(steps.values()) - steps["answer"], **steps})
    breakdown = {step: round(sorted(run[step] for run in children)[len(children) // 2], 1) for step in children[0]}
    record = {
        "benchmark": "cold-start",
        "command": f"rag ask --corpus {args.corpus.name} {args.question!r}",
        "wall_ms": wall,
        "breakdown_median_ms": breakdown,
        "environment": {key: os.environ[key] for key in os.environ if key.startswith("RAG_")},
        "machine": {"cores": os.cpu_count(), "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
