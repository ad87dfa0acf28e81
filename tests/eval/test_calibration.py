"""The reader's calibration fit (eval/calibrate_reader.py) and training split (eval/train_reader.py): pure logic, no model."""

from __future__ import annotations

import json
import random

import numpy as np

from eval.calibrate_reader import FEATURE_SETS, TuningSet, cv_log_loss, fit
from eval.runner import GoldItem
from eval.train_reader import Recipe, abstention_split, abstention_trained
from rag.query.span_reader import AnswerFeatures


def synthetic_set(questions: int = 400, seed: int = 0) -> TuningSet:
    """Five candidates a question; the right one (if any) tends to come from the first retrieved passage."""
    rng = random.Random(seed)
    features, labels, question_of = [], [], []
    for number in range(questions):
        right = rng.random() < 0.7
        for rank in range(5):
            is_right = right and rank == 0
            features.append(AnswerFeatures(rng.gauss(2.0 if is_right else 0.0, 1.5), 1, rng.random(), rank, rng.random()))
            labels.append(int(is_right))
            question_of.append(number)
    items = [GoldItem(id=str(n), question="q", answers=["a"], doc=None) for n in range(questions)]
    return TuningSet("synthetic", items, features, labels, question_of)


def test_each_question_weighs_the_same_whatever_its_candidates():
    tuning = TuningSet("t", [GoldItem(id=str(n), question="q", answers=[], doc=None) for n in range(3)], [(0.0, 1, 0.0, 0)] * 4, [0] * 4, [0, 0, 0, 2])
    weights = tuning.weights(0.5)
    assert np.isclose(weights.sum(), 0.5)
    assert np.isclose(weights[:3].sum(), weights[3])  # question 1 has no candidate and no weight


def test_a_rank_that_predicts_right_answers_is_weighed_and_wins_cross_validation():
    tuning = synthetic_set()
    x, y = np.array(tuning.features, dtype=float), np.array(tuning.labels)
    weights, groups = tuning.weights(1.0) * len(y), np.array(tuning.question_of)
    calibration = fit(x, y, weights, FEATURE_SETS["margin+rank"])
    assert calibration.rank_weight < 0 < calibration.margin_weight
    assert calibration.confidence(AnswerFeatures(1.0, 1, 0.0, 0, 1.0)) > calibration.confidence(AnswerFeatures(1.0, 1, 0.0, 3, 1.0))
    assert cv_log_loss(x, y, weights, groups, FEATURE_SETS["margin+rank"]) < cv_log_loss(x, y, weights, groups, FEATURE_SETS["margin"])


def test_a_fit_where_agreement_would_lower_confidence_is_refused():
    rng = random.Random(1)
    x = np.array([(rng.gauss(0, 1), support, 0.0, 0, 1.0) for support in (1, 2, 3) for _ in range(100)], dtype=float)
    y = np.array([int(support == 1 and n % 2 == 0) for support in (1, 2, 3) for n in range(100)])
    assert fit(x, y, np.ones(len(y)), FEATURE_SETS["margin+support"]) is None


def test_abstention_articles_are_chosen_among_tuning_articles_and_never_reused(tmp_path):
    """Trained articles leave the held set; a later stage picks only from articles no stage trained on."""
    from eval.train_reader import DATA

    first, held = abstention_split(DATA, Recipe(abstention_articles=12))
    assert len(first) == 12 and len(held) == 7
    trained = {a["title"] for a in first}
    assert trained.isdisjoint(a["title"] for a in held)
    again, held_again = abstention_split(DATA, Recipe(abstention_articles=3, seed=5), trained)
    assert trained.isdisjoint(a["title"] for a in again) and len(held_again) == 4
    model = tmp_path / "model"
    model.mkdir()
    stage = {"abstention_training_articles": ["B"], "earlier_stages": [{"abstention_training_articles": ["A"]}, {}]}
    (model / "training.json").write_text(json.dumps(stage), encoding="utf-8")
    assert abstention_trained(model) == {"A", "B"}
    assert abstention_trained(tmp_path / "no-model") == set()


def test_the_threshold_trades_wrong_answers_against_needless_refusals_within_the_refusal_bound():
    """Two wrong answers cost more than one needless refusal; no threshold may refuse more answerable questions than allowed."""
    from eval.calibrate_reader import THRESHOLDS, choose_threshold, cost
    from eval.metrics import abstain_sweep

    # Answerable right at 0.9 and 0.5, answerable wrong at 0.4, unanswerable at 0.45 and 0.3.
    scores, answerable, right = [0.9, 0.5, 0.4, 0.45, 0.3], [True, True, True, False, False], [1.0, 1.0, 0.0, 0.0, 0.0]
    sweep = abstain_sweep(scores, answerable, right, THRESHOLDS)
    best = choose_threshold([sweep], [1.0], max_false_abstain=1.0)
    assert 0.45 < THRESHOLDS[best] <= 0.5  # refuses all three wrong ones, keeps both right ones
    assert cost(sweep[best]) == 0.0
    bounded = choose_threshold([sweep], [1.0], max_false_abstain=0.0)  # may refuse no answerable question
    assert THRESHOLDS[bounded] <= 0.4 and cost(sweep[bounded]) == 2.0 * 0.4  # two wrong answers of five
