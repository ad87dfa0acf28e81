"""A time named in a question as a filter on publication dates: which words count, and what they mean."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.query.question_time import QuestionTime, TimeScope

NEWEST = dt.date(2020, 2, 5)  # a Wednesday: the newest article of the corpus
D = dt.date
PARSER = QuestionTime()


@pytest.mark.parametrize(
    "question, since, until",
    [
        # absolute days, months and years
        ("What happened on March 2, 1987?", D(1987, 3, 2), D(1987, 3, 2)),
        ("What was said on the 2nd of March 1987?", D(1987, 3, 2), D(1987, 3, 2)),
        ("What was reported on 2020-02-04?", D(2020, 2, 4), D(2020, 2, 4)),
        ("What did Xinhua say about 5G in February 2020?", D(2020, 2, 1), D(2020, 2, 29)),
        ("What did the ministry say in Feb 2020?", D(2020, 2, 1), D(2020, 2, 29)),
        ("Who won in 2019?", D(2019, 1, 1), D(2019, 12, 31)),
        ("What happened during 2018?", D(2018, 1, 1), D(2018, 12, 31)),
        # a day or month without a year: the latest one up to the newest article
        ("What did the Bank of England forecast on March 3?", D(2019, 3, 3), D(2019, 3, 3)),
        ("Who was chosen in May?", D(2019, 5, 1), D(2019, 5, 31)),
        ("What happened on February 1?", D(2020, 2, 1), D(2020, 2, 1)),
        # ranges and open ends
        ("What happened between March 1 and March 5, 1987?", D(1987, 3, 1), D(1987, 3, 5)),
        ("What was said from March 1 to March 3?", D(2019, 3, 1), D(2019, 3, 3)),
        ("What changed between 2017 and 2019?", D(2017, 1, 1), D(2019, 12, 31)),
        ("What did the company say before June 2019?", None, D(2019, 5, 31)),
        ("What happened after 2018?", D(2019, 1, 1), None),
        ("What has happened since January 2020?", D(2020, 1, 1), None),
        ("What was announced by March 2020?", None, D(2020, 3, 31)),
        ("What was promised until 2019?", None, D(2019, 12, 31)),
        # relative: counted from the newest article
        ("What was said yesterday?", D(2020, 2, 4), D(2020, 2, 4)),
        ("What happened today?", D(2020, 2, 5), D(2020, 2, 5)),
        ("What happened last week?", D(2020, 1, 27), D(2020, 2, 2)),
        ("What did Reuters report 3 days ago?", D(2020, 2, 2), D(2020, 2, 2)),
        ("What happened this year?", D(2020, 1, 1), D(2020, 12, 31)),
        ("What happened last month?", D(2020, 1, 1), D(2020, 1, 31)),
        ("How did prices change since last month?", D(2020, 1, 1), None),
        # no time, or words that look like one but are not
        ("Who won the 2020 Olympics?", None, None),
        ("Where does Route 66 start?", None, None),
        ("What did the 5G report say?", None, None),
        ("Who spoke at the 2019 briefing?", None, None),
        ("What did he say on Wednesday?", None, None),
        ("When did Hua speak?", None, None),
        ("What was the forecast for 2020?", None, None),
        ("What did the spokesperson say from the podium?", None, None),
        ("How many residents left their homes in Riverton?", None, None),
        ("What may happen to the tin quota?", None, None),
        ("What did this article say about rain?", None, None),
        ("How many people died in 1348 of the plague?", None, None),  # before 1800: history, not a news date
    ],
)
def test_the_dates_a_question_names(question, since, until):
    scope = PARSER.scope(question, NEWEST)
    if since is None and until is None:
        assert scope is None
    else:
        assert (scope.since, scope.until) == (since, until)
        assert scope.text and scope.text in question


def test_relative_times_say_what_they_count_from():
    scope = PARSER.scope("What happened last week?", NEWEST)
    assert scope.relative_to == NEWEST
    assert scope.label() == "searched articles from 2020-01-27 to 2020-02-02 (“last week”, counted from the newest article (2020-02-05))"
    assert PARSER.scope("What happened on March 2, 1987?", NEWEST).relative_to is None


def test_latest_puts_the_newest_first_with_or_without_dates():
    assert PARSER.scope("What is the latest on the tin quota?", NEWEST) == TimeScope(latest=True)
    both = PARSER.scope("What is the most recent forecast in 2019?", NEWEST)
    assert both.latest and both.since == D(2019, 1, 1)
    assert both.label().endswith(", newest first")


def test_an_undated_corpus_is_never_filtered_by_date():
    assert PARSER.scope("What happened on March 2, 1987?", None) is None
    assert PARSER.scope("What is the latest news?", None) == TimeScope(latest=True)


def test_labels_and_the_json_key():
    day = PARSER.scope("What happened on March 2, 1987?", NEWEST)
    assert day.label() == "searched articles of 1987-03-02 (“on March 2, 1987”)"
    assert PARSER.scope("What happened after 2018?", NEWEST).label() == "searched articles from 2019-01-01 on (“after 2018”)"
    unmatched = day.model_copy(update={"applied": False})
    assert unmatched.label() == "no article is dated “on March 2, 1987”, so all dates were searched"
    assert day.contract() == {
        "since": "1987-03-02",
        "until": "1987-03-02",
        "text": "on March 2, 1987",
        "relative_to": None,
        "latest": False,
        "applied": True,
        "yearless": False,
        "label": day.label(),
    }


def test_a_time_without_a_year_moves_to_the_latest_year_with_articles_then():
    scope = PARSER.scope("What did the Bank say on March 3?", NEWEST)
    assert scope.yearless and scope.since == D(2019, 3, 3)
    published = [D(1987, 3, 2), D(1987, 3, 3), D(2020, 2, 5)]
    assert scope.in_latest_year_with(published).since == D(1987, 3, 3)
    assert scope.in_latest_year_with([D(2020, 2, 5)]) == scope  # nowhere: left as parsed, then searched without
    may = PARSER.scope("Who was chosen in May?", NEWEST).in_latest_year_with([D(2016, 5, 30), D(2018, 6, 1)])
    assert (may.since, may.until) == (D(2016, 5, 1), D(2016, 5, 31))
    dated = PARSER.scope("What happened on March 2, 1987?", NEWEST)
    assert not dated.yearless and dated.in_latest_year_with([D(1986, 3, 2)]) == dated
    assert not PARSER.scope("What happened last week?", NEWEST).yearless


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "in",
                "on",
                "March",
                "2",
                "2019",
                "1987",
                "last",
                "week",
                "between",
                "and",
                "ago",
                "before",
                "after",
                "since",
                "from",
                "to",
                "the",
                "yesterday",
                "3",
                "x",
                ",",
                "?",
                "-",
                "Olympics",
            ]
        ),
        max_size=12,
    )
)
def test_any_question_gives_a_well_formed_scope_or_none(words):
    question = " ".join(words)
    scope = PARSER.scope(question, NEWEST)
    if scope is not None and scope.filters_dates:
        assert scope.text in question
        assert scope.since is None or scope.until is None or scope.since <= scope.until


@pytest.mark.parametrize(
    "question",
    ["What was Japan's unemployment rate in January?", "What were U.S. car sales in February?", "What was the trade deficit in 1986?"],
)
def test_the_period_of_a_figure_is_no_publication_date(question):
    assert QuestionTime().scope(question, dt.date(1987, 3, 9)) is None


def test_a_publication_date_after_the_period_of_a_figure_still_filters():
    found = QuestionTime().scope("What was the trade deficit in 1986, as reported on March 3?", dt.date(1987, 3, 9))
    assert found.text == "on March 3" and found.since == found.until == dt.date(1987, 3, 3)


@pytest.mark.parametrize(
    "question, text",
    [
        ("What did Reuters report on March 3 about oil?", "on March 3"),
        ("What did OPEC say on March 3, 1987 about prices?", "on March 3, 1987"),
        ("Who spoke in February 2020 on 5G?", "in February 2020"),
    ],
)
def test_the_time_ends_at_its_last_date_word_not_at_the_words_after_it(question, text):
    """The parser skips words it does not know: "on March 3 about" was the time, and the reader then
    read "What did Reuters report oil?"; the chip said "on March 3 about"."""
    assert QuestionTime().scope(question, dt.date(2020, 3, 10)).text == text


def test_a_range_that_ends_before_it_starts_is_no_range():
    """Found by the property above: "since in in yesterday and yesterday" gave since 5 February, until 4 February."""
    scope = PARSER.scope("since in in yesterday and yesterday", NEWEST)
    assert scope.until is None or scope.since <= scope.until
    assert PARSER.scope("from 2019 to 2018", NEWEST).until is None
