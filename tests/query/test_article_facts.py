"""Questions about an article itself: which are, and their answers from the seed article's metadata."""

from __future__ import annotations

import json

import pytest

from rag.pipeline import Pipeline
from rag.query.article_facts import asked_field
from tests.helpers import make_corpus


@pytest.fixture(scope="module")
def seed_pipeline(tmp_path_factory, settings, encoder) -> Pipeline:
    """The seed article alone: "this article" is the one article there is."""
    pipeline = Pipeline(settings, corpus=make_corpus(tmp_path_factory.mktemp("seed"), extra=False), encoder=encoder)
    pipeline.index()
    return pipeline


@pytest.mark.parametrize(
    "question, field",
    [
        # about the article itself
        ("Who wrote this article?", "byline"),
        # an article named by its topic or outlet
        ("Who wrote the story about the snow leopard cubs at Larkhaven Zoo?", "byline"),
        ("Who wrote the Continental Press story about the Lisbon train order?", "byline"),
        ("Who is the author of the article on tin quotas?", "byline"),
        ("Which agency filed the report on the Oruna earthquake?", "source"),
        ("Which newspaper reported the Tarrow mayoral election?", "source"),
        ("Which outlet ran the story headlined 'Coastal highway shut as gale hits Penrith Bay'?", "source"),
        ("From which city was the story about the Cerro Alba copper mine strike filed?", "dateline"),
        ("When was the story about the marathon published?", "published"),
        ("When was the report on 5G security published?", None),
        ("Which newspaper is the largest in Tarrow?", None),
        ("What did the story say about rain?", None),
        ("Who wrote it?", "byline"),
        ("Which news agency wrote the story?", "source"),
        ("What outlet published this piece?", "source"),
        ("Who is the author?", "byline"),
        ("Who's the reporter of this story?", "byline"),
        ("What is the byline?", "byline"),
        ("When was the article first published?", "published"),
        ("When was it published?", "published"),
        ("when was this story posted", "published"),
        ("What date was the article published?", "published"),
        ("When did the story come out?", "published"),
        ("What is the publication date?", "published"),
        ("When was the article last updated?", "updated"),
        ("When was it updated?", "updated"),
        ("What is the headline?", "title"),
        ("What's the title of this article?", "title"),
        ("What is the story called?", "title"),
        ("From which city was the story filed?", "dateline"),
        ("Where was this article written?", "dateline"),
        ("Where was the story filed from?", "dateline"),
        ("What is the dateline?", "dateline"),
        ("Which city was the dispatch filed from?", "dateline"),
        # about what the article says
        ("When did Hua speak?", None),
        ("Where was the briefing held?", None),
        ("Who published the 5G security report?", None),
        ("When was the report published?", None),
        ("Who wrote the book?", None),
        ("What is the title of the film?", None),
        ("When imperialism impacts social norms of a state, what is it called?", None),
        ("When was it released in Australia?", None),
        ("What did China call on countries to do?", None),
        ("Who is the Foreign Ministry spokesperson?", None),
        ("Where was the treaty written?", None),
    ],
)
def test_questions_about_the_article_itself_are_told_apart(question, field):
    asked = asked_field(question)
    assert (asked.field if asked else None) == field


@pytest.mark.parametrize(
    "question, span, fact",
    [
        ("Who wrote this article?", "Xinhua", "byline"),
        ("Which news agency wrote the story?", "Xinhua", "byline"),
        ("When was it published?", "5 February 2020, 20:16", "published"),
        ("When was the article last updated?", "6 June 2023, 08:16", "updated"),
        ("What is the headline?", "China calls for open, equitable environment for 5G technology", "title"),
    ],
)
def test_header_fields_answer_and_cite_the_article(seed_pipeline, question, span, fact):
    answer = seed_pipeline.ask(question)
    assert answer.found and answer.fact == fact and answer.span == span
    assert span in answer.answer and "(" in answer.answer  # says where it came from: "(article header)", "(byline)"
    assert answer.citations[0].title == "China calls for open, equitable environment for 5G technology"


def test_the_dateline_city_is_quoted_from_the_text(seed_pipeline):
    answer = seed_pipeline.ask("From which city was the story filed?")
    assert answer.fact == "dateline" and answer.span == "BEIJING" and answer.answer == "BEIJING —"
    cited = answer.citations[0]
    assert cited.passage[cited.start - cited.passage_start : cited.end - cited.passage_start] == "BEIJING —"
    assert (cited.span_start, cited.span_end) == (cited.start, cited.start + len("BEIJING"))


def test_in_a_follow_up_it_is_what_the_conversation_was_about():
    assert asked_field("Who published it?") == ("byline", "", None)
    assert asked_field("Who published it?", follow_up=True) is None  # after "What does the security report propose?"
    assert asked_field("Who wrote this article?", follow_up=True) == ("byline", "", None)


def test_after_an_answer_about_the_article_it_is_that_article(seed_pipeline):
    from rag.query.followup import Turn

    byline = seed_pipeline.ask("Who wrote this article?")
    answer = seed_pipeline.ask("When was it published?", history=[Turn.of(byline)])
    assert answer.fact == "published" and answer.span == "5 February 2020, 20:16"
    # after a question about what an article says, "it" is still that thing, not the article
    report = seed_pipeline.ask("Who published the 5G security report?")
    assert seed_pipeline.ask("When was it published?", history=[Turn.of(report)]).fact is None


def test_what_the_article_is_about_is_its_lead(seed_pipeline, news_pipeline):
    from rag.pipeline import QuestionError
    from rag.query.followup import Turn

    about = seed_pipeline.ask("What is this article about?")
    assert about.found and about.more == "China calls for open, equitable environment for 5G technology" and len(about.citations) == 3
    assert about.answer.startswith("China called on countries around the world to view 5G network risks")  # the lead, not its dateline
    with pytest.raises(QuestionError, match="which article\\? 3 are searched"):  # several articles, nothing to choose by
        news_pipeline.ask("What is this article about?")
    storm = news_pipeline.ask("How many coastal roads closed in Brighton?")
    followed = news_pipeline.ask("What is the story about?", history=[Turn.of(storm)])
    assert followed.more == "Storm closes coastal roads" == news_pipeline.ask("Summarise the story about the storm in Brighton").more


def test_a_question_about_the_content_is_read_from_the_text(seed_pipeline):
    answer = seed_pipeline.ask("When did Hua speak?")
    assert answer.fact is None and "fact" not in answer.contract()


def test_the_json_names_the_field_that_answered(seed_pipeline):
    contract = json.loads(json.dumps(seed_pipeline.ask("Who wrote this article?").contract()))
    assert contract["fact"] == "byline" and contract["span"] == "Xinhua"
    assert list(contract)[:7] == ["question", "found", "answer", "span", "score", "citations", "related"]


def test_which_newspaper_is_the_outlet_not_its_reporter(tmp_path, settings, encoder):
    from rag.pipeline import Pipeline

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mayor.md").write_text(
        "---\ntitle: Okafor elected mayor\ndate: 2023-05-05\nsource: Tarrow Standard\nbyline: Bernard Quill\n---\n"
        "Rosalind Okafor was elected mayor of Tarrow on Thursday with 54.2 percent of the vote.\n",
        encoding="utf-8",
    )
    pipeline = Pipeline(settings, corpus=corpus, encoder=encoder)
    pipeline.index()
    outlet = pipeline.ask("Which newspaper reported the Tarrow mayoral election?")
    assert (outlet.fact, outlet.span, outlet.answer) == ("source", "Tarrow Standard", "Tarrow Standard (source)")
    reporter = pipeline.ask("Who wrote the story about the mayoral election?")
    assert (reporter.fact, reporter.span) == ("byline", "Bernard Quill")
