"""The time and source a question names, over one index's articles (no model, no index)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.query.question_scope import QuestionScoper, Scopes
from rag.query.retrieve import Filters
from rag.schema import Article

ARTICLES = [
    Article(id="a", title="Forecast", path="a.md", text="…", published=dt.date(1987, 3, 3), source="Example Wire"),
    Article(id="b", title="Storm", path="b.md", text="…", published=dt.date(2022, 8, 2), byline="By Coast Daily"),
    Article(id="c", title="Undated", path="c.md", text="…"),
]


def test_the_question_scopes_and_the_filters_they_make():
    scoper = QuestionScoper(ARTICLES)
    assert scoper.newest == dt.date(2022, 8, 2) and scoper.sources.names == ["Example Wire", "Coast Daily"]
    scopes = scoper.scopes("What did Example Wire say on March 3?", Filters())
    assert scopes.time.since == dt.date(1987, 3, 3) and scopes.source.source == "Example Wire"
    assert scopes.narrow(Filters(source="x")) == Filters(since=dt.date(1987, 3, 3), until=dt.date(1987, 3, 3), source="Example Wire")
    unmatched = scopes.unmatched()
    assert not unmatched.time.applied and not unmatched.source.applied
    assert set(scopes.answer_fields()) == {"time_scope", "source_scope"}


def test_the_request_wins_and_either_filter_can_be_off():
    scoper = QuestionScoper(ARTICLES)
    question = "What did Example Wire say on March 3?"
    assert scoper.scopes(question, Filters(since=dt.date(2020, 1, 1), source="Coast")) == Scopes()
    assert scoper.scopes(question, Filters(), time_filter=False, source_filter=False) == Scopes()
    assert Scopes().narrow(Filters()) == Filters() and Scopes().answer_fields() == {}


def test_an_undated_corpus_has_no_time_scope():
    assert QuestionScoper(ARTICLES[2:]).scopes("What happened on March 3, 1987?", Filters()) == Scopes()


@pytest.mark.parametrize(
    "question, read",
    [
        ("What growth did the bank forecast on March 3, 1987?", "What growth did the bank forecast?"),
        ("According to Coast Daily, how many homes flooded in August 2022?", "How many homes flooded?"),
        ("How many homes flooded, according to Coast Daily?", "How many homes flooded?"),
        ("How many homes did Coast Daily say were flooded?", "How many homes were flooded?"),
        ("What is the latest growth forecast?", "What is the growth forecast?"),
        # the source as the sentence's subject stays
        ("What did Example Wire say about growth?", "What did Example Wire say about growth?"),
    ],
)
def test_the_reader_reads_the_question_without_the_scopes_it_matched(question, read):
    assert QuestionScoper(ARTICLES).scopes(question, Filters()).as_read(question) == read


def test_a_scope_that_matched_no_article_is_read_as_asked():
    unmatched = QuestionScoper(ARTICLES).scopes("What happened in 1990?", Filters()).unmatched()
    assert unmatched.as_read("What happened in 1990?") == "What happened in 1990?"


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_a_question_read_without_its_scopes_is_never_empty(question):
    scopes = QuestionScoper(ARTICLES).scopes(question, Filters())
    read = scopes.as_read(question)
    assert read == question or (read.strip() and len(read) < len(question))
