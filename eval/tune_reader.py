"""Grid search of the built-in reader's weights on a gold file.

Features are computed once per question (retrieval and sentence features do not depend on the
weights), then every weight combination is scored in memory. Prints the best combinations by
balanced score = mean(contains_answer, abstain_accuracy, 1 - false_abstain_rate).

    python -m eval.tune_reader --corpus seeds --gold eval/gold/seeds.jsonl
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from eval.metrics import contains_answer
from eval.runner import GoldItem, read_gold
from rag.config import ReaderWeights, Settings
from rag.pipeline import Pipeline
from rag.reader import SentenceReader, score_sentences

GRID = {
    "semantic": [0.3, 0.45, 0.6],
    "lexical": [0.25, 0.4, 0.55],
    "answer_type": [0.05, 0.1, 0.2],
    "midpoint": [0.35, 0.4, 0.45, 0.5],
}


def collect(pipeline: Pipeline, gold: list[GoldItem]):
    pipeline.ensure_index()
    loaded = pipeline._reload_if_changed()
    reader = loaded.reader
    if not isinstance(reader, SentenceReader):
        raise SystemExit("tuning applies to the built-in reader only")
    rows = []
    for item in gold:
        passages = pipeline.retrieve(item.question)
        rows.append((item, passages, reader.features(item.question, passages)))
    return rows


def evaluate(rows, weights: ReaderWeights, threshold: float) -> dict[str, float]:
    contains, abstain, false_abstain = [], [], []
    for item, passages, features in rows:
        reading = score_sentences(features, weights, threshold)
        if item.answers:
            false_abstain.append(float(not reading.found))
            if reading.found:
                best = reading.evidence[0]
                chunk = passages[best.passage].chunk
                shown = chunk.text[best.start - chunk.start : best.end - chunk.start]
                contains.append(contains_answer(shown, item.answers))
            else:
                contains.append(0.0)
        else:
            abstain.append(float(not reading.found))

    def mean(values):
        return sum(values) / len(values) if values else 0.0

    result = {
        "contains_answer": mean(contains),
        "abstain_accuracy": mean(abstain) if abstain else 1.0,
        "false_abstain_rate": mean(false_abstain),
    }
    result["balanced"] = (result["contains_answer"] + result["abstain_accuracy"] + 1 - result["false_abstain_rate"]) / 3
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("seeds"))
    parser.add_argument("--gold", type=Path, required=True)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    settings = Settings()
    rows = collect(Pipeline(settings, corpus=args.corpus), read_gold(args.gold))
    base = settings.reader_weights
    results = []
    for values in itertools.product(*GRID.values()):
        weights = base.model_copy(update=dict(zip(GRID, values)))
        results.append((evaluate(rows, weights, settings.abstain_threshold), weights))
    results.sort(key=lambda r: -r[0]["balanced"])
    current = evaluate(rows, base, settings.abstain_threshold)
    print(f"current {base.model_dump()}: {current}")
    for metrics, weights in results[: args.top]:
        print({k: round(v, 3) for k, v in metrics.items()}, {k: getattr(weights, k) for k in GRID})


if __name__ == "__main__":
    main()
