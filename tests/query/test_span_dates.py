"""A weekday answer's day, counted from its article's publication date."""

import datetime as dt

import pytest

from rag.query.span_dates import day_of

WEDNESDAY = dt.date(2020, 2, 5)


@pytest.mark.parametrize(
    "span, day",
    [
        ("Wednesday", WEDNESDAY),  # the publication day's own weekday is that day
        ("on Monday", dt.date(2020, 2, 3)),
        ("last Thursday", dt.date(2020, 1, 30)),  # a weekday after the publication day's is the week before
        ("Tuesday evening", dt.date(2020, 2, 4)),
        ("yesterday", dt.date(2020, 2, 4)),
        ("today", WEDNESDAY),
        ("Wednesday's briefing", None),
        ("the Foreign Ministry", None),
        ("February 8", None),  # a date says its own day
    ],
)
def test_a_weekday_is_the_one_in_the_week_up_to_publication(span, day):
    assert day_of(span, WEDNESDAY) == day


def test_an_undated_article_gives_no_day():
    assert day_of("Wednesday", None) is None
