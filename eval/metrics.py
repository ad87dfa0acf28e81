"""Answer and retrieval metrics: SQuAD's normalisation for EM/F1, rank metrics for retrieval."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's official normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def _f1(prediction: str, answer: str) -> float:
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, answers: Sequence[str]) -> float:
    return max((_f1(prediction, a) for a in answers), default=0.0)


def contains_answer(shown: str, answers: Sequence[str]) -> float:
    """A gold answer, normalised, stands inside the normalised text shown to the user (as whole words)."""
    haystack = f" {normalize_answer(shown)} "
    return float(any(normalize_answer(a) and f" {normalize_answer(a)} " in haystack for a in answers))


def first_relevant_rank(ranked_docs: Sequence[str], relevant: set[str]) -> int | None:
    """1-based rank of the first relevant doc, None when none is retrieved."""
    return next((i for i, doc in enumerate(ranked_docs, start=1) if doc in relevant), None)


def recall_at(ranked_docs: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant docs found in the top k (1.0 or 0.0 with one relevant doc)."""
    if not relevant:
        return 0.0
    return len(relevant & set(ranked_docs[:k])) / len(relevant)


def reciprocal_rank(ranked_docs: Sequence[str], relevant: set[str], k: int = 10) -> float:
    rank = first_relevant_rank(ranked_docs[:k], relevant)
    return 1.0 / rank if rank else 0.0


def ndcg_at(ranked_docs: Sequence[str], relevance: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance, as BEIR (pytrec_eval) computes it."""
    dcg = sum(relevance.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked_docs[:k]))
    ideal = sorted(relevance.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def dedupe(ranked: Iterable[str]) -> list[str]:
    """Docs in rank order, each once (several passages of one article count at its best rank)."""
    return list(dict.fromkeys(ranked))


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def abstain_sweep(scores: Sequence[float], answerable: Sequence[bool], correct: Sequence[float], thresholds: Iterable[float]) -> list[dict[str, float]]:
    """What each abstain threshold would give: abstain accuracy, false abstain rate, and the share of
    questions handled right (an unanswerable one abstained on; an answerable one answered with a
    sentence holding a gold answer; a wrong answer counts no better than a wrong abstention), and,
    as shares of all the questions, the wrong answers shown (an unanswerable question answered, or an
    answerable one answered wrong) and the needless refusals (an answerable question refused whose
    answer would have been right): the two costs a threshold trades."""
    sweep = []
    for threshold in thresholds:
        answered = [s >= threshold for s in scores]
        unanswerable = [not a for a, has in zip(answered, answerable) if not has]
        abstained_answerable = [not a for a, has in zip(answered, answerable) if has]
        right = sum((float(c) if a else 0.0) if has else float(not a) for a, has, c in zip(answered, answerable, correct))
        wrong = sum(a and (not has or not c) for a, has, c in zip(answered, answerable, correct))
        needless = sum(not a and has and bool(c) for a, has, c in zip(answered, answerable, correct))
        sweep.append(
            {
                "threshold": float(threshold),
                "abstain_accuracy": sum(unanswerable) / len(unanswerable) if unanswerable else 0.0,
                "false_abstain_rate": sum(abstained_answerable) / len(abstained_answerable) if abstained_answerable else 0.0,
                "handled_right": right / len(scores) if len(scores) else 0.0,
                "wrong_answer_rate": wrong / len(scores) if len(scores) else 0.0,
                "needless_refusal_rate": needless / len(scores) if len(scores) else 0.0,
            }
        )
    return sweep
