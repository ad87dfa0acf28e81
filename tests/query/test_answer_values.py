"""Answer spans as values: which two stories' answers are the same, which differ, which cannot be compared."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.query.answer_values import Agreement, ValueKind, compare, value_of, values_in

MARCH_7 = dt.date(1987, 3, 7)


@pytest.mark.parametrize(
    "first, second, agreement",
    [
        ("at least 26", "32", Agreement.DIFFERENT),  # a toll that rose: a bound is not a rounding
        ("26", "twenty-six", Agreement.SAME),
        ("two hundred and six", "206", Agreement.SAME),
        ("1.5 billion dlrs", "1,500 mln dlrs", Agreement.SAME),
        ("$5 mln", "5 mln dlrs", Agreement.SAME),
        ("71 cts", "0.71 dlrs", Agreement.SAME),
        ("85 cts per bushel", "84.9 U.S. cts a bushel", Agreement.SAME),  # 84.9 rounds to 85
        ("almost 350", "345", Agreement.SAME),
        ("1.15 billion stg", "1.10 billion stg", Agreement.DIFFERENT),
        ("16.1 mln bpd", "16.0 mln bpd", Agreement.DIFFERENT),
        ("between 15.3 and 15.5 mln bpd", "16.1 mln bpd", Agreement.DIFFERENT),
        ("11 to 11.25 billion guilders", "11.1 billion guilders", Agreement.SAME),  # inside the range
        ("indefinitely", "at least four months", Agreement.DIFFERENT),
        ("four months", "120 days", Agreement.SAME),
        ("3-1/2 years", "three-and-a-half years", Agreement.SAME),
        ("71 dlrs", "50.1 pct", Agreement.INCOMPARABLE),  # a price and a share answer two questions
        ("26", "50 pct", Agreement.INCOMPARABLE),
        ("0.210", "210,000 barrels per day", Agreement.INCOMPARABLE),  # a bare figure of another size
        ("Friday", "March 6", Agreement.SAME),  # 6 March 1987 was the Friday before the 7th
        ("March 5", "March 6", Agreement.DIFFERENT),
        ("Piedmont", "Piedmont Aviation Inc", Agreement.SAME),
        ("the Bank of England", "Bank of England", Agreement.SAME),
        ("Townsend Thoresen", "Townsend Thorensen", Agreement.SAME),  # one letter more
        ("Norwood, Ohio", "Lansing, Mich", Agreement.DIFFERENT),
        ("no comment", "rejected the bid", Agreement.INCOMPARABLE),  # words: reading, not matching, decides
        ("Hua Chunying", "26", Agreement.INCOMPARABLE),
    ],
)
def test_two_answers_agree_differ_or_cannot_be_compared(first, second, agreement):
    assert compare(value_of(first, MARCH_7), value_of(second, MARCH_7)) is agreement
    assert compare(value_of(second, MARCH_7), value_of(first, MARCH_7)) is agreement


def test_a_span_is_read_as_its_kind():
    assert value_of("32 people", MARCH_7).kind is ValueKind.NUMBER
    assert value_of("Wednesday", MARCH_7).day == dt.date(1987, 3, 4)
    assert value_of("the Federal Maritime Commission").kind is ValueKind.NAME
    assert value_of("because demand fell").kind is ValueKind.WORDS


def test_a_sentence_states_its_figures_and_dates():
    stated = values_in("The Bank revised its forecast to 1.10 billion stg from 1.15 billion on Thursday.", dt.date(1987, 3, 5))
    numbers = [v.number for v in stated if v.kind is ValueKind.NUMBER]
    assert numbers[:2] == [1.10e9, 1.15e9] and [v.day for v in stated if v.kind is ValueKind.DATE] == [dt.date(1987, 3, 5)]


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["", " dlrs", " pct", " mln stg", " tonnes"]))
def test_a_figure_is_the_same_as_itself_written_with_commas(number, unit):
    plain, grouped = f"{number}{unit}", f"{number:,}{unit}"
    assert compare(value_of(plain), value_of(grouped)) is Agreement.SAME


@given(st.text(max_size=60))
def test_any_text_is_read_without_error_and_agrees_with_itself(text):
    value = value_of(text, MARCH_7)
    assert compare(value, value) in (Agreement.SAME, Agreement.INCOMPARABLE)
    values_in(text, MARCH_7)
