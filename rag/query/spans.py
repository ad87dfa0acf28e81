"""Span decoding for the span reader: logits of one window in, the best answer span out.

Pure numpy, no model and no pydantic, so the training script (eval/train_reader.py) scores dev
questions with exactly the decoding the product uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

# Characters trimmed off the ends of a span once it is widened to whole words.
_EDGE_PUNCTUATION = ".,;:!?\"'“”‘’()[]{}«»"
# A count that leads a hyphenated word ("12-turbine", "40-year-old"): the number alone answers "how many".
_LEADING_COUNT = re.compile(r"\d[\d.,]*(?=-[^\W\d_])")


@dataclass(frozen=True)
class WindowSpan:
    """The best span of one window: character offsets into the window's context, and its logit scores."""

    start: int
    end: int
    score: float  # start logit + end logit of the span
    null_score: float  # start logit + end logit of the [CLS] token: "no answer in this window"


def best_span(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: list[tuple[int, int]],
    in_context: np.ndarray,
    max_answer_tokens: int = 30,
) -> WindowSpan | None:
    """The highest-scoring (start token <= end token) pair inside the context, at most max_answer_tokens long."""
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    allowed = np.asarray(in_context, dtype=bool)
    if not allowed.any():
        return None
    pairs = start_logits[:, None] + end_logits[None, :]
    length = np.arange(len(start_logits))
    span_length = length[None, :] - length[:, None]
    valid = (span_length >= 0) & (span_length < max_answer_tokens) & allowed[:, None] & allowed[None, :]
    pairs = np.where(valid, pairs, -np.inf)
    first, last = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
    return WindowSpan(
        start=offsets[first][0],
        end=offsets[last][1],
        score=float(pairs[first, last]),
        null_score=float(start_logits[0] + end_logits[0]),
    )


def best_spans(
    encoded: Any,  # a tokenizers batch encoding with overflowing windows
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    max_answer_tokens: int = 30,
    blocked: dict[int, list[tuple[int, int]]] | None = None,
) -> dict[int, WindowSpan]:
    """Per (question, context) pair of a tokenised batch with overflowing windows: its best span over all
    its windows, offsets into its context, touching none of the pair's `blocked` character ranges. The
    null score is its weakest window's: "no answer" holds for a context only as strongly as its
    weakest window says so."""
    best: dict[int, WindowSpan] = {}
    for window, pair in enumerate(encoded["overflow_to_sample_mapping"].tolist()):
        offsets = encoded["offset_mapping"][window].tolist()
        in_context = np.array([s == 1 for s in encoded.sequence_ids(window)])
        for first, last in (blocked or {}).get(pair, []):
            in_context &= np.array([not (start < last and end > first) for start, end in offsets])
        span = best_span(start_logits[window], end_logits[window], offsets, in_context, max_answer_tokens)
        if span is None:
            continue
        previous = best.get(pair)
        if previous is not None:
            top = span if span.score > previous.score else previous
            span = WindowSpan(top.start, top.end, top.score, min(span.null_score, previous.null_score))
        best[pair] = span
    return best


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to whole whitespace-separated words, edge punctuation trimmed.

    A model reads word pieces and may stop inside a word ("-2020" out of "IMT-2020"); the answer
    shown must not. Trimming stops at the original span, so what the model chose is never lost.
    One cut is kept: a count that leads a hyphenated word ("12" of "12-turbine").
    """
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    word_start = start
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    count = _LEADING_COUNT.match(text, start)
    if start == word_start and count is not None and count.end() == end:
        return start, end
    while end < len(text) and not text[end].isspace():
        end += 1
    return _inner(text, word_start, end)


def _inner(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim leading and trailing punctuation and spaces, keeping at least one character."""
    while end - start > 1 and (text[end - 1] in _EDGE_PUNCTUATION or text[end - 1].isspace()):
        end -= 1
    while end - start > 1 and (text[start] in _EDGE_PUNCTUATION or text[start].isspace()):
        start += 1
    # A closing bracket or quote that belongs to the answer ("(WHO)" -> "WHO", but "Sinopec (China)")
    # is only trimmed when its partner was trimmed too; keep the pair balanced.
    span = text[start:end]
    for opening, closing in ("()", "[]"):
        if span.count(opening) > span.count(closing) and end < len(text) and text[end] == closing:
            end += 1
            span = text[start:end]
    return start, end
