"""Crash test: `rag index` killed with SIGKILL at random moments never leaves a broken or half-new index.

Every run switches a synthetic news corpus to its other version (every article edited, a tenth
removed, a few more added, the mayor of Lowtown renamed) and kills `rag index` at a moment drawn
with a fixed seed, in turn: at a random time of a whole run; while the new generation is written
(after its staging folder appears); just after it is moved into place (the CURRENT switch and the
clean-up of the old one). After every kill the index must load and equal the complete index of
one of the two versions: same articles, same chunk count, same answer to a fixed question. A last,
uninterrupted run must then bring the index to the corpus and leave no leftovers in its folder.

    .venv/bin/python -m eval.crash_test --kills 24 --articles 200 --seed 7
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from rag.config import Settings
from rag.embedding import Encoder
from rag.index.store import CURRENT, LOCK, MARKER
from rag.pipeline import Pipeline

RAG = str(Path(sys.executable).parent / "rag")
QUESTION = "Who is the mayor of Lowtown?"
MAYORS = ("Alice Brennan", "Robert Okafor")
KillMode = Literal["time", "save", "switch"]
KILL_MODES: tuple[KillMode, ...] = ("time", "save", "switch")
SWITCH_WINDOW_SECONDS = 0.02  # after the new generation appears: pointer write, os.replace, old generation removed
_TOWNS = ("Ashford", "Bexley", "Carlow", "Dunmore", "Elgin", "Fenwick", "Galway", "Hexham", "Irvine", "Jarrow")
_TOPICS = ("roads", "parks", "schools", "libraries", "bus routes", "street lights", "housing", "flood defences")


def corpus_files(articles: int, version: int) -> dict[str, str]:
    """File name -> text of one version (0 or 1) of the synthetic corpus; every article differs between them."""
    dropped, added = articles // 10, articles // 10 + 5
    numbers = range(dropped, articles + added) if version else range(articles)
    files = {}
    for i in numbers:
        town, topic = _TOWNS[i % len(_TOWNS)], _TOPICS[(i // 3) % len(_TOPICS)]
        files[f"report-{i:03d}.txt"] = (
            f"Published: 2021-{i % 12 + 1:02d}-{i % 27 + 1:02d}\n"
            f"{town} council report {i} on {topic}\n\n"
            f"The {town} council met on Monday to discuss item {i}, spending on {topic}. "
            f"Members voted {3 + (i + version) % 9} to {(i + version) % 4} in favour of the plan. "
            f"A spokesperson said it would cost {(7 * i + 13 * version) % 90 + 1} million pounds over five years. "
            f"Residents asked about {_TOPICS[(i + 1) % len(_TOPICS)]} and {_TOPICS[(i + 2) % len(_TOPICS)]}.\n"
        )
    files["mayor.txt"] = (
        "Published: 2021-05-07\nLowtown swears in its mayor\n\n"
        f"The mayor of Lowtown is {MAYORS[version]}, who was sworn in at the town hall on Friday. "
        "The new mayor promised to repair the harbour wall before the winter storms.\n"
    )
    return files


def write_corpus(folder: Path, articles: int, version: int) -> None:
    """Make folder hold exactly that version: other articles removed, changed ones rewritten."""
    folder.mkdir(parents=True, exist_ok=True)
    files = corpus_files(articles, version)
    for stale in folder.glob("*.txt"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


class IndexState(BaseModel):
    """What a user can tell apart: which articles, how many chunks, the answer to QUESTION."""

    articles: dict[str, str]  # path -> sha256 of the article text
    chunks: int
    answer: str | None


def index_state(corpus: Path, encoder: Encoder, settings: Settings) -> IndexState:
    """The index as a fresh reader loads it (the same path `rag ask` and `rag serve` take)."""
    pipeline = Pipeline(settings, corpus=corpus, encoder=encoder)
    data = pipeline.store.load(settings)
    answer = pipeline.ask(QUESTION)
    return IndexState(
        articles={a.path: hashlib.sha256(a.text.encode()).hexdigest() for a in data.articles.values()},
        chunks=len(data.chunks),
        answer=answer.span or answer.answer,
    )


class KillRun(BaseModel):
    n: int
    mode: KillMode
    delay_ms: float  # after the start (time) or after the trigger appeared (save, switch)
    target: int  # the corpus version being indexed
    killed: bool  # False: the run had ended before the kill
    stage: str  # where the run was when it died, read from the index folder
    leftovers: list[str]  # index folder entries besides CURRENT, lock, the marker and the live generation
    state: Literal["before", "after"] | None  # the complete index it equals; None: neither (a failure)
    error: str | None = None


class CrashReport(BaseModel):
    seed: int
    articles: tuple[int, int]
    chunks: tuple[int, int]
    full_run_seconds: float
    save_seconds: float
    runs: list[KillRun]
    final_state_ok: bool
    final_leftovers: list[str]

    @property
    def ok(self) -> bool:
        return all(r.state and not r.error for r in self.runs) and self.final_state_ok and not self.final_leftovers

    def lines(self) -> list[str]:
        out = [
            f"crash test, seed {self.seed}: {len(self.runs)} runs, {sum(r.killed for r in self.runs)} killed; "
            f"versions of {self.articles[0]}/{self.articles[1]} articles, {self.chunks[0]}/{self.chunks[1]} chunks; "
            f"a whole run {self.full_run_seconds:.1f}s, a save {self.save_seconds * 1000:.0f}ms",
            f"{'run':>3} {'kill at':<8} {'delay ms':>9} {'killed':<6} {'where the run was':<30} {'index after':<11} leftovers",
        ]
        for r in self.runs:
            found = r.state or f"BROKEN: {r.error}"
            out.append(f"{r.n:>3} {r.mode:<8} {r.delay_ms:>9.1f} {'yes' if r.killed else 'no':<6} {r.stage:<30} {found:<11} {', '.join(r.leftovers) or '-'}")
        out.append(
            f"final uninterrupted run: index {'equals' if self.final_state_ok else 'DIFFERS FROM'} the corpus; "
            f"leftovers: {', '.join(self.final_leftovers) or 'none'}"
        )
        out.append("PASS" if self.ok else "FAIL")
        return out


def _live(index_dir: Path) -> str | None:
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _leftovers(index_dir: Path) -> list[str]:
    return sorted(set(os.listdir(index_dir)) - {CURRENT, LOCK, MARKER, _live(index_dir)})


def wait_until(proc: subprocess.Popen, condition: Callable[[], bool]) -> None:
    """Poll every half millisecond: a save takes tens of milliseconds."""
    while proc.poll() is None and not condition():
        time.sleep(0.0005)


def _start_index(corpus: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as handle:
        return subprocess.Popen([RAG, "index", str(corpus)], stdout=handle, stderr=subprocess.STDOUT)


def _kill_run(n: int, mode: KillMode, delay: float, target: int, corpus: Path, log: Path) -> tuple[KillRun, int]:
    index_dir = corpus / ".rag-index"
    before = set(os.listdir(index_dir))
    live_before = _live(index_dir)
    started = time.perf_counter()
    proc = _start_index(corpus, log)
    if mode == "time":
        wait_until(proc, lambda: time.perf_counter() - started >= delay)
    else:

        def trigger() -> bool:
            names = set(os.listdir(index_dir)) - before  # leftovers of killed runs are not this run's
            moved = any(name.startswith("gen-") for name in names)
            # "save" fires on the staging folder, or on its move if the poll missed it
            return moved or (mode == "save" and any(name.startswith(".tmp-") for name in names))

        wait_until(proc, trigger)
        time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        proc.kill()
    returncode = proc.wait()
    new = set(os.listdir(index_dir)) - before
    if not killed:
        stage = "had finished"
    elif _live(index_dir) != live_before:
        stage = "switched, old gen. not removed" if live_before and (index_dir / live_before).exists() else "switched and cleaned up"
    elif any(name.startswith("gen-") for name in new):
        stage = "new gen. in place, not live"
    elif any(name.startswith(".tmp-") for name in new):
        stage = "writing the new generation"
    else:
        stage = "before the save"
    run = KillRun(
        n=n,
        mode=mode,
        delay_ms=delay * 1000,
        target=target,
        killed=killed,
        stage=stage,
        leftovers=_leftovers(index_dir),
        state=None,
    )
    return run, returncode


def run_crash_test(work: Path, kills: int, articles: int, seed: int, encoder: Encoder, settings: Settings | None = None) -> CrashReport:
    settings = settings or Settings()
    rng = random.Random(seed)
    corpus, log = work / "corpus", work / "rag-index.log"
    index_dir = corpus / ".rag-index"

    # The two complete indexes: version 0 through the CLI (timing a whole run), version 1 in this process.
    write_corpus(corpus, articles, 0)
    started = time.perf_counter()
    if _start_index(corpus, log).wait() != 0:
        raise RuntimeError(f"`rag index` failed:\n{log.read_text()}")
    full_run_seconds = time.perf_counter() - started
    states = [index_state(corpus, encoder, settings)]
    write_corpus(corpus, articles, 1)
    pipeline = Pipeline(settings, corpus=corpus, encoder=encoder)
    pipeline.index()
    started = time.perf_counter()
    pipeline.store.save(pipeline.store.load())  # the same index again: times one save on this machine
    save_seconds = time.perf_counter() - started
    states.append(index_state(corpus, encoder, settings))

    current, runs = 1, []
    for n in range(1, kills + 1):
        target = 1 - current
        write_corpus(corpus, articles, target)
        mode = KILL_MODES[(n - 1) % len(KILL_MODES)]
        window = {"time": full_run_seconds, "save": save_seconds, "switch": SWITCH_WINDOW_SECONDS}[mode]
        run, returncode = _kill_run(n, mode, rng.uniform(0, window), target, corpus, log)
        if not run.killed and returncode != 0:
            run.error = f"`rag index` failed on its own: {log.read_text().strip().splitlines()[-1:]}"
        try:
            observed = index_state(corpus, encoder, settings)
        except Exception as exc:  # whatever it is, the run failed: record it and go on
            run.error = f"{type(exc).__name__}: {exc}"
        else:
            run.state = "before" if observed == states[current] else "after" if observed == states[target] else None
            if run.state is None:
                run.error = f"the index is neither version: {len(observed.articles)} articles, {observed.chunks} chunks, answer {observed.answer!r}"
        if run.state == "after":
            current = target
        runs.append(run)

    target = 1 - current
    write_corpus(corpus, articles, target)
    final_ok = _start_index(corpus, log).wait() == 0 and index_state(corpus, encoder, settings) == states[target]
    return CrashReport(
        seed=seed,
        articles=(len(states[0].articles), len(states[1].articles)),
        chunks=(states[0].chunks, states[1].chunks),
        full_run_seconds=full_run_seconds,
        save_seconds=save_seconds,
        runs=runs,
        final_state_ok=final_ok,
        final_leftovers=_leftovers(index_dir),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=24, help="runs killed (at least 20 for the issue's bar)")
    parser.add_argument("--articles", type=int, default=200, help="articles in the synthetic corpus")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None, help="folder for the corpus (default: a temporary one)")
    args = parser.parse_args(argv)
    settings = Settings()
    encoder = Encoder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="rag-crash-") as tmp:
        report = run_crash_test(args.work or Path(tmp), args.kills, args.articles, args.seed, encoder, settings)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
