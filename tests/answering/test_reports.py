"""Answers across stories through the pipeline: stories that state other figures shown with the answer,
newest first; stories that agree cited; a story's timeline oldest first."""

from rag.query.followup import Turn
from rag.query.request import AskRequest
from ui.render import answer_message, sources_panel


def test_stories_with_other_figures_are_shown_newest_first(bank_pipeline):
    answer = bank_pipeline.ask("What growth did the Bank of England forecast?")
    assert answer.found and answer.differ == "number"
    assert [(c.span_text, c.published.isoformat()) for c in answer.reports] == [
        ("2.8 percent", "1987-03-05"),
        ("3.1 percent", "1987-03-03"),
        ("2.5 percent", "1987-03-02"),
    ]
    assert answer.citations[0].n in {c.n for c in answer.reports}  # the answer's own story is one of them
    contract = answer.contract()
    assert contract["reports_differ"] == "number" and [r["span"] for r in contract["reports"]] == ["2.8 percent", "3.1 percent", "2.5 percent"]
    assert {"n", "article_id", "title", "published", "path", "start", "end", "passage", "source"} <= set(contract["reports"][0])
    message, panel = answer_message(answer), sources_panel(answer)
    assert (
        "The stories differ (another number), newest first" in message
        and "latest: <strong>2.8 percent</strong>" in message
        and "earlier: <strong>3.1 percent</strong>" in message
    )
    assert all(f'id="source-{c.n}"' in panel for c in answer.reports)  # every report has its card to jump to


def test_a_question_one_day_answers_has_no_reports(bank_pipeline):
    answer = bank_pipeline.ask("What growth did the Bank of England forecast on March 3?")
    assert answer.span == "3.1 percent" and answer.reports == [] and "reports" not in answer.contract()


def test_without_the_check_the_answer_stands_alone(bank_pipeline):
    searcher = bank_pipeline.searcher
    kept = searcher.settings
    searcher.settings = kept.model_copy(update={"compare_reports": False})
    try:
        answer = bank_pipeline.ask("What growth did the Bank of England forecast?")
    finally:
        searcher.settings = kept
    assert answer.found and answer.reports == []


def test_how_a_story_developed_is_one_line_a_story_oldest_first(bank_pipeline):
    answer = bank_pipeline.ask("How did the Bank of England growth forecast develop?")
    assert answer.kind == "timeline" and answer.found
    assert [c.published.isoformat() for c in answer.citations] == ["1987-03-02", "1987-03-03", "1987-03-05"]
    assert [c.listed()["sentence"] for c in answer.citations][1] == "The Bank of England forecast growth of 3.1 percent for the year."
    assert answer.contract()["kind"] == "timeline" and len(answer.contract()["articles"]) == 3
    assert '<ol class="timeline">' in answer_message(answer) and "2 March 1987" in answer_message(answer)
    # "the second one" after a timeline is its second story
    second = bank_pipeline.ask(AskRequest(question="Summarise the second one", history=(Turn.of(answer),)))
    assert second.citations[0].title == "Bank of England revises forecast"


def test_a_timeline_of_what_no_story_names_says_so(bank_pipeline):
    answer = bank_pipeline.ask("How did the Zeebrugge ferry disaster develop?")
    assert answer.kind == "timeline" and not answer.found and answer.citations == []


def test_a_passage_narrowed_to_a_sentence_keeps_its_offsets(bank_pipeline):
    passage = bank_pipeline.retrieve("Bank of England growth forecast", k=1)[0]
    start, end = passage.chunk.sentences[-1]
    narrowed = passage.narrowed(start, end)
    assert narrowed.chunk.text == passage.chunk.slice(start, end) and narrowed.chunk.sentences == [(start, end)]
    assert narrowed.first_sentence == len(passage.chunk.sentences) - 1 and narrowed.row == passage.row
    assert passage.narrowed(end + 1, end + 2) is passage  # no sentence inside: the passage as it was


def test_a_timeline_over_dates_no_story_names_searches_every_date(bank_pipeline):
    answer = bank_pipeline.ask("How did the Bank of England growth forecast develop in 2020?")
    assert answer.kind == "timeline" and len(answer.citations) == 3
    assert answer.time_scope is not None and not answer.time_scope.applied  # and the answer says so
