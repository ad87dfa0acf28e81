"""The handlers through the pipeline, over small real corpora: each intent answered as a user reads it."""

import datetime as dt

import pytest

from rag.answering.newest import heading
from rag.query.followup import Turn
from rag.query.question_scope import Scopes
from rag.query.question_source import SourceScope
from rag.query.question_time import TimeScope
from rag.query.request import AskRequest, QuestionError


def test_a_story_described_by_what_it_reports_gives_its_date(bank_pipeline):
    answer = bank_pipeline.ask("On what date did Example Wire publish the story about the Bank of England holding its forecast?")
    assert answer.kind == "article_field" and answer.found and answer.span == "5 March 1987"
    assert answer.citations[0].title == "Bank of England holds forecast"
    assert answer.contract()["kind"] == "article_field" and answer.contract()["fact"] == "published"


def test_a_field_the_article_lacks_is_said_so(bank_pipeline):
    answer = bank_pipeline.ask("When was this article last updated?", articles=["boe-0303.md"])
    assert answer.kind == "article_field" and not answer.found and answer.reason == "this article gives no date it was updated"
    assert answer.related[0].title == "Bank of England revises forecast" and answer.contract()["reason"] == answer.reason


def test_a_described_story_without_the_field_goes_to_the_reader(bank_pipeline):
    """A described story may be something the text reports ("Who reported on the sideline for ESPN?" in
    SQuAD): where the story has no such field, the reader answers, as before the router."""
    answer = bank_pipeline.ask("When was the story about the Bank of England holding its forecast last updated?")
    assert answer.kind == "read" and answer.reason is None


def test_a_day_and_a_source_list_that_days_stories(bank_pipeline):
    answer = bank_pipeline.ask("What did Example Wire report on March 3?")
    assert answer.kind == "newest" and answer.found and [c.title for c in answer.citations] == ["Bank of England revises forecast"]
    assert answer.time_scope.applied and "articles" in answer.contract()


def test_this_story_after_an_answer_is_the_story_cited(bank_pipeline):
    first = bank_pipeline.ask("What growth did the Bank of England forecast on March 5?")
    history = (Turn.of(first),)
    where = bank_pipeline.ask(AskRequest(question="When was this story published?", history=history))
    assert where.kind == "article_field" and where.span == "5 March 1987"
    more = bank_pipeline.ask(AskRequest(question="Tell me more about this story", history=history))
    assert more.kind == "more" and {c.title for c in more.citations} <= {"Bank of England holds forecast"}


def test_this_article_with_several_searched_and_no_conversation_asks_which(bank_pipeline):
    with pytest.raises(QuestionError, match="which article"):
        bank_pipeline.ask("What is this article about?")


def test_every_field_of_a_request_reaches_the_answer(bank_pipeline):
    request = AskRequest.of(question="What growth did the Bank of England forecast on March 3?", time_filter=False, k=2, articles=["boe-0302.md"])
    answer = bank_pipeline.ask(request)
    assert answer.time_scope is None and {p.article.path for p in answer.passages} == {"boe-0302.md"} and len(answer.passages) <= 2


def test_a_follow_up_reads_the_conversations_story_even_when_its_search_finds_another(news_pipeline):
    """ "Summarise the earthquake story", then "Was anyone hurt?": the story the chat is about is read first."""
    storm = next(a for a in news_pipeline.articles() if a.title == "Storm closes coastal roads")
    earlier = Turn(question="Who is the Foreign Ministry spokesperson?", answer="Hua Chunying", articles=[storm.id])
    answer = news_pipeline.ask("Was anyone rescued?", history=[earlier], k=1)  # its one passage: the 5G story
    assert answer.query is not None and "fishermen" in answer.span and {p.article.id for p in answer.passages} == {storm.id}


def test_with_articles_chosen_a_thin_question_is_asked_of_them_not_of_the_chat(bank_pipeline):
    """ "Who is the chairman?" with two articles chosen: asked of them, not read with the previous subject."""
    earlier = Turn(question="What did the union secretary say about the dispute?", answer="a strike", articles=["x"])
    chosen = bank_pipeline.ask("What growth?", history=[earlier], articles=["boe-0303.md"])
    assert chosen.query is None and {p.article.path for p in chosen.passages} == {"boe-0303.md"}
    assert bank_pipeline.ask("What growth?", history=[earlier]).query is not None  # without a choice, a follow-up


def test_a_list_of_the_newest_is_headed_in_the_questions_own_terms():
    day = TimeScope(since=dt.date(1987, 3, 1), until=dt.date(1987, 3, 1), text="on March 1")
    reuters = SourceScope(source="Reuters", text="did Reuters")
    assert heading(5, 12, Scopes(day, reuters)) == "The 5 newest of 12 articles from Reuters of 1 March 1987"
    assert heading(3, 3, Scopes(day)) == "The 3 articles of 1 March 1987"
    assert heading(5, 40, Scopes()) == "The 5 newest articles"
    unmatched = Scopes(day.model_copy(update={"applied": False}), reuters.model_copy(update={"applied": False}))
    assert heading(5, 40, unmatched) == "The 5 newest articles"  # no article was of that day: the newest of all


def test_a_newest_story_is_cited_at_its_lead_even_where_a_later_passage_repeats_its_headline(fresh_pipeline):
    """The Taiwan story's card highlighted "The Federation asked the government …", a later sentence
    closer to the headline's words, instead of its lead."""
    pipeline = fresh_pipeline(extra=False)
    filler = " ".join(f"Exporters in district {n} reported slower orders this month." for n in range(20))
    (pipeline.corpus / "rate.md").write_text(
        "---\ntitle: Taiwan rejects textile makers exchange rate plea\ndate: 2030-03-03\n---\n"
        f"TAIPEI, March 3 - The central bank governor turned down a request by textile firms.\n\n{filler}\n\n"
        "The textile makers asked again for the exchange rate plea to be heard, and Taiwan rejected it.\n",
        encoding="utf-8",
    )
    pipeline.index()
    news = pipeline.ask("What's the latest news?")
    first = news.contract()["articles"][0]
    assert first["title"] == "Taiwan rejects textile makers exchange rate plea"
    assert first["sentence"] == "The central bank governor turned down a request by textile firms."
