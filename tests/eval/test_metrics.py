import pytest

from eval.metrics import abstain_sweep, contains_answer, exact_match, f1_score, ndcg_at, normalize_answer, percentile, recall_at, reciprocal_rank


def test_squad_normalisation():
    assert normalize_answer("The  Foreign-Ministry!") == "foreignministry"
    assert normalize_answer("An apple, a pear") == "apple pear"


def test_em_f1_and_contains():
    assert exact_match("the Hua Chunying", ["Hua Chunying"]) == 1.0
    assert f1_score("Hua", ["Hua Chunying"]) == pytest.approx(2 / 3)
    assert f1_score("nothing", ["Hua Chunying"]) == 0.0
    assert contains_answer("said spokesperson Hua Chunying.", ["hua chunying"]) == 1.0
    assert contains_answer("Huang said", ["Hua"]) == 0.0  # whole words only


def test_rank_metrics():
    ranked = ["b", "a", "c"]
    assert recall_at(ranked, {"a"}, 1) == 0.0 and recall_at(ranked, {"a"}, 2) == 1.0
    assert reciprocal_rank(ranked, {"a"}) == 0.5
    assert ndcg_at(["a", "b"], {"a": 1}) == 1.0
    assert ndcg_at(["b", "a"], {"a": 1}) == pytest.approx(1 / 1.584962500721156)


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([], 95) == 0.0


def test_abstain_sweep_counts_decisions_per_threshold():
    scores, answerable, right = [0.9, 0.6, 0.3, 0.8], [True, True, False, False], [1.0, 0.0, 0.0, 0.0]
    never, mid, high = abstain_sweep(scores, answerable, right, [0.0, 0.7, 0.95])
    assert never == {
        "threshold": 0.0,
        "abstain_accuracy": 0.0,
        "false_abstain_rate": 0.0,
        "handled_right": 0.25,
        "wrong_answer_rate": 0.75,  # the wrong answer and both unanswerable questions answered
        "needless_refusal_rate": 0.0,
    }
    assert mid == {
        "threshold": 0.7,
        "abstain_accuracy": 0.5,
        "false_abstain_rate": 0.5,
        "handled_right": 0.5,
        "wrong_answer_rate": 0.25,
        "needless_refusal_rate": 0.0,  # the answerable question refused would have been answered wrong
    }
    assert high["abstain_accuracy"] == 1.0 and high["false_abstain_rate"] == 1.0 and high["handled_right"] == 0.5
    assert high["wrong_answer_rate"] == 0.0 and high["needless_refusal_rate"] == 0.25
