"""What the answer-type check (spaCy on the question and the quoted sentences) adds to a question.

    python -m eval.bench_answer_type [--corpus DIR] [--gold FILE] [--rounds 3]

Asks the gold questions over the corpus with two readers on one loaded index, in the same process and
interleaved (question by question, the order alternating), so both see the same machine: the shipped
reader with its calibration (which checks the answer type) and the same weights with the check off
(a calibration without the type and names features). Each question's caches (the encoder's question
cache, the check's own) are cleared before each ask, so every timing is a question asked for the first time.
Prints p50/p95 of the whole answer for each, the spaCy load time, and the machine's load; appends
the record to eval/.cache/benchmarks.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from eval.metrics import percentile
from eval.runner import read_gold
from eval.train_reader import CACHE, DATA
from rag.config import Settings
from rag.embedding import Encoder
from rag.pipeline import Pipeline
from rag.query.answer_type import AnswerTypeCheck
from rag.query.reader_model import SHIPPED_READER
from rag.query.span_reader import CALIBRATION_FILE, SpanReader, read_calibration


def reader_without_check(folder: Path) -> Path:
    """A copy of the shipped reader folder whose calibration has no answer-type feature or rule."""
    shutil.copytree(SHIPPED_READER, folder)
    calibration = read_calibration(SHIPPED_READER).model_copy(update={"type_weight": 0.0, "names_weight": 0.0, "wrong_type_refused": False})
    (folder / CALIBRATION_FILE).write_text(calibration.model_dump_json(), encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DATA / "reuters-dev" / "corpus")
    parser.add_argument("--gold", type=Path, default=DATA / "reuters-dev" / "gold.jsonl")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=CACHE / "benchmarks.jsonl")
    args = parser.parse_args(argv)
    questions = [item.question for item in read_gold(args.gold)]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch:
        index = CACHE / f"{args.corpus.parent.name}-{args.corpus.name}-index"
        encoder = Encoder.from_settings(Settings())  # one encoder, its question cache cleared before each ask
        without = Settings(reader_model_path=reader_without_check(Path(scratch) / "reader"))
        pipelines = {
            "with the check (shipped)": Pipeline(Settings(), corpus=args.corpus, index_path=index, encoder=encoder),
            "without it": Pipeline(without, corpus=args.corpus, index_path=index, encoder=encoder),
        }
        for pipeline in pipelines.values():
            pipeline.ensure_index()
            pipeline.load_models()
        checked = pipelines["with the check (shipped)"].loaded().reader
        assert isinstance(checked, SpanReader) and checked.answer_types is not None, "the shipped calibration does not check the answer type"
        started = time.perf_counter()
        AnswerTypeCheck().load()  # a second, fresh load: the cold cost a first question pays
        spacy_load = time.perf_counter() - started
        timings: dict[str, list[float]] = {name: [] for name in pipelines}
        for round_ in range(args.rounds):
            for number, question in enumerate(questions):
                order = list(pipelines) if (number + round_) % 2 == 0 else list(pipelines)[::-1]
                for name in order:
                    pipeline = pipelines[name]
                    reader = pipeline.loaded().reader
                    if isinstance(reader, SpanReader) and reader.answer_types is not None:
                        reader.answer_types = AnswerTypeCheck(reader.answer_types.tagger)  # empty caches, loaded model
                    encoder.encode_query.cache_clear()
                    tick = time.perf_counter()
                    pipeline.ask(question)
                    timings[name].append((time.perf_counter() - tick) * 1000)
    record = {
        "benchmark": "answer_type",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()},
        "questions": len(questions),
        "rounds": args.rounds,
        "corpus": str(args.corpus),
        "spacy_load_s": round(spacy_load, 2),
        "answer_ms": {name: {"p50": round(percentile(t, 50), 1), "p95": round(percentile(t, 95), 1)} for name, t in timings.items()},
    }
    print(json.dumps(record, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
