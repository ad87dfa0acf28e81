import json
from html.parser import HTMLParser

import pytest
from gradio_client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eval.concurrency import ask_concurrently, free_port
from rag.pipeline import Pipeline, QuestionError
from rag.query.followup import Turn
from rag.schema import Answer, Citation
from tests.helpers import make_docx, make_pdf, write_bank_stories
from ui import render
from ui.app import KEPT_TURNS, ask, build_app, chat_turn, kept_conversation, restored_conversation, scope_chips, serve
from ui.uploads import add_uploads

EVIL = """---
title: "<script>alert('title')</script> Harbour <b>upgrade</b> plan"
date: 2021-05-04
source: Port Gazette
---
The harbour upgrade will cost <script>window.pwned = 1</script> 40 million euros, the port authority said on Monday.
Mayor Ilse *Brandt* said the [works](javascript:alert(1)) would start in <img src=x onerror="alert(2)"> September.
"""
# Every tag the renderer writes; an article's markup must never add one.
RENDERED_TAGS = {"div", "p", "strong", "mark", "a", "em", "article", "h2", "h3", "span", "blockquote", "button", "ul", "li", "details", "summary"}


class _Tags(HTMLParser):
    def __init__(self, markup: str):
        super().__init__()
        self.tags: set[str] = set()
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)


def tags(markup: str) -> set[str]:
    return _Tags(markup).tags


def last(turn):
    *_, final = turn
    return final


# ---- rendering ----------------------------------------------------------------------------------


def test_answer_is_the_quoted_sentence_with_the_span_in_bold_and_markers(news_pipeline):
    message = render.answer_message(news_pipeline.ask("Who is the Foreign Ministry spokesperson?"))
    assert "“<strong>Hua Chunying</strong>" in message and ">[1]</a>" in message and "confidence" in message
    assert "\n" not in message  # one HTML block: Markdown leaves it alone


def test_a_weekday_answer_shows_its_day_and_a_role_reading_says_so(news_pipeline):
    message = render.answer_message(news_pipeline.ask("When did Hua speak?"))
    assert "answer: <strong>Wednesday</strong> (5 February 2020)" in message
    assert "read as “When did the spokesperson speak?”: the article calls Hua the spokesperson" in message


def test_the_server_logs_each_question_and_each_refusal_in_one_line(news_pipeline, caplog):
    caplog.set_level("INFO", logger="ui.app")
    ask(news_pipeline, "Who is the Foreign Ministry spokesperson?")
    with pytest.raises(QuestionError):
        ask(news_pipeline, "   ")
    lines = [r.getMessage() for r in caplog.records if r.name == "ui.app"]
    assert len(lines) == 2
    assert lines[0].startswith("asked 'Who is the Foreign Ministry spokesperson?': answered (confidence ") and lines[0].endswith(" ms")
    assert lines[1] == "refused '   ': the question is empty"


def test_sources_panel_shows_title_date_source_file_and_highlighted_passage(news_pipeline):
    panel = render.sources_panel(news_pipeline.ask("How many coastal roads did the rain close?"))
    for text in ("Storm closes coastal roads", "2022-08-02", "Coast Daily", "storm.json", "Copy citation"):
        assert text in panel
    assert "<mark>Heavy rain closed </mark><mark><strong>14</strong></mark>" in panel


def test_not_found_says_so_and_shows_the_nearest_passages_as_related(news_pipeline):
    answer = news_pipeline.ask("Who won the 2022 World Cup?")
    message = render.answer_message(answer, news_pipeline.threshold)
    assert render.NOT_FOUND in message and f"answers need {news_pipeline.threshold:.2f}" in message
    panel = render.sources_panel(answer)
    assert "<h2>Related</h2>" in panel and "China calls for open" in panel and "<mark>" not in panel


def test_the_header_shows_an_index_run_in_progress_and_a_missing_index():
    running = render.header("Ask the news", None, "updating the index: 3 of 10 chunks embedded (30%)…")
    assert "no index yet" in running and 'id="index-progress"' in running and "3 of 10 chunks embedded (30%)" in running
    from rag.index.index_keeper import IndexProgress, IndexStatus

    status = IndexStatus(corpus="lib", index="lib/.rag-index", articles=1, chunks=4, model="minilm", precision="int8", dense_index="IndexFlatIP")
    assert "1 article · 4 chunks · model minilm (int8) · corpus lib<" in render.header("Ask the news", status)
    on_milvus = status.model_copy(update={"backend": "milvus", "index": "http://db:19530 (Milvus, collection news)"})
    assert "corpus lib · index on http://db:19530 (Milvus, collection news)" in render.header("Ask the news", on_milvus)

    assert IndexProgress().label() == "updating the index: reading the articles…"
    assert IndexProgress(embedded=5, total=20).label() == "updating the index: 5 of 20 chunks embedded (25%)…"
    assert IndexProgress(embedded=200, total=1000, seconds=4).label() == "updating the index: 200 of 1000 chunks embedded (20%), 50 chunks/s, about 16 s left…"
    assert IndexProgress(embedded=100, total=50_100, seconds=2).label().endswith("50 chunks/s, about 17 min left…")
    assert IndexProgress(embedded=100, total=500_100, seconds=2).label().endswith("about 2 h 47 min left…")


def test_an_index_run_reports_its_progress_while_it_runs(fresh_pipeline):
    pipeline = fresh_pipeline()
    seen = []
    original = pipeline.encoder.encode_chunks

    def watching(*args, **kwargs):  # called once a batch, while the run is under way
        seen.append(pipeline.indexing)
        return original(*args, **kwargs)

    pipeline.encoder.encode_chunks = watching
    try:
        pipeline.index()
    finally:
        del pipeline.encoder.encode_chunks
    assert seen and all(p is not None and p.total > 0 and p.embedded < p.total for p in seen)
    assert pipeline.indexing is None  # over


def test_a_question_before_the_first_index_is_told_to_wait(fresh_pipeline):
    box, chat, turns, _ = last(chat_turn(fresh_pipeline(), "Who is the spokesperson?", [], [], 5, "hybrid", None, None, ""))
    assert "still being indexed" in chat[-1]["content"] and "rephrase" not in chat[-1]["content"]
    assert box == "Who is the spokesperson?" and turns == []


def test_an_index_built_with_other_settings_waits_for_its_rebuild_instead_of_failing(fresh_pipeline, settings, encoder):
    """Upgrading changes what an index must be built with (here, the chunking); the page must come up and
    say the articles are being indexed while the run started with the server rebuilds it."""
    old = fresh_pipeline(extra=False)
    old.index()
    pipeline = Pipeline(settings.model_copy(update={"chunk_words": 60}), corpus=old.corpus, encoder=encoder)
    app = build_app(pipeline)  # reads the library for its menus: must not raise
    assert app is not None
    _, chat, _, _ = last(chat_turn(pipeline, "Who is the spokesperson?", [], [], 5, "hybrid", None, None, ""))
    assert "still being indexed" in chat[-1]["content"]
    pipeline.ensure_index()  # what the server's run does
    _, chat, _, _ = last(chat_turn(pipeline, "Who is the spokesperson?", [], [], 5, "hybrid", None, None, ""))
    assert "Hua Chunying" in chat[-1]["content"]


def test_overlapping_passages_of_one_article_are_shown_once_in_its_card():
    """Chunks overlap by a sentence: two neighbours retrieved for one question showed it twice."""
    story = "The ferry resumed on Friday. TWA said the offer stands. Talks go on."
    first, second = story[:55], story[29:]  # "TWA said the offer stands." in both
    cited = [
        Citation(n=1, article_id="a", title="Ferry", published=None, path="f.txt", start=29, end=55, passage=second, passage_start=29),
        Citation(n=2, article_id="a", title="Ferry", published=None, path="f.txt", start=0, end=28, passage=first, passage_start=0),
    ]
    panel = render.sources_panel(Answer(question="q", found=False, score=0.1, related=cited))
    assert panel.count("TWA said the offer stands.") == 1 and panel.count("<blockquote") == 1
    assert "The ferry resumed on Friday." in panel and "Talks go on." in panel


def test_empty_sources_panel_invites_a_question():
    assert "Ask a question" in render.sources_panel(None)


def test_highlight_marks_the_sentence_and_bolds_the_span():
    text = "One. Two <b> three. Four."
    # text starts at article offset 100; sentence "Two <b> three." is 105-119, span "three" 113-118
    assert render.highlight(text, 100, (105, 119), (113, 118)) == ("One. <mark>Two &lt;b&gt; </mark><mark><strong>three</strong></mark><mark>.</mark> Four.")


def test_a_not_found_just_under_the_bar_does_not_read_as_the_bar():
    answer = Answer(question="q", found=False, score=0.1396)
    assert "confidence 0.140; answers need 0.142" in render.answer_message(answer, 0.142)
    assert "confidence 0.09; answers need 0.14" in render.answer_message(answer.model_copy(update={"score": 0.09}), 0.14)


@pytest.mark.parametrize(
    "score, level, words",
    [
        (0.95, "high", "likely right"),
        (0.7, "high", "likely right"),
        (0.6996, "high", "likely right"),
        (0.55, "medium", "may be right: check the quote"),
        (0.4, "medium", "may be right: check the quote"),
        (0.394, "low", "unsure: read the passage before using it"),
        (0.2, "low", "unsure: read the passage before using it"),
    ],
)
def test_an_answer_says_how_far_to_trust_it_in_words_with_the_numbers_a_click_away(news_pipeline, score, level, words):
    answer = news_pipeline.ask("How many coastal roads did the rain close?").model_copy(update={"score": score})
    message = render.answer_message(answer, 0.16)
    assert f'<span class="level level-{level}">{words}</span> <details class="numbers"><summary>why?</summary>' in message
    assert f"confidence {score:.2f}; answers need 0.16</span></details>" in message
    assert message.index(words) < message.index("confidence")  # the words first; the jargon behind a click


def test_citation_text_names_quote_title_date_and_place(news_pipeline):
    citation = news_pipeline.ask("How many coastal roads did the rain close?").citations[0]
    text = render.citation_text(citation)
    assert text.startswith("“Heavy rain closed 14 coastal roads in Brighton on Tuesday.”")
    assert "Storm closes coastal roads, Coast Daily, 2022-08-02" in text and "characters 0-58" in text


def test_an_answer_from_the_article_header_is_not_shown_as_a_quote():
    cited = Citation(n=1, article_id="a", title="Rates held", published=None, path="a.txt", start=0, end=0, passage="The bank held.")
    answer = Answer(
        question="Who wrote it?", found=True, answer="By Xinhua (byline)", span="Xinhua", score=1.0, citations=[cited], kind="article_field", fact="byline"
    )
    message = render.answer_message(answer)
    assert "By Xinhua (byline)" in message and "“" not in message and "from the article's byline" in message
    dated = answer.model_copy(update={"answer": "Published 5 February 2020 (article header)", "fact": "published"})
    assert "from the article's publication date" in render.answer_message(dated)
    assert render.citation_text(cited) == "Rates held, undated, a.txt"


def test_a_list_of_articles_shows_each_with_its_mention_in_bold(news_pipeline):
    answer = news_pipeline.ask("Which articles mention rain?")
    message, panel = render.answer_message(answer), render.sources_panel(answer)
    assert "1 article mentions “rain”, newest first" in message and "[1]" in message and "confidence" not in message
    assert "<strong>rain</strong>" in panel and "Storm closes coastal roads" in panel
    assert "No article mentions “Huawei”." in render.answer_message(news_pipeline.ask("Which articles mention Huawei?"))


def test_article_markup_is_shown_as_text_never_run(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False)
    (pipeline.corpus / "harbour.md").write_text(EVIL, encoding="utf-8")
    pipeline.index()
    answer = pipeline.ask("How much will the harbour upgrade cost?")
    assert answer.found and "40 million euros" in answer.span  # the markup beside it may be read as text, never run
    message, panel = render.answer_message(answer), render.sources_panel(answer)
    assert "&lt;script&gt;window.pwned = " in message and "&lt;/script&gt;" in message and "<script" not in message
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; Harbour &lt;b&gt;upgrade&lt;/b&gt;" in panel
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in panel
    assert tags(message) | tags(panel) <= RENDERED_TAGS


# ---- the question box -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_question_box_input_gets_an_answer_or_a_clear_message(news_pipeline, text):
    box, chat, turns, _ = last(chat_turn(news_pipeline, text, [], [], 5, "hybrid", None, None, ""))
    if not text.strip():
        assert (box, chat, turns) == (text, [], [])
        return
    question, reply = chat
    assert question == {"role": "user", "content": render.question_message(text)}
    assert tags(question["content"]) == {"div"} and tags(reply["content"]) <= RENDERED_TAGS
    if "Please rephrase" in reply["content"]:
        assert box == text and turns == []  # the question stays for the user to fix
    else:
        assert box == "" and len(turns) == 1


@pytest.mark.parametrize(
    "since, until, message",
    [
        ("2022-13-01", None, "is not a date as YYYY-MM-DD"),
        ("yesterday", None, "the from date (since) &#x27;yesterday&#x27; is not a date as YYYY-MM-DD"),  # escaped in the page
        ("2022-01-01", "2021-01-01", "is after the to date"),
    ],
)
def test_bad_date_settings_get_a_plain_message(news_pipeline, since, until, message):
    box, chat, _, _ = last(chat_turn(news_pipeline, "Who is the spokesperson?", [], [], 5, "hybrid", since, until, ""))
    assert message in chat[-1]["content"] and box == "Who is the spokesperson?"


def test_settings_filter_the_sources(news_pipeline):
    *_, panel = last(chat_turn(news_pipeline, "What did the spokesperson say?", [], [], 3, "dense", "2022-01-01", None, ""))
    assert "Storm closes coastal roads" in panel and "China calls for open" not in panel


def test_chosen_articles_are_the_only_ones_asked_and_the_chat_says_so(news_pipeline):
    choices = dict((label, value) for label, value in render.article_choices(news_pipeline.articles()))
    storm = choices["Storm closes coastal roads (2022-08-02)"]
    _, chat, _, panel = last(chat_turn(news_pipeline, "What did the spokesperson say?", [], [], 5, "hybrid", None, None, "", [storm]))
    assert "(only the 1 chosen article)" in chat[0]["content"]
    assert "Storm closes coastal roads" in panel and "China calls for open" not in panel


def test_tell_me_more_shows_each_other_sentence_quoted_with_its_marker(news_pipeline):
    settings = (5, "hybrid", None, None, "")
    _, chat, turns, _ = last(chat_turn(news_pipeline, "Who is the Foreign Ministry spokesperson?", [], [], *settings))
    _, chat, turns, panel = last(chat_turn(news_pipeline, "What else did she say?", chat, turns, *settings))
    reply = chat[-1]["content"]
    assert reply.count('<p class="quote">') == reply.count('class="marker"') >= 2
    assert "more on: Who is the Foreign Ministry spokesperson?" in reply and "confidence" not in reply
    # one card for the article, each cited sentence marked inside it, each [n] link's anchor there
    cited = turns[-1].quoted
    assert panel.count('<article class="source">') == 1 and panel.count("<mark>") >= len(cited) >= 2
    assert all(f'id="source-{n}"' in panel for n in range(1, len(cited) + 1))


def test_follow_up_in_the_chat_uses_the_history_and_a_chip_asks_it_on_its_own(news_pipeline):
    settings = (5, "hybrid", None, None, "")
    _, chat, turns, _ = last(chat_turn(news_pipeline, "Who is the Foreign Ministry spokesperson?", [], [], *settings))
    assert not scope_chips(turns)[2]["visible"]
    _, chat, turns, panel = last(chat_turn(news_pipeline, "When did she say that?", chat, turns, *settings))
    assert "<strong>Wednesday</strong>" in chat[-1]["content"] and "follow-up to “Who is the Foreign Ministry spokesperson?”" in chat[-1]["content"]
    assert len(chat) == 4 and len(turns) == 2 and "China calls for open" in panel
    assert scope_chips(turns)[2]["visible"]
    _, chat, turns, _ = last(chat_turn(news_pipeline, "When did she say that?", chat, turns, *settings, alone=True))
    assert "(on its own)" in chat[-2]["content"] and "follow-up" not in chat[-1]["content"]
    assert not scope_chips(turns)[2]["visible"]


def test_a_kept_conversation_comes_back_whole_and_a_follow_up_still_points_back(news_pipeline):
    settings = (5, "hybrid", None, None, "")
    _, chat, turns, panel = last(chat_turn(news_pipeline, "Who is the Foreign Ministry spokesperson?", [], [], *settings))
    kept = json.loads(json.dumps(kept_conversation(chat, turns, panel)))  # as the browser stores it: JSON
    chat_back, turns_back, panel_back = restored_conversation(kept)
    assert (chat_back, turns_back, panel_back) == (chat, turns, panel)
    _, chat, _, _ = last(chat_turn(news_pipeline, "When did she say that?", chat_back, turns_back, *settings))
    assert "<strong>Wednesday</strong>" in chat[-1]["content"] and "follow-up to" in chat[-1]["content"]
    # the chatbot's value as Gradio 6 hands it back, each content a list of parts: kept and restored as the
    # message itself (a reload showed "[{'text': '…', 'type': 'text'}]" around every message)
    as_parts = [{**m, "content": [{"text": m["content"], "type": "text"}]} for m in chat]
    assert restored_conversation(json.loads(json.dumps(kept_conversation(as_parts, turns, panel))))[0] == chat


@pytest.mark.parametrize("kept", [None, {}, {"chat": "x"}, {"chat": [{"role": "user"}], "turns": []}, {"chat": [], "turns": [{"question": 3}]}, [1, 2]])
def test_a_kept_conversation_this_page_cannot_read_starts_an_empty_one(kept):
    assert restored_conversation(kept) == ([], [], render.sources_panel(None))


def test_only_the_newest_turns_are_kept():
    turns = [Turn(question=f"q{n}") for n in range(KEPT_TURNS + 5)]
    chat = [{"role": role, "content": f"{role} {n}"} for n in range(KEPT_TURNS + 5) for role in ("user", "assistant")]
    kept = kept_conversation(chat, turns, None)
    assert len(kept["turns"]) == KEPT_TURNS and kept["turns"][0]["question"] == "q5" and kept["chat"][0]["content"] == "user 5"


# ---- uploads ----------------------------------------------------------------------------------------


def test_uploads_are_indexed_and_bad_files_get_their_reason(fresh_pipeline, tmp_path, backend):
    pipeline = fresh_pipeline(extra=False, **backend)
    pipeline.index()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    files = {
        "library.md": "---\ntitle: Library reopens\ndate: 2023-02-01\n---\nThe city library reopened on Friday.\n",
        "broken.json": '{"title": "Broken", "text": ',
        "feed.jsonl": '{"title": "Wind farm approved", "text": "The council approved a 12-turbine wind farm."}\nnot json\n',
        "photo.png": "\x89PNG not an article",
    }
    for name, text in files.items():
        (incoming / name).write_text(text, encoding="utf-8")
    outcomes, report = add_uploads(pipeline, [incoming / name for name in files])
    by_name = {o.name: o for o in outcomes}
    assert by_name["library.md"].stored == "uploads/library.md" and not by_name["library.md"].problems
    assert by_name["broken.json"].stored is None and "invalid JSON" in by_name["broken.json"].problems[0]
    assert by_name["photo.png"].stored is None and "unsupported file type" in by_name["photo.png"].problems[0]
    assert by_name["feed.jsonl"].stored and ":2: invalid JSON" in by_name["feed.jsonl"].problems[0]
    assert sorted(p.name for p in (pipeline.corpus / "uploads").iterdir()) == ["feed.jsonl", "library.md"]
    assert report.embedded_chunks == 2 and pipeline.status().articles == 3
    assert pipeline.ask("How many turbines does the wind farm have?").span == "12"
    report_html = render.upload_report(outcomes, report)
    assert "not added" in report_html and "broken.json" in report_html and tags(report_html) <= RENDERED_TAGS


def test_a_pdf_and_a_docx_upload_are_answered_from_and_an_encrypted_pdf_gets_its_reason(fresh_pipeline, tmp_path):
    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "ferry.pdf").write_bytes(make_pdf(["Ferry service resumes", "", "The island ferry resumed service on Friday after a", "three-week strike."]))
    (incoming / "tram.docx").write_bytes(make_docx(["Tram line opens", "The new tram line to Eastfield cost 40 million euros."]))
    (incoming / "locked.pdf").write_bytes(make_pdf(["Secret"], password="pw"))
    outcomes, _ = add_uploads(pipeline, sorted(incoming.iterdir()))
    by_name = {o.name: o for o in outcomes}
    assert by_name["ferry.pdf"].stored and by_name["tram.docx"].stored
    assert by_name["locked.pdf"].problems == ["encrypted PDF that needs a password: save an unprotected copy to index it"]
    answer = pipeline.ask("How much did the tram line to Eastfield cost?")
    assert answer.found and answer.span == "40 million euros" and answer.citations[0].title == "Tram line opens"
    c = pipeline.ask("When did the island ferry resume service?").citations[0]
    assert c.passage[c.start - c.passage_start : c.end - c.passage_start].startswith("The island ferry resumed service")


def test_an_upload_never_overwrites_another_article(fresh_pipeline, tmp_path):
    pipeline = fresh_pipeline(extra=False)
    first, second = tmp_path / "a" / "note.txt", tmp_path / "b" / "note.txt"
    for path, text in ((first, "Bridge closes\n\nThe old bridge closed."), (second, "Ferry starts\n\nA new ferry started.")):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    add_uploads(pipeline, [first])
    outcomes, _ = add_uploads(pipeline, [second, first])
    assert [o.stored for o in outcomes] == ["uploads/note-2.txt", "uploads/note.txt"]
    assert outcomes[1].notes == ["the same file was already there"]


# ---- the served app: API and queue --------------------------------------------------------------


@pytest.fixture(scope="module")
def served(news_pipeline):
    port = free_port()
    app = serve(news_pipeline, port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def test_api_returns_the_rag_ask_json_object(served, news_pipeline):
    question = "Who is the Foreign Ministry spokesperson?"
    result = json.loads(Client(served, verbose=False).predict(question, api_name="/ask"))
    assert result == news_pipeline.ask(question).contract()


def test_api_takes_the_settings_by_name(served):
    client = Client(served, verbose=False)
    result = json.loads(client.predict("What did the spokesperson say?", k=2, retriever="dense", since="2022-01-01", api_name="/ask"))
    cited = result["citations"] or result["related"]
    assert cited and all(c["published"] >= "2022-01-01" for c in cited) and len(cited) <= 2
    chosen = json.loads(client.predict("What did the spokesperson say?", ["markets.md"], api_name="/ask_articles"))
    assert {c["title"] for c in chosen["citations"] + chosen["related"]} == {"Central bank holds rates steady"}
    with pytest.raises(Exception, match="no indexed article has the id or file 'nowhere.md'"):
        client.predict("Who?", ["nowhere.md"], api_name="/ask_articles")


@pytest.mark.parametrize(
    "question, kwargs, message",
    [
        ("   ", {}, "the question is empty"),
        ("Who?", {"retriever": "magic"}, "retriever is one of"),
        ("Who?", {"k": -3}, "at least 1"),
    ],
)
def test_api_bad_input_is_an_error_with_the_reason(served, question, kwargs, message):
    with pytest.raises(Exception, match=message):
        Client(served, verbose=False).predict(question, api_name="/ask", **kwargs)


def test_twenty_concurrent_questions_all_get_answers(served):
    questions = [f"Question {i}: who is the Foreign Ministry spokesperson?" for i in range(20)]
    replies = ask_concurrently(served, questions)
    assert [r.error for r in replies] == [None] * 20
    assert all(r.answer["question"] == q and "found" in r.answer for r, q in zip(replies, questions))


def test_a_time_in_the_question_shows_as_a_chip_that_asks_again_over_every_date(tmp_path, settings, encoder):
    from rag.pipeline import Pipeline

    corpus = tmp_path / "bank"
    corpus.mkdir()
    pipeline = Pipeline(settings, corpus=write_bank_stories(corpus), encoder=encoder)
    pipeline.index()
    question = "What growth did the Bank of England forecast on March 3?"
    _, chat, turns, _ = last(chat_turn(pipeline, question, [], [], 5, "hybrid", None, None, ""))
    assert "searched articles of 1987-03-03 (“on March 3”)" in chat[-1]["content"] and "3.1 percent" in chat[-1]["content"]
    chip, no_source, no_follow_up = scope_chips(turns)
    assert not no_source["visible"] and not no_follow_up["visible"] and chip["visible"]
    assert chip["value"] == "✕ only articles of 3 March 1987 · search every date"  # a person's words, not the scope's label
    _, chat, turns, _ = last(chat_turn(pipeline, question, chat, turns, 5, "hybrid", None, None, "", time_filter=False))
    assert "(every date)" in chat[-2]["content"] and "searched articles" not in chat[-1]["content"]
    hidden = {"__type__": "update", "visible": False}
    assert scope_chips(turns) == scope_chips([]) == (hidden, hidden, hidden)
    # a list of a day's stories offers no "every date": without its day the question asked for nothing
    _, _, turns, _ = last(chat_turn(pipeline, "What did Example Wire report on March 3?", [], [], 5, "hybrid", None, None, ""))
    assert turns[-1].listed and not scope_chips(turns)[0]["visible"]


def test_a_citation_says_where_else_the_story_ran():
    citation = Citation(
        n=1,
        article_id="a",
        title="Storm closes coastal roads",
        published=None,
        path="wire.md",
        start=0,
        end=5,
        passage="Heavy rain",
        also_in=["Gale shuts coast roads (Harbor Wire, copy.md)"],
    )
    answer = Answer(question="q", found=True, answer="Heavy", span="Heavy", score=0.9, citations=[citation])
    assert '<p class="also-in">also in: Gale shuts coast roads (Harbor Wire, copy.md)</p>' in render.sources_panel(answer)


def test_the_library_lists_every_article_newest_first(news_pipeline):
    rows = render.library_rows(news_pipeline.articles())
    assert [row[1] for row in rows] == ["2022-08-02", "2021-03-17", "2020-02-05 20:16"]
    assert rows[0] == ["Storm closes coastal roads", "2022-08-02", "Coast Daily", "storm.json (record 1)"]
    assert rows[2] == ["China calls for open, equitable environment for 5G technology", "2020-02-05 20:16", "Xinhua", "000_2479b7865a29b2a5.txt"]


def test_the_server_loads_the_models_before_it_says_the_index_is_ready(fresh_pipeline, caplog):
    import logging

    import ui.app

    pipeline = fresh_pipeline(extra=False)
    loaded = []
    pipeline.keeper.load_models = lambda: loaded.append(pipeline.loaded().generation)  # the real one is timed by eval/cold_start.py
    caplog.set_level(logging.INFO, logger="ui.app")
    ui.app._update_index(pipeline)
    assert loaded == [pipeline.loaded().generation]
    assert caplog.messages[-1] == ui.app.INDEX_READY
