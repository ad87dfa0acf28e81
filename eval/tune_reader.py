"""Tuning of the built-in reader: feature weights on SQuAD, confidence and abstain threshold on SQuAD 2.0.

Retrieval and sentence features do not depend on the weights, so they are computed once per
question; every weight combination is then scored in memory.

1. Weights: the grid is ranked by how often the best sentence holds a gold answer on SQuAD v1.1's
   first 24 articles (tuning); the other 24 (held out) and the seed gold are shown beside it.
2. Confidence: slope and midpoint of the logistic curve fitted (maximum likelihood) so that the
   confidence is the chance that the sentence holds a gold answer, on the SQuAD 2.0 half, where
   half the questions have no answer.
3. Threshold: swept on the SQuAD 2.0 half for the most questions handled right; checked on the seeds.

    python -m eval.tune_reader --limit 1000
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np

from eval.datasets import load_squad
from eval.metrics import abstain_sweep, contains_answer
from eval.runner import GoldItem, read_gold
from rag.config import ReaderWeights, Settings
from rag.pipeline import Pipeline
from rag.query.reader import SentenceFeatures, SentenceReader, raw_score

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
GRID = {
    "semantic": [0.3, 0.45, 0.6, 0.8],
    "lexical": [0.25, 0.4, 0.55, 0.7],
    "answer_type": [0.05, 0.1, 0.2, 0.3],
    "passage_rank": [0.0, 0.05, 0.1, 0.2],
}

Row = tuple[GoldItem, list, list[SentenceFeatures]]


def collect(pipeline: Pipeline, gold: list[GoldItem]) -> list[Row]:
    reader = pipeline.loaded().reader
    if not isinstance(reader, SentenceReader):
        raise SystemExit("tuning applies to the built-in reader only")
    rows = []
    for item in gold:
        passages = pipeline.retrieve(item.question)
        rows.append((item, passages, reader.features(item.question, passages)))
    return rows


def best_sentences(rows: list[Row], weights: ReaderWeights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per question: the raw score of the best sentence, whether the question is answerable, whether that sentence holds a gold answer."""
    scores, answerable, right = [], [], []
    for item, passages, features in rows:
        shown, best_score = "", 0.0
        if features:
            # The reader's order: highest score, then earliest passage and position.
            best_score, best = max(((raw_score(f, weights), f) for f in features), key=lambda x: (x[0], -x[1].passage, -x[1].start))
            chunk = passages[best.passage].chunk
            shown = chunk.slice(best.start, best.end)
        scores.append(best_score)
        answerable.append(bool(item.answers))
        right.append(contains_answer(shown, item.answers) if item.answers else 0.0)
    return np.array(scores), np.array(answerable), np.array(right)


def fit_confidence(raw: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """Slope and midpoint of P(right) = sigmoid(slope * (raw - midpoint)), by Newton's method on the log loss."""
    a, b = 1.0, 0.0  # P = sigmoid(a * raw + b)
    x = np.stack([raw, np.ones_like(raw)], axis=1)
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ np.array([a, b]))))
        gradient = x.T @ (p - right)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-9 * np.eye(2)
        a, b = np.array([a, b]) - np.linalg.solve(hessian, gradient)
    return float(a), float(-b / a)


def seeds_at(rows: list[Row], weights: ReaderWeights, threshold: float) -> dict[str, float]:
    scores, answerable, right = best_sentences(rows, weights)
    confidence = 1 / (1 + np.exp(-weights.slope * (scores - weights.midpoint)))
    [at] = abstain_sweep(confidence.tolist(), answerable.tolist(), right.tolist(), [threshold])
    found = confidence >= threshold
    at["contains_answer"] = float(np.mean(right[answerable] * found[answerable]))
    return at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path, default=DATA / "squad-v1.1-dev" / "dev-v1.1.json")
    parser.add_argument("--squad2", type=Path, default=DATA / "squad-v2.0-dev-half" / "dev-v2.0-cs224n-half.json")
    parser.add_argument("--seeds", type=Path, default=ROOT / "eval" / "gold" / "seeds.jsonl")
    parser.add_argument("--limit", type=int, default=1000, help="questions sampled from each SQuAD split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    settings = Settings()
    squad, squad2 = load_squad(args.squad), load_squad(args.squad2)
    squad_pipeline, squad2_pipeline = squad.pipeline(settings, progress=True), squad2.pipeline(settings, progress=True)
    seeds_pipeline = Pipeline(settings, corpus=ROOT / "seeds", encoder=squad_pipeline.encoder)
    seeds_pipeline.ensure_index()
    splits = {
        "tune 0:24": collect(squad_pipeline, squad.select((0, 24), args.limit, args.seed)),
        "held out 24:48": collect(squad_pipeline, squad.select((24, 48), args.limit, args.seed)),
    }
    squad2_rows = collect(squad2_pipeline, squad2.select(None, args.limit, args.seed))
    seeds_rows = collect(seeds_pipeline, read_gold(args.seeds))
    print(f"features collected, load {os.getloadavg()}", flush=True)

    def contains(rows: list[Row], weights: ReaderWeights) -> float:
        _, answerable, right = best_sentences(rows, weights)
        return float(right[answerable].mean())

    base = settings.reader_weights
    ranked = []
    for values in itertools.product(*GRID.values()):
        weights = base.model_copy(update=dict(zip(GRID, values)))
        ranked.append((contains(splits["tune 0:24"], weights), weights))
    ranked.sort(key=lambda r: -r[0])
    print("| weights (semantic, lexical, answer_type, passage_rank) | " + " | ".join(f"contains {s}" for s in splits) + " | seeds contains (no abstention) |")
    print("|---|---|---|---|")
    for label, weights in [("current", base)] + [(None, w) for _, w in ranked[: args.top]]:
        cells = [contains(rows, weights) for rows in splits.values()] + [contains(seeds_rows, weights)]
        name = label or ", ".join(str(getattr(weights, k)) for k in GRID)
        print(f"| {name} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    best = ranked[0][1]
    raw, answerable, right = best_sentences(squad2_rows, best)
    slope, midpoint = fit_confidence(raw, right)
    calibrated = best.model_copy(update={"slope": round(slope, 2), "midpoint": round(midpoint, 3)})
    confidence = 1 / (1 + np.exp(-calibrated.slope * (raw - calibrated.midpoint)))
    sweep = abstain_sweep(confidence.tolist(), answerable.tolist(), right.tolist(), np.round(np.arange(0, 1.0001, 0.01), 2))
    chosen = max(sweep, key=lambda s: (s["handled_right"], -s["threshold"]))
    print(f"\nconfidence fitted on the SQuAD 2.0 half: slope {calibrated.slope}, midpoint {calibrated.midpoint}")
    print(f"never abstaining: {sweep[0]}")
    print(f"chosen threshold: {chosen}")
    print(f"seeds at that threshold: {seeds_at(seeds_rows, calibrated, chosen['threshold'])}")
    for threshold in (0.3, 0.4, 0.5, 0.6):
        squad_row = next(s for s in sweep if s["threshold"] == threshold)
        print(f"  threshold {threshold}: SQuAD 2.0 {squad_row}; seeds {seeds_at(seeds_rows, calibrated, threshold)}")


if __name__ == "__main__":
    main()
