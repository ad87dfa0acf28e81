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
of the total weight. Candidate feature sets (the span's margin over "no answer"; log of the articles
agreeing on it; the question's cosine with the quoted sentence; the retrieval rank of the best
passage giving it; the share of the question's idf the quoted sentence and headline hold; whether the
span is the kind of thing asked for; whether its article names what the question names, the last
two from spaCy: rag/query/answer_type.py) are compared by 5-fold cross-validated log loss (folds by
question) and the best kept (the fewest features within LOSS_TIE); a fit that would let agreement
lower the confidence is refused.

The threshold is chosen on the judging sets: the SQuAD set above and real news, the `da…` (tuning)
half of ../shared/data/reuters-dev (its factoid and unanswerable questions; the `db…` half is
reported on, never tuned on). The trade-off, stated: a wrong bold answer costs a journalist twice
what a needless "not found" costs (it still shows the nearest passages), so the threshold of least
2 x wrong answers shown + 1 x needless refusals is chosen, among those refusing at most
--max-false-abstain of each judging set's answerable questions. Whether a span plainly of the wrong
type is refused outright is decided the same way. Writes calibration.json into the model folder.
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
import rag.query.answer_type
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
from rag.query.answer_type import AnswerTypeCheck
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
    "margin+rank+coverage+type": [0, 3, 4, 5],
    "margin+rank+coverage+names": [0, 3, 4, 6],
    "margin+rank+coverage+type+names": [0, 3, 4, 5, 6],
    "margin+similarity+rank+coverage+type+names": [0, 2, 3, 4, 5, 6],
}
# Features that need spaCy (rag/query/answer_type.py): the product loads it only for a calibration using them.
SPACY_COLUMNS = {5, 6}
NEWS_TUNING_GOLD = Path(__file__).resolve().parent / "gold" / "news-tuning.jsonl"
REUTERS_DEV = DATA / "reuters-dev"
# The stated trade-off: a wrong bold answer costs a journalist twice what a needless "not found" (which
# still shows the related passages) costs.
WRONG_ANSWER_COST = 2.0
LOSS_TIE = 0.002
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
    for module in (rag.query.span_reader, rag.query.spans, rag.query.answer_type, rag.index.chunking):
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
    if reader.answer_types is None:  # the product checks answer types only once a calibration weighs them
        reader.answer_types = AnswerTypeCheck()
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


def news_set(gold: Path, model: Path, settings: Settings, corpus: Path | None = None, prefix: str = "", kinds: set[str] | None = None) -> TuningSet:
    """News questions over their folder of stories (by default the gold file's name without .jsonl), those
    whose id starts with `prefix` and, when the gold file has kinds, of `kinds` only. The index goes to
    eval/.cache: the stories' folder may be read-only."""
    corpus = corpus or gold.with_suffix("")
    pipeline = Pipeline(settings, corpus=corpus, index_path=CACHE / f"{corpus.parent.name}-{corpus.name}-index")
    pipeline.ensure_index()
    items = [i for i in read_gold(gold) if i.id.startswith(prefix) and (kinds is None or i.kind is None or i.kind in kinds)]
    name = f"news: {len(items)} questions ({sum(bool(i.answers) for i in items)} answerable) over the {corpus.parent.name}/{corpus.name} stories"
    if prefix:
        name += f", ids {prefix}…"
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

    design = np.column_stack([x[:, 0], np.log(x[:, 1]), *(x[:, n] for n in range(2, x.shape[1]))])  # the columns Calibration weighs
    fitted = LogisticRegression(C=1.0).fit(design[:, columns], y, sample_weight=weights)
    coefficients = [0.0] * design.shape[1]
    for column, weight in zip(columns, fitted.coef_[0]):
        coefficients[column] = float(weight)
    if coefficients[1] < 0:
        return None
    names = ["margin_weight", "support_weight", "similarity_weight", "rank_weight", "coverage_weight", "type_weight", "names_weight"]
    return Calibration(**dict(zip(names, coefficients)), bias=float(fitted.intercept_[0]))


def cost(point: dict[str, float]) -> float:
    """The stated trade-off's cost per question at one threshold of a sweep."""
    return WRONG_ANSWER_COST * point["wrong_answer_rate"] + point["needless_refusal_rate"]


def choose_threshold(sweeps: list[list[dict[str, float]]], shares: list[float], max_false_abstain: float) -> int:
    """The threshold (its index) of least weighted cost among those refusing at most max_false_abstain of
    each set's answerable questions; the lowest such threshold on a tie."""
    allowed = [n for n in range(len(THRESHOLDS)) if all(sweep[n]["false_abstain_rate"] <= max_false_abstain for sweep in sweeps)] or [0]
    return min(allowed, key=lambda n: (sum(share * cost(sweep[n]) for share, sweep in zip(shares, sweeps)), n))


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
    parser.add_argument("--news", type=Path, default=NEWS_TUNING_GOLD, help="news tuning gold file for the fit; its stories are the folder of the same name")
    parser.add_argument("--news-weight", type=float, default=0.5, help="the news questions' share of the fit and of the threshold's cost")
    parser.add_argument("--judge", type=Path, default=REUTERS_DEV, help="real news that chooses the features and the threshold (gold.jsonl, corpus/)")
    parser.add_argument("--judge-prefix", default="da", help="only the judge's questions whose id starts so (its tuning half)")
    parser.add_argument("--max-false-abstain", type=float, default=0.10, help="refuse at most this share of each judging set's answerable questions")
    parser.add_argument("--features", choices=sorted(FEATURE_SETS), help="this feature set, not the one of least log loss (for comparisons)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    settings = Settings(reader="span", reader_model_path=args.model)
    squad = squad_set(args, settings)
    sets = [squad, news_set(args.news, Path(args.model), settings)]
    # The reader's own questions: metadata and time questions are answered by other routes than the reader.
    judges = [squad, news_set(args.judge / "gold.jsonl", Path(args.model), settings, args.judge / "corpus", args.judge_prefix, {"factoid", "unanswerable"})]
    shares = [1.0 - args.news_weight, args.news_weight]
    # Every candidate answer is a row: the product shows the most confident one, so the calibration must
    # rank a question's candidates as well as score the one shown.
    x = np.concatenate([np.array(s.features, dtype=float) for s in sets])
    y = np.concatenate([s.labels for s in sets])
    groups = np.concatenate([np.array(s.question_of) + sum(len(t.items) for t in sets[:n]) for n, s in enumerate(sets)])
    weights = np.concatenate([s.weights(share) for s, share in zip(sets, shares)]) * len(y)  # mean 1, so C keeps its usual strength
    compared: dict[str, dict[str, float]] = {}
    fitted: dict[str, tuple[Calibration, int]] = {}
    for name, columns in FEATURE_SETS.items():
        loss = cv_log_loss(x, y, weights, groups, columns)
        calibration = fit(x, y, weights, columns)
        if loss is None or calibration is None:
            continue
        sweeps = [judge.sweep(calibration) for judge in judges]
        chosen = choose_threshold(sweeps, shares, args.max_false_abstain)
        fitted[name] = (calibration, chosen)
        compared[name] = {
            "cv_log_loss": round(loss, 4),
            "threshold": THRESHOLDS[chosen],
            "cost": round(sum(share * cost(sweep[chosen]) for share, sweep in zip(shares, sweeps)), 4),
            **{f"{judge.name.split(':')[0]}_handled_right": round(sweep[chosen]["handled_right"], 4) for judge, sweep in zip(judges, sweeps)},
        }
    # The features of least cross-validated log loss (over thousands of candidates), fewer features where
    # two are within LOSS_TIE: the judging sets' costs differ between feature sets by a few of their
    # questions, too few to choose features by; they choose the threshold.
    least = min(v["cv_log_loss"] for v in compared.values())
    close = [name for name in compared if compared[name]["cv_log_loss"] <= least + LOSS_TIE]
    chosen_set = args.features or min(close, key=lambda name: len(FEATURE_SETS[name]))
    calibration, chosen = fitted[chosen_set]
    # Whether a span plainly of the wrong type is refused outright: kept if it costs less on the judging sets.
    refusing = calibration.model_copy(update={"wrong_type_refused": True})
    refusing_sweeps = [judge.sweep(refusing) for judge in judges]
    refusing_chosen = choose_threshold(refusing_sweeps, shares, args.max_false_abstain)
    refusing_cost = sum(share * cost(sweep[refusing_chosen]) for share, sweep in zip(shares, refusing_sweeps))
    wrong_type = {"cost_kept": compared[chosen_set]["cost"], "cost_refused": round(refusing_cost, 4), "threshold_refused": THRESHOLDS[refusing_chosen]}
    if refusing_cost < compared[chosen_set]["cost"]:
        calibration, chosen = refusing, refusing_chosen
    calibration.threshold = THRESHOLDS[chosen]
    sweeps = [judge.sweep(calibration) for judge in judges]
    record = {
        **calibration.model_dump(),
        "features": chosen_set,
        "compared": compared,
        "wrong_type_refused_compared": wrong_type,
        "fitted_on": [
            f"{s.name} (weight {share}); fitted on its {len(s.labels)} candidate answers, each question weighing the same" for s, share in zip(sets, shares)
        ],
        "judged_on": [f"{judge.name} (weight {share})" for judge, share in zip(judges, shares)],
        "chosen": {judge.name.split(":")[0]: sweep[chosen] for judge, sweep in zip(judges, sweeps)},
        "never_abstaining": {judge.name.split(":")[0]: sweep[0] for judge, sweep in zip(judges, sweeps)},
        "rule": (
            f"features of least cross-validated log loss on the fitting sets (fewer within {LOSS_TIE}); the threshold of least cost on "
            f"the judging sets (the weighted mean of {WRONG_ANSWER_COST:g} x wrong answers shown + 1 x needless refusals, per question) "
            f"with each judging set's false_abstain_rate <= {args.max_false_abstain}"
        ),
    }
    (Path(args.model) / CALIBRATION_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
