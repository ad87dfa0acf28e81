"""Calibrate the span reader's confidence and choose its abstain threshold, on tuning articles only.

    python -m eval.calibrate_reader [--model rag/models/reader] [--questions 2500] [--absent 800]

The questions are those a user puts to the product, retrieved as the product retrieves:
- a fixed sample of the 19 SQuAD 2.0 dev articles outside the reported half, answerable and
  unanswerable (SQuAD 2.0's unanswerable questions are written against the very paragraph, to be
  near misses), asked over an index of those articles;
- `--absent` questions about articles that are not in that index at all, the commoner case of
  "the articles don't say": SQuAD v1.1 train questions the model was never trained on.

A logistic regression maps each candidate answer's features to whether it is right (its quoted
sentence holds a gold answer: the eval report's "right"). Two feature sets are compared by 5-fold
cross-validated log loss on the tuning questions, and the better one is kept:
- the span's margin over "no answer" and log(articles agreeing on it);
- those, plus the question's cosine with the quoted sentence (the index's pooled sentence vectors).
The threshold is the one that handles the most questions right while refusing at most
--max-false-abstain of the answerable ones. Writes calibration.json into the model folder.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import numpy as np

from eval.datasets import load_squad, sample
from eval.metrics import abstain_sweep, contains_answer
from eval.runner import GoldItem
from eval.train_reader import DATA, REPORT_HALF_FILE, TRAIN_FILE, TUNE_FILE, Recipe, question_sample, read_squad, tuning_articles
from rag.config import Settings, packaged_model_path
from rag.reader_model import SHIPPED_READER
from rag.span_reader import CALIBRATION_FILE, Calibration, SentenceSimilarity, SpanReader, agreeing, quoted_sentence

FEATURE_SETS = {"margin+support": 2, "margin+support+similarity": 3}


def candidate_rows(pipeline, reader: SpanReader, items: list[GoldItem], k: int) -> tuple[list[tuple[float, int, float]], list[int], list[int]]:
    """Per candidate answer: what its confidence is computed from, whether it is right, its question's number."""
    features, labels, question_of = [], [], []
    for number, item in enumerate(items):
        passages = pipeline.retrieve(item.question, k=k)
        for group in agreeing(reader.candidates(item.question, passages)).values():
            evidence = reader.evidence_features(item.question, passages, group)
            passage = passages[group[0].passage]
            start, end = quoted_sentence(passage, group[0].span_start, group[0].span_end)
            sentence = passage.chunk.text[start - passage.chunk.start : end - passage.chunk.start]
            features.append(evidence)
            labels.append(int(bool(item.answers) and contains_answer(sentence, item.answers) > 0))
            question_of.append(number)
    return features, labels, question_of


def absent_questions(data: Path, model: Path, count: int, seed: int) -> list[GoldItem]:
    """SQuAD v1.1 train questions the model never trained on; asked over the tuning index, where their
    articles are absent, they are unanswerable."""
    train = read_squad(data / TRAIN_FILE)
    recipe = json.loads((model / "training.json").read_text(encoding="utf-8"))["recipe"]
    seen = Recipe(questions=recipe.get("skip_questions", 0) + recipe["questions"], seed=recipe["seed"])
    flat = [(a, qa) for a in train for p in a["paragraphs"] for qa in p["qas"]]
    trained = set(question_sample(len(flat), seen))
    pool = [qa for n, (_, qa) in enumerate(flat) if n not in trained]
    chosen = random.Random(seed).sample(pool, min(count, len(pool)))
    return [GoldItem(id=f"absent-{qa['id']}", question=qa["question"], answers=[], doc=None) for qa in chosen]


def cv_log_loss(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 5) -> float:
    """Mean held-out log loss, split by question so a question's candidates are never on both sides."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    fold_of = groups % folds
    losses = []
    for fold in range(folds):
        test = fold_of == fold
        fitted = LogisticRegression(C=1.0).fit(x[~test], y[~test])
        losses.append(log_loss(y[test], fitted.predict_proba(x[test])[:, 1], labels=[0, 1]))
    return float(np.mean(losses))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=SHIPPED_READER)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=2500)
    parser.add_argument("--absent", type=int, default=800, help="questions about articles not in the index")
    parser.add_argument("--max-false-abstain", type=float, default=0.05, help="the trade-off: refuse at most this share of answerable questions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from sklearn.linear_model import LogisticRegression

    tune = read_squad(args.data / TUNE_FILE)
    titles = {a["title"] for a in tuning_articles(tune, read_squad(args.data / REPORT_HALF_FILE))}
    full = load_squad(args.data / TUNE_FILE)
    kept_groups = {group for group, article in enumerate(tune) if article["title"] in titles}
    bench = full.model_copy(
        update={
            "name": "squad-v2.0-tuning",
            "articles": [a for a in full.articles if a.path.rsplit("/", 1)[0] in titles],
            "items": [i for i, g in zip(full.items, full.groups) if g in kept_groups],
            "groups": [g for g in full.groups if g in kept_groups],
        }
    )
    items = sample(bench.items, args.questions, args.seed) + absent_questions(args.data, Path(args.model), args.absent, args.seed)
    settings = Settings()
    pipeline = bench.pipeline(settings, progress=True)
    similarity = SentenceSimilarity(pipeline.loaded().data, pipeline.encoder)
    reader = SpanReader(args.model, packaged_model_path(), threshold=0.0, similarity=similarity)
    features, labels, question_of = candidate_rows(pipeline, reader, items, settings.k)
    # The columns Calibration weighs: margin, log(articles agreeing), similarity.
    all_x = np.array([[margin, math.log(support), similarity] for margin, support, similarity in features])
    y, groups = np.array(labels), np.array(question_of)
    compared = {name: round(cv_log_loss(all_x[:, :width], y, groups), 4) for name, width in FEATURE_SETS.items()}
    chosen_set = min(compared, key=compared.get)
    width = FEATURE_SETS[chosen_set]
    fitted = LogisticRegression(C=1.0).fit(all_x[:, :width], y)
    weights = list(fitted.coef_[0]) + [0.0] * (3 - width)
    calibration = Calibration(
        margin_weight=float(weights[0]), support_weight=float(weights[1]), similarity_weight=float(weights[2]), bias=float(fitted.intercept_[0])
    )
    # Each question's answer is its most confident candidate; the sweep chooses the threshold.
    best: dict[int, tuple[float, int]] = {}
    for evidence, label, number in zip(features, labels, question_of):
        confidence = calibration.confidence(*evidence)
        if confidence > best.get(number, (-1.0, 0))[0]:
            best[number] = (confidence, label)
    scores = [best.get(n, (0.0, 0))[0] for n in range(len(items))]
    correct = [best.get(n, (0.0, 0))[1] for n in range(len(items))]
    answerable = [bool(item.answers) for item in items]
    sweep = abstain_sweep(scores, answerable, correct, [t / 100 for t in range(0, 100)])
    allowed = [s for s in sweep if s["false_abstain_rate"] <= args.max_false_abstain] or sweep[:1]
    chosen = max(allowed, key=lambda s: (s["handled_right"], -s["threshold"]))
    calibration.threshold = chosen["threshold"]
    absent = sum(item.id.startswith("absent-") for item in items)
    record = {
        **calibration.model_dump(),
        "features": chosen_set,
        "cv_log_loss": compared,
        "fitted_on": f"{len(items)} questions: {len(items) - absent} of the {len(titles)} SQuAD 2.0 dev tuning articles "
        f"({sum(answerable)} answerable) and {absent} about articles not in the index; {len(labels)} candidate answers, seed {args.seed}",
        "chosen": chosen,
        "never_abstaining": sweep[0],
        "rule": f"most handled right with false_abstain_rate <= {args.max_false_abstain}",
    }
    (Path(args.model) / CALIBRATION_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
