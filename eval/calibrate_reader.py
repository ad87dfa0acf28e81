"""Calibrate the span reader's confidence and choose its abstain threshold, on tuning articles only.

    python -m eval.calibrate_reader [--model rag/models/reader] [--questions 2500]

Asks a fixed sample of questions from the 19 SQuAD 2.0 dev articles outside the reported half
(answerable and unanswerable, retrieved over those articles as the product retrieves), and fits a
logistic regression from each candidate answer's margin over "no answer" and the number of
articles agreeing on it to whether it is right: its quoted sentence holds a gold answer, the same
"right" as the eval report's calibration plot and "handled right". The threshold is the one that
handles the most questions right while refusing at most --max-false-abstain of the answerable ones.
Writes calibration.json into the model folder.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from eval.datasets import load_squad, sample
from eval.metrics import abstain_sweep, contains_answer
from eval.train_reader import DATA, REPORT_HALF_FILE, TUNE_FILE, read_squad, tuning_articles
from rag.config import Settings, packaged_model_path
from rag.reader_model import SHIPPED_READER
from rag.span_reader import CALIBRATION_FILE, Calibration, SpanReader, agreeing, quoted_sentence


def candidate_rows(pipeline, reader: SpanReader, items, k: int) -> tuple[list[list[float]], list[int], list[int]]:
    """Per candidate answer: [margin, log(articles agreeing)], whether it is right, and its question's number."""
    features, labels, question_of = [], [], []
    for number, item in enumerate(items):
        passages = pipeline.retrieve(item.question, k=k)
        for group in agreeing(reader.candidates(item.question, passages)).values():
            best = group[0]
            passage = passages[best.passage]
            start, end = quoted_sentence(passage, best.span_start, best.span_end)
            sentence = passage.chunk.text[start - passage.chunk.start : end - passage.chunk.start]
            support = len({passages[c.passage].article.id for c in group})
            features.append([best.margin, math.log(support)])
            labels.append(int(bool(item.answers) and contains_answer(sentence, item.answers) > 0))
            question_of.append(number)
    return features, labels, question_of


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=SHIPPED_READER)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=2500)
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
    items = sample(bench.items, args.questions, args.seed)
    settings = Settings()
    pipeline = bench.pipeline(settings, progress=True)
    reader = SpanReader(args.model, packaged_model_path(), threshold=0.0)
    features, labels, question_of = candidate_rows(pipeline, reader, items, settings.k)
    x, y = np.array(features), np.array(labels)
    fitted = LogisticRegression(C=1.0).fit(x, y)
    calibration = Calibration(
        margin_weight=float(fitted.coef_[0][0]), support_weight=float(fitted.coef_[0][1]), bias=float(fitted.intercept_[0])
    )
    # Each question's answer is its most confident candidate; the sweep chooses the threshold.
    best: dict[int, tuple[float, int]] = {}
    for (margin, log_support), label, number in zip(features, labels, question_of):
        confidence = calibration.confidence(margin, round(math.exp(log_support)))
        if confidence > best.get(number, (-1.0, 0))[0]:
            best[number] = (confidence, label)
    scores = [best.get(n, (0.0, 0))[0] for n in range(len(items))]
    correct = [best.get(n, (0.0, 0))[1] for n in range(len(items))]
    answerable = [bool(item.answers) for item in items]
    sweep = abstain_sweep(scores, answerable, correct, [t / 100 for t in range(0, 100)])
    allowed = [s for s in sweep if s["false_abstain_rate"] <= args.max_false_abstain] or sweep[:1]
    chosen = max(allowed, key=lambda s: (s["handled_right"], -s["threshold"]))
    calibration.threshold = chosen["threshold"]
    never = sweep[0]
    record = {
        **calibration.model_dump(),
        "fitted_on": f"{len(items)} questions of the {len(titles)} SQuAD 2.0 dev tuning articles "
        f"({sum(answerable)} answerable), {len(labels)} candidate answers, seed {args.seed}",
        "chosen": chosen,
        "never_abstaining": never,
        "rule": f"most handled right with false_abstain_rate <= {args.max_false_abstain}",
    }
    (Path(args.model) / CALIBRATION_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
