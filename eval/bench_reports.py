"""What the disagreement check (rag/answering/reports.py) adds to an ordinary question: each question of a
gold file asked with the check and without it (the baseline, `compare_reports` off), alternately, in
one process over one index; the per-question difference's p50 and p95, and how often the check read
other stories' passages.

    .venv/bin/python -m eval.bench_reports --corpus <copy of ../shared/data/reuters-dev/corpus> \
        --gold ../shared/data/reuters-dev/gold.jsonl [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from eval.metrics import percentile
from rag.pipeline import Pipeline


def _ask_ms(pipeline: Pipeline, question: str, compare_reports: bool) -> float:
    pipeline.searcher.settings = pipeline.settings.model_copy(update={"compare_reports": compare_reports})
    started = time.perf_counter()
    pipeline.ask(question)
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3, help="each question asked this many times each way; the fastest counts")
    args = parser.parse_args(argv)
    questions = [json.loads(line)["question"] for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipeline = Pipeline(corpus=args.corpus)
    pipeline.ensure_index()
    pipeline.load_models()
    for question in questions[:5]:  # warm the caches both ways
        _ask_ms(pipeline, question, True)
    load_before = os.getloadavg()
    with_check, without, reported = [], [], 0
    for question in questions:
        on = min(_ask_ms(pipeline, question, True) for _ in range(args.rounds))
        off = min(_ask_ms(pipeline, question, False) for _ in range(args.rounds))
        with_check.append(on)
        without.append(off)
        pipeline.searcher.settings = pipeline.settings
        reported += bool(pipeline.ask(question).reports)
    added = [a - b for a, b in zip(with_check, without, strict=True)]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; load before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{len(questions)} questions of {args.gold}, fastest of {args.rounds} each way")
    print("| | p50 ms | p95 ms |\n|---|---|---|")
    print(f"| without the check (baseline) | {percentile(without, 50):.1f} | {percentile(without, 95):.1f} |")
    print(f"| with the check | {percentile(with_check, 50):.1f} | {percentile(with_check, 95):.1f} |")
    print(f"| added, per question | {percentile(added, 50):.1f} | {percentile(added, 95):.1f} |")
    print(f"answers shown with other stories' differing reports: {reported} of {len(questions)}")


if __name__ == "__main__":
    main()
