"""Sentence splitting and chunking time against text size, 10 KB to 20 MB. Not a test.

    python -m eval.bench_splitter                     # all layouts, sizes 10 KB .. 20 MB
    python -m eval.bench_splitter --sizes 10000 1000000 --layouts wrapped

Each layout is generated text: news-like sentences (abbreviations, numbers, quotes) hard-wrapped
at 65 characters with a heading now and then ("wrapped"), one paragraph a line ("unwrapped"), and
the line of issue 9 repeated ("repeated": 'Mr. Smith said the budget was ready.'). For each size it
times split_sentences and Chunker.split (which splits again, then groups): the CPU seconds of this
process, which other load on a shared machine hardly changes, and the wall-clock seconds of the
same run, the run with the least CPU time of --repeats after a warm-up. It fits
CPU seconds = slope * characters + intercept, and the exponent of a log-log fit (1.0 is linear time).
The figures are in eval/RESULTS.md, "Sentence splitter".
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TypeVar

from rag.index.chunking import Chunker, split_sentences
from rag.schema import Article

SIZES = [10_000, 100_000, 1_000_000, 5_000_000, 20_000_000]
WORDS = (
    "the company said on monday it would raise its forecast for the year after sales of cars and "
    "trucks rose in the first quarter while analysts had expected a smaller gain in the market"
).split()
NAMES = ["Mr. Smith", "Dr. Jones", "Acme Inc.", "the U.S. Treasury", "J.P. Morgan and Co.", "Gen. Motors"]
REPEATED_LINE = "Mr. Smith said the budget was ready.\n"


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(6, 30))
    words.insert(rng.randrange(len(words)), rng.choice(NAMES))
    words.insert(rng.randrange(len(words)), f"{rng.randint(1, 99)}.{rng.randint(0, 9)} pct")
    body = " ".join(words)
    sentence = body[0].upper() + body[1:] + rng.choice(".....?!")
    return f'"{sentence}" he said.' if rng.random() < 0.1 else sentence


def generate(layout: str, size: int, seed: int = 0) -> str:
    """At least `size` characters of text in the layout, cut to `size`."""
    if layout == "repeated":
        return (REPEATED_LINE * (size // len(REPEATED_LINE) + 1))[:size]
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(1, 5)))
        if layout == "wrapped":
            paragraph = "\n".join(textwrap.wrap(paragraph, 65)) + "\n"
            if rng.random() < 0.15:
                paragraph = "ALSO READ: Markets rally as oil falls\n\n" + paragraph
        parts.append(paragraph)
        total += len(paragraph) + 1
    return "\n".join(parts)[:size]


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
    cpu = models[0] if models else platform.processor()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}; {os.cpu_count()} CPUs; load average {load}; Python {platform.python_version()}"


class Timing(NamedTuple):
    cpu: float  # seconds of CPU time of this process
    wall: float  # seconds on the clock


Result = TypeVar("Result")


def fastest(run: Callable[[], Result], repeats: int) -> tuple[Result, Timing]:
    """run()'s result and the timing of its run with the least CPU time out of `repeats`."""
    best = Timing(math.inf, math.inf)
    for _ in range(repeats):
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        result = run()
        best = min(best, Timing(time.process_time() - cpu_started, time.perf_counter() - wall_started))
    return result, best


def fit(sizes: list[int], seconds: list[float]) -> tuple[float, float, float]:
    """(slope in seconds per character, intercept, log-log exponent) by least squares."""
    n = len(sizes)
    mean_x, mean_y = sum(sizes) / n, sum(seconds) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(sizes, seconds)) / sum((x - mean_x) ** 2 for x in sizes)
    logs = [(math.log(x), math.log(max(y, 1e-9))) for x, y in zip(sizes, seconds)]
    mean_lx, mean_ly = sum(x for x, _ in logs) / n, sum(y for _, y in logs) / n
    exponent = sum((x - mean_lx) * (y - mean_ly) for x, y in logs) / sum((x - mean_lx) ** 2 for x, _ in logs)
    return slope, mean_y - slope * mean_x, exponent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--layouts", nargs="+", default=["wrapped", "unwrapped", "repeated"])
    parser.add_argument("--repeats", type=int, default=3, help="runs per size; the fastest is kept")
    args = parser.parse_args()
    chunker = Chunker()
    chunker.split(Article(id="warm-up", title="warm-up", path="warm-up.txt", text=generate("wrapped", 10_000)))
    print(f"machine: {machine()}")
    print(f"{'layout':10} {'characters':>12} {'sentences':>10} {'chunks':>8} {'split CPU s':>12} {'(wall)':>8} {'split+chunk CPU s':>18} {'(wall)':>8}")
    for layout in args.layouts:
        split_times, chunk_times = [], []
        for size in args.sizes:
            text = generate(layout, size)
            source = Article(id="bench", title="bench", path="bench.txt", text=text)
            sentences, split_time = fastest(lambda: split_sentences(text), args.repeats)
            chunks, chunk_time = fastest(lambda: chunker.split(source), args.repeats)
            split_times.append(split_time.cpu)
            chunk_times.append(chunk_time.cpu)
            print(
                f"{layout:10} {size:>12,} {len(sentences):>10,} {len(chunks):>8,} "
                f"{split_time.cpu:>12.3f} {split_time.wall:>8.3f} {chunk_time.cpu:>18.3f} {chunk_time.wall:>8.3f}",
                flush=True,
            )
        for label, seconds in (("split", split_times), ("split+chunk", chunk_times)):
            slope, intercept, exponent = fit(args.sizes, seconds)
            print(f"{layout:10} {label:12} fit: {slope * 1e6:.3f} CPU s per million characters, intercept {intercept:+.3f} s, log-log exponent {exponent:.2f}")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
