"""Calibrate the span reader's confidence and choose its abstain threshold, on tuning articles only.

    python -m eval.calibrate_reader [--model rag/models/reader] [--questions 2500] [--absent 800]

The questions are those a user puts to the product, retrieved as the product retrieves, in two
tuning sets that share no article with anything we report on:
- SQuAD: a fixed sample of the questions of the 19 SQuAD 2.0 dev articles outside the reported half
  that the model did not train on (training.json's abstention_training_articles), answerable and
  unanswerable (SQuAD 2.0's unanswerable questions are written against the very paragraph, to be
  near misses), asked over an index of those articles; plus `--absent` questions about articles
  that are not in that index at all, the commoner case of "the articles don't say": SQuAD v1.1
  train questions the model was never trained on.
- news: eval/gold/news-tuning.jsonl over eval/gold/news-tuning/, news stories written for tuning
  only (wire copy, a hard-wrapped one, a briefing with pull quotes), with questions phrased as a
  reader would, unanswerable ones about the same stories among them. A model trained on
  Wikipedia reads news with smaller margins; without this set the threshold fitted on SQuAD
  refuses a third of answerable news questions.

A logistic regression maps the features of every candidate answer (each passage's best span, equal
answers from several passages as one) to whether it is right (its quoted sentence holds a gold
answer: the eval report's "right"); the product shows a question's most confident candidate, so the
confidence must rank a question's candidates as well as score the one shown. Within a set every
question weighs the same, split over its candidates; each set carries `--news-weight` and 1 - that
of the total weight: the two differ in how often an answer is right at the same margin, and a
product that reads news should be calibrated on news at least as much as on Wikipedia. Candidate
feature sets (the span's margin over "no answer"; log of the articles agreeing on it; the
question's cosine with the quoted sentence, from the index's pooled sentence vectors; the retrieval
rank of the best passage giving it; the share of the question's idf its article holds) are compared by 5-fold cross-validated log loss (folds by
question) and the best kept; a fit that would let agreement lower the confidence is refused.
The threshold handles the most questions right (the sets' weighted mean) while refusing at most
--max-false-abstain of each set's answerable questions. Writes calibration.json into the model folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import rag.index.chunking
import rag.query.span_reader
import rag.query.spans
from eval.datasets import load_squad, sample
from eval.metrics import abstain_sweep, contains_answer
from eval.runner import GoldItem, read_gold
from eval.train_reader import (
    CACHE,
    DATA,
    REPORT_HALF_FILE,
    TRAIN_FILE,
    TUNE_FILE,
    Recipe,
    abstention_trained,
    question_sample,
    read_squad,
    tuning_articles,
)
from rag.config import Settings
from rag.pipeline import Pipeline
from rag.query.reader_model import SHIPPED_READER
from rag.query.span_reader import CALIBRATION_FILE, AnswerFeatures, Calibration, SpanReader, agreeing, quoted_sentence

# Columns of AnswerFeatures (margin, articles agreeing, similarity, retrieval rank, coverage) each
# candidate calibration weighs.
FEATURE_SETS = {
    "margin": [0],
    "margin+rank": [0, 3],
    "margin+support": [0, 1],
    "margin+similarity": [0, 2],
    "margin+similarity+rank": [0, 2, 3],
    "margin+support+similarity": [0, 1, 2],
    "margin+support+similarity+rank": [0, 1, 2, 3],
    "margin+coverage": [0, 4],
    "margin+rank+coverage": [0, 3, 4],
    "margin+similarity+rank+coverage": [0, 2, 3, 4],
    "margin+support+rank+coverage": [0, 1, 3, 4],
}
NEWS_TUNING_GOLD = Path(__file__).resolve().parent / "gold" / "news-tuning.jsonl"
THRESHOLDS = [t / 200 for t in range(0, 200)]


@dataclass
class TuningSet:
    """One set's candidate answers: features, whether each is right, its question; and the questions."""

    name: str
    items: list[GoldItem]
    features: list[AnswerFeatures]
    labels: list[int]
    question_of: list[int]

    def weights(self, share: float) -> np.ndarray:
        """Per candidate: the set's share split evenly over its questions, a question's over its candidates."""
        counts = np.bincount(self.question_of, minlength=len(self.items))
        per_question = share / max(int((counts > 0).sum()), 1)
        return np.array([per_question / counts[number] for number in self.question_of])

    def sweep(self, calibration: Calibration) -> list[dict[str, float]]:
        """Each question's answer is its most confident candidate; what every threshold would give."""
        best: dict[int, tuple[float, int]] = {}
        for evidence, label, number in zip(self.features, self.labels, self.question_of):
            confidence = calibration.confidence(evidence)
            if confidence > best.get(number, (-1.0, 0))[0]:
                best[number] = (confidence, label)
        scores = [best.get(n, (0.0, 0))[0] for n in range(len(self.items))]
        correct = [best.get(n, (0.0, 0))[1] for n in range(len(self.items))]
        return abstain_sweep(scores, [bool(item.answers) for item in self.items], correct, THRESHOLDS)


def tuning_set(name: str, pipeline: Pipeline, model: Path, items: list[GoldItem], k: int) -> TuningSet:
    """Every candidate answer the reader gives the items' questions over the pipeline's index.

    Reading thousands of questions takes a quarter of an hour on two cores, so the candidates are kept
    in eval/.cache under a key of the model's weights, the reading code, the questions and k: a refit
    reuses them."""
    key = hashlib.sha256((model / "model.safetensors").read_bytes())
    for module in (rag.query.span_reader, rag.query.spans, rag.index.chunking):
        key.update(Path(str(module.__file__)).read_bytes())
    key.update(json.dumps([k, name, [(i.id, i.question, i.answers) for i in items]]).encode())
    cached = CACHE / f"calibration-candidates-{key.hexdigest()[:16]}.json"
    if cached.is_file():
        saved = json.loads(cached.read_text(encoding="utf-8"))
        return TuningSet(name, items, [AnswerFeatures(*f) for f in saved["features"]], saved["labels"], saved["question_of"])
    found = read_candidates(pipeline, items, k)
    cached.write_text(json.dumps({"features": found[0], "labels": found[1], "question_of": found[2]}), encoding="utf-8")
    return TuningSet(name, items, *found)


def read_candidates(pipeline: Pipeline, items: list[GoldItem], k: int) -> tuple[list[AnswerFeatures], list[int], list[int]]:
    """Per candidate answer: what its confidence is computed from, whether it is right, its question's number."""
    reader = pipeline.loaded().reader  # the product's, reading `model` (the settings' reader_model_path)
    if not isinstance(reader, SpanReader):
        raise SystemExit("calibration reads with the span reader: unset RAG_READER")
    features, labels, question_of = [], [], []
    for number, item in enumerate(items):
        passages = pipeline.retrieve(item.question, k=k)
        for group in agreeing(reader.candidates(item.question, passages)).values():
            passage = passages[group[0].passage]
            start, end = quoted_sentence(passage, group[0].span_start, group[0].span_end)
            sentence = passage.chunk.slice(start, end)
            features.append(reader.evidence_features(item.question, passages, group))
            labels.append(int(bool(item.answers) and contains_answer(sentence, item.answers) > 0))
            question_of.append(number)
    return features, labels, question_of


def squad_set(args: argparse.Namespace, settings: Settings) -> TuningSet:
    """SQuAD 2.0 tuning-article questions over their index, plus questions about absent articles."""
    tune = read_squad(args.data / TUNE_FILE)
    # Tuning articles the model trained abstention on are no tuning data for it any more.
    trained = abstention_trained(args.model)
    titles = {a["title"] for a in tuning_articles(tune, read_squad(args.data / REPORT_HALF_FILE))} - trained
    full = load_squad(args.data / TUNE_FILE)
    kept_groups = {group for group, article in enumerate(tune) if article["title"] in titles}
    bench = full.model_copy(
        update={
            "name": "squad-v2.0-tuning" + (f"-without-{len(trained)}-trained" if trained else ""),
            "articles": [a for a in full.articles if a.path.rsplit("/", 1)[0] in titles],
            "items": [i for i, g in zip(full.items, full.groups) if g in kept_groups],
            "groups": [g for g in full.groups if g in kept_groups],
        }
    )
    items = sample(bench.items, args.questions, args.seed) + absent_questions(args.data, Path(args.model), args.absent, args.seed)
    absent = sum(item.id.startswith("absent-") for item in items)
    name = (
        f"squad: {len(items) - absent} questions of the {len(titles)} SQuAD 2.0 dev tuning articles "
        f"({sum(bool(i.answers) for i in items)} answerable) and {absent} about articles not in the index, seed {args.seed}"
    )
    return tuning_set(name, bench.pipeline(settings, progress=True), Path(args.model), items, settings.k)


def news_set(gold: Path, model: Path, settings: Settings) -> TuningSet:
    """The news tuning questions over their own folder of stories (gold file name without .jsonl)."""
    corpus = gold.with_suffix("")
    pipeline = Pipeline(settings, corpus=corpus, index_path=CACHE / f"{corpus.name}-index")
    pipeline.ensure_index()
    items = read_gold(gold)
    name = f"news: {len(items)} questions ({sum(bool(i.answers) for i in items)} answerable) over the {corpus.name} stories"
    return tuning_set(name, pipeline, model, items, settings.k)


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


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray, columns: list[int]) -> Calibration | None:
    """A logistic calibration on these columns; None when it would let agreement lower the confidence
    (the product's rule: an answer that several articles give is no less likely right)."""
    from sklearn.linear_model import LogisticRegression

    design = np.column_stack([x[:, 0], np.log(x[:, 1]), x[:, 2], x[:, 3], x[:, 4]])  # the columns Calibration weighs
    fitted = LogisticRegression(C=1.0).fit(design[:, columns], y, sample_weight=weights)
    coefficients = [0.0] * 5
    for column, weight in zip(columns, fitted.coef_[0]):
        coefficients[column] = float(weight)
    if coefficients[1] < 0:
        return None
    return Calibration(
        margin_weight=coefficients[0],
        support_weight=coefficients[1],
        similarity_weight=coefficients[2],
        rank_weight=coefficients[3],
        coverage_weight=coefficients[4],
        bias=float(fitted.intercept_[0]),
    )


def cv_log_loss(x: np.ndarray, y: np.ndarray, weights: np.ndarray, groups: np.ndarray, columns: list[int], folds: int = 5) -> float | None:
    """Mean held-out weighted log loss of a fit on these columns, folds by question (a question's
    candidates stay together); None if a fold's fit is refused."""
    from sklearn.metrics import log_loss

    fold_of = groups % folds
    losses = []
    for fold in range(folds):
        test = fold_of == fold
        calibration = fit(x[~test], y[~test], weights[~test], columns)
        if calibration is None:
            return None
        predicted = [calibration.confidence(AnswerFeatures(*evidence)) for evidence in x[test]]
        losses.append(log_loss(y[test], predicted, sample_weight=weights[test], labels=[0, 1]))
    return float(np.mean(losses))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=SHIPPED_READER)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--questions", type=int, default=2500)
    parser.add_argument("--absent", type=int, default=800, help="questions about articles not in the index")
    parser.add_argument("--news", type=Path, default=NEWS_TUNING_GOLD, help="news tuning gold file; its stories are the folder of the same name")
    parser.add_argument("--news-weight", type=float, default=0.5, help="the news questions' share of the fit and of the threshold's score")
    parser.add_argument("--max-false-abstain", type=float, default=0.05, help="the trade-off: refuse at most this share of each set's answerable questions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    settings = Settings(reader="span", reader_model_path=args.model)
    sets = [squad_set(args, settings), news_set(args.news, Path(args.model), settings)]
    shares = [1.0 - args.news_weight, args.news_weight]
    # Every candidate answer is a row: the product shows the most confident one, so the calibration must
    # rank a question's candidates as well as score the one shown.
    x = np.concatenate([np.array(s.features, dtype=float) for s in sets])
    y = np.concatenate([s.labels for s in sets])
    groups = np.concatenate([np.array(s.question_of) + sum(len(t.items) for t in sets[:n]) for n, s in enumerate(sets)])
    weights = np.concatenate([s.weights(share) for s, share in zip(sets, shares)]) * len(y)  # mean 1, so C keeps its usual strength
    losses = {name: cv_log_loss(x, y, weights, groups, columns) for name, columns in FEATURE_SETS.items()}
    compared = {name: round(loss, 4) for name, loss in losses.items() if loss is not None}
    chosen_set = min(compared, key=lambda name: compared[name])
    calibration = fit(x, y, weights, FEATURE_SETS[chosen_set])
    if calibration is None:
        raise SystemExit(f"the fit on {chosen_set} lets agreement lower the confidence: no calibration written")
    sweeps = [s.sweep(calibration) for s in sets]
    allowed = [n for n in range(len(THRESHOLDS)) if all(sweep[n]["false_abstain_rate"] <= args.max_false_abstain for sweep in sweeps)] or [0]
    chosen = max(allowed, key=lambda n: (sum(share * sweep[n]["handled_right"] for share, sweep in zip(shares, sweeps)), -n))
    calibration.threshold = THRESHOLDS[chosen]
    record = {
        **calibration.model_dump(),
        "features": chosen_set,
        "cv_log_loss": compared,
        "fitted_on": [
            f"{s.name} (weight {share}); fitted on its {len(s.labels)} candidate answers, each question weighing the same" for s, share in zip(sets, shares)
        ],
        "chosen": {s.name.split(":")[0]: sweep[chosen] for s, sweep in zip(sets, sweeps)},
        "never_abstaining": {s.name.split(":")[0]: sweep[0] for s, sweep in zip(sets, sweeps)},
        "rule": f"most handled right (the sets' weighted mean) with each set's false_abstain_rate <= {args.max_false_abstain}",
    }
    (Path(args.model) / CALIBRATION_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
