"""Span decoding without a model: the best (start, end) pair of logits, and spans widened to whole words."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.query.spans import best_span, best_spans, whole_words


def test_best_span_takes_the_highest_pair_inside_the_context():
    start = np.array([5.0, 0.0, 3.0, 1.0, 9.0])
    end = np.array([5.0, 0.0, 1.0, 4.0, 0.0])
    offsets = [(0, 0), (0, 3), (4, 8), (9, 12), (0, 0)]
    in_context = np.array([False, True, True, True, False])  # [CLS] and [SEP] are not answers
    span = best_span(start, end, offsets, in_context)
    assert (span.start, span.end) == (4, 12)  # tokens 2..3: 3.0 + 4.0
    assert span.score == 7.0 and span.null_score == 10.0


def test_best_span_never_ends_before_it_starts_or_runs_too_long():
    start = np.array([0.0, 0.0, 0.0, 9.0])
    end = np.array([0.0, 9.0, 0.0, 0.0])
    offsets = [(0, 0), (0, 1), (2, 3), (4, 5)]
    span = best_span(start, end, offsets, np.array([False, True, True, True]), max_answer_tokens=1)
    assert span.end > span.start and span.end - span.start == 1


def test_best_span_without_context_is_none():
    assert best_span(np.zeros(2), np.zeros(2), [(0, 0), (0, 0)], np.array([False, False])) is None


@pytest.mark.parametrize(
    "text, start, end, expected",
    [
        ("the IMT-2020 (5G) group", 7, 12, "IMT-2020"),
        ("spokesperson Hua Chunying told", 13, 18, "Hua Chunying"),
        ("said on Wednesday.", 8, 12, "Wednesday"),
        ("the (WHO) said", 5, 8, "WHO"),
        ("rose 5.5 percent", 5, 6, "5.5"),
        ('"a quote," he said', 1, 2, "a"),
        ("a 12-turbine wind farm", 2, 4, "12"),
        ("a 12-turbine wind farm", 2, 6, "12-turbine"),
        ("the score was 3-1 at home", 14, 15, "3-1"),
    ],
)
def test_whole_words_never_cut_a_word(text, start, end, expected):
    s, e = whole_words(text, start, end)
    assert text[s:e] == expected


@given(st.text(alphabet=st.sampled_from('ab1-. ,()"\n'), min_size=1, max_size=60), st.data())
def test_whole_words_stays_inside_the_text_and_on_word_edges(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    s, e = whole_words(text, start, end)
    assert 0 <= s < e <= len(text)
    # Each edge is the text's edge, white space, or punctuation that was trimmed off a word.
    assert s == 0 or text[s - 1].isspace() or not text[s - 1].isalnum()
    assert e == len(text) or text[e].isspace() or not text[e].isalnum()


class _Windows:
    """A tokenised batch as the tokenizer returns it: two windows of pair 0, one of pair 1."""

    def __init__(self):
        self.data = {
            "overflow_to_sample_mapping": np.array([0, 0, 1]),
            "offset_mapping": np.array([[(0, 0), (0, 3), (4, 8)]] * 3),
        }

    def __getitem__(self, key):
        return self.data[key]

    def sequence_ids(self, window):
        return [None, 1, 1]


def test_best_spans_keep_each_pairs_best_window_and_its_weakest_no_answer():
    start = np.array([[2.0, 1.0, 0.0], [0.5, 0.0, 3.0], [9.0, 1.0, 1.0]])
    end = np.array([[2.0, 1.0, 0.0], [0.5, 0.0, 3.0], [9.0, 1.0, 1.0]])
    spans = best_spans(_Windows(), start, end)
    assert (spans[0].start, spans[0].end, spans[0].score) == (4, 8, 6.0)  # the second window's span
    assert spans[0].null_score == 1.0  # the lower of the two windows' [CLS] scores (4.0, 1.0)
    assert spans[1].null_score == 18.0 and spans[1].score == 2.0


def test_best_spans_never_touch_a_blocked_range():
    start = np.array([[0.0, 9.0, 1.0], [0.0, 9.0, 1.0], [0.0, 9.0, 1.0]])
    end = np.array([[0.0, 9.0, 1.0], [0.0, 9.0, 1.0], [0.0, 9.0, 1.0]])
    spans = best_spans(_Windows(), start, end, blocked={0: [(0, 3)]})
    assert (spans[0].start, spans[0].end) == (4, 8)  # the best pair (0, 3) is blocked in pair 0 ...
    assert (spans[1].start, spans[1].end) == (0, 3)  # ... and only there
