"""The chat page over the pipeline, and the same pipeline as the `ask` API endpoint.

The page only calls the pipeline; all HTML comes from ui.render, where article text is escaped.
Nothing is fetched from another host: fonts are Gradio's bundled files or the system's, analytics
are off, and the chat renders no LaTeX (KaTeX would be its only other asset).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import reprlib
import shutil
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from rag.config import RETRIEVER_MODES, RetrieverMode
from rag.index.ingest import SUPPORTED_SUFFIXES
from rag.index.removal import RemovalError
from rag.index.store import IndexStoreError
from rag.pipeline import Pipeline, QuestionError
from rag.query.example_questions import example_questions
from rag.query.followup import Turn
from rag.query.reader_model import ReaderModelError
from rag.query.request import AskRequest, RequestError
from rag.schema import Answer, Article
from ui import render
from ui.api import NO_INDEX_YET, OPENAPI_URL, Api
from ui.guard import RequestGuard, ServerToken, allowed_hosts, shown
from ui.sessions import SESSIONS_KEPT, ReleaseSessions
from ui.uploads import UploadOutcome, add_uploads

log = logging.getLogger(__name__)
_LOGGED = reprlib.Repr()  # a question in the log: quoted, cut at 120 characters
_LOGGED.maxstring = 120
HERE = Path(__file__).resolve().parent
TITLE = "Ask the news"
UPLOAD_COPIES_KEPT_S = 3600
UPLOAD_COPIES = "upload-copies"  # in the data folder: Gradio's copies of uploads, a folder per server process
NOT_INDEXED_YET = "the articles are still being indexed (the progress is at the top of the page); ask again in a moment"
INDEX_READY = "index ready: questions are answered from it"  # the server's log line scripts wait for
PROGRESS_POLL_S = 2.0  # how often the page shows how far the index run started with the server got
UPLOAD_POLL_S = 0.5  # how often an upload's progress bar is moved on
# A ceiling on what an upload sends, far over the loader's per-file limit: a file between the two arrives and
# is refused with its reason in the upload area (a file over the ceiling only gets Gradio's notice).
UPLOAD_CEILING = 10
# The conversation kept in the browser (localStorage, encrypted by Gradio with this server's secret), so a
# reload shows it again and follow-ups still point back; the newest turns only, to stay small.
KEPT_TURNS = 40
TOKEN_BOX = "Server token"  # the page's box for RAG_API_TOKEN, shown when the server has one

# The page's script and styles live beside this file (issue 10: not strings inside the app).
COPY_JS = (HERE / "copy_citation.js").read_text(encoding="utf-8")
CSS = (HERE / "app.css").read_text(encoding="utf-8")


def ask(
    pipeline: Pipeline,
    question: str,
    k: int | None = None,
    retriever: RetrieverMode | None = None,
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    articles: Sequence[str] | None = None,
    history: Sequence[Turn] = (),
    time_filter: bool = True,
    source_filter: bool = True,
) -> Answer:
    """The page's settings or the API's arguments turned into one pipeline call; RequestError / QuestionError on bad input."""
    started = time.perf_counter()
    try:
        request = AskRequest.of(
            question=question,
            k=k,
            retriever=retriever,
            since=since,
            until=until,
            source=source,
            articles=articles,
            history=tuple(history),
            time_filter=time_filter,
            source_filter=source_filter,
        )
        answer = pipeline.ask(request)
    except (QuestionError, RequestError) as exc:
        log.info("refused %s: %s", _LOGGED.repr(question), exc)  # the user's mistake, told to them: one line here
        raise
    except IndexStoreError as exc:
        if not isinstance(exc, NO_INDEX_YET):  # the index cannot answer now (Milvus gone): one line a question, no traceback
            log.error("failed %s: %s", _LOGGED.repr(question), exc)
        raise
    log.info(
        "asked %s: %s (confidence %.2f) in %.0f ms",
        _LOGGED.repr(question),
        "answered" if answer.found else "not found",
        answer.score,
        (time.perf_counter() - started) * 1000,
    )
    return answer


def token_refusal(token: ServerToken, given: str | None, doing: str) -> str | None:
    """Why the page does not go on with DOING without the server's token; None when GIVEN is it (or there is none)."""
    if token.matches(given):
        return None
    if not given:
        return f"{doing} needs the server's token: enter it in “{TOKEN_BOX}” above the settings"
    return f"the “{TOKEN_BOX}” entered is not the server's RAG_API_TOKEN, which {doing} needs"


def chat_turn(
    pipeline: Pipeline,
    message: str,
    chat: list[dict],
    turns: list[Turn],
    k: int | None,
    retriever: RetrieverMode | None,
    since: str | None,
    until: str | None,
    source: str | None,
    articles: Sequence[str] | None = None,
    time_filter: bool = True,
    source_filter: bool = True,
    alone: bool = False,
) -> Iterator[tuple[str, list[dict], list[Turn], str]]:
    """One question from the box: yields (box, chat, turns, sources panel) twice, the question
    at once and then the answer. A blank box changes nothing; a bad input keeps the question in the box.
    time_filter / source_filter off: a time / source the question names is not a filter; alone: the
    question is asked without the chat's history (the chips)."""
    if not (message or "").strip():
        yield message, chat, turns, gr.skip()
        return
    scope = [what for what, on in (("on its own", not alone), ("every date", time_filter), ("every source", source_filter)) if not on]
    if articles:
        scope.append(f"only the {len(articles)} chosen article{'s' if len(articles) != 1 else ''}")
    shown = f"{message} ({', '.join(scope)})" if scope else message
    chat = [*chat, {"role": "user", "content": render.question_message(shown)}]
    yield "", chat, turns, gr.skip()
    try:
        answer = ask(
            pipeline,
            message,
            k,
            retriever,
            since,
            until,
            source,
            articles,
            history=() if alone else turns,
            time_filter=time_filter,
            source_filter=source_filter,
        )
    except (QuestionError, RequestError, ReaderModelError) as exc:
        yield message, [*chat, {"role": "assistant", "content": render.error_message(str(exc))}], turns, gr.skip()
        return
    except NO_INDEX_YET:
        yield message, [*chat, {"role": "assistant", "content": render.wait_message(NOT_INDEXED_YET)}], turns, gr.skip()
        return
    except IndexStoreError as exc:  # logged by ask(); said to the asker, the question kept in the box
        yield message, [*chat, {"role": "assistant", "content": render.error_message(str(exc))}], turns, gr.skip()
        return
    reply = {"role": "assistant", "content": render.answer_message(answer, pipeline.threshold)}
    yield "", [*chat, reply], [*turns, Turn.of(answer)], render.sources_panel(answer)


def kept_conversation(chat: list[dict], turns: list[Turn], sources: str | None) -> dict:
    """What the browser keeps of the conversation: the chat's messages (HTML this page made), its
    turns as JSON, and the sources panel of the last answer; the newest KEPT_TURNS turns."""
    messages = [{"role": m["role"], "content": _message_text(m["content"])} for m in chat[-2 * KEPT_TURNS :]]
    return {"chat": messages, "turns": [t.model_dump(mode="json") for t in turns[-KEPT_TURNS:]], "sources": sources}


def _message_text(content: Any) -> str:
    """A chat message's HTML: Gradio 6 hands the chatbot's messages back with their content as parts
    ([{"text": …, "type": "text"}]), which str() would show as that list around the message."""
    if isinstance(content, list):
        return "".join(_message_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", "")) if content.get("type", "text") == "text" else ""
    return str(content)


def restored_conversation(kept: Any) -> tuple[list[dict], list[Turn], str]:
    """The kept conversation back as (chat, turns, sources); an empty one for nothing kept or for what
    this version cannot read (kept by another version of the page)."""
    try:
        chat = [{"role": m["role"], "content": _message_text(m["content"])} for m in kept["chat"] if m["role"] in ("user", "assistant")]
        turns = [Turn.model_validate(t) for t in kept["turns"]]
        sources = kept["sources"] if isinstance(kept.get("sources"), str) else render.sources_panel(None)
    except (TypeError, KeyError, AttributeError, ValueError):  # pydantic's ValidationError is a ValueError
        return [], [], render.sources_panel(None)
    return chat, turns, sources


def scope_chips(turns: list[Turn]) -> tuple[dict, dict, dict]:
    """The chips under the chat while the last answer searched only the dates / the source its question
    named, or read it as a follow-up; a click asks the question again over every date / every source /
    on its own."""
    time = turns[-1].time_scope if turns else None
    source = turns[-1].source_scope if turns else None
    follow_up_chip = gr.update(visible=True) if turns and turns[-1].follow_up else gr.update(visible=False)
    # in a person's words ("✕ only articles of 3 March 1987 · search every date"), not the scope's label
    # with the question's words in it ("searched articles of 1987-03-03 (“on March 3 about”)")
    time_chip = (
        gr.update(visible=True, value=f"✕ only articles {time.spoken()} · search every date")
        if time and time.filters_dates and time.applied and not turns[-1].listed  # a day's list without its day lists nothing
        else gr.update(visible=False)
    )
    source_chip = (
        gr.update(visible=True, value=f"✕ only articles from {source.source} · search every source") if source and source.applied else gr.update(visible=False)
    )
    return time_chip, source_chip, follow_up_chip


def build_app(pipeline: Pipeline, updating: threading.Thread | None = None) -> gr.Blocks:  # noqa: C901 (the page's layout and its handlers wired in one place; to split into panels next)
    """The page; `updating`: an index run started with the server, whose progress the header shows."""
    settings = pipeline.settings
    token = ServerToken(settings.api_token, settings.api_auth_all)

    def indexed() -> list[Article]:
        """The library's articles; none while the first index is still being built."""
        try:
            return pipeline.articles()
        except NO_INDEX_YET:
            return []

    def header_html() -> str:
        try:
            status = pipeline.status()
        except NO_INDEX_YET:
            status = None
        progress = pipeline.indexing
        return render.header(TITLE, status, progress.label() if progress else None)

    def poll() -> tuple:
        """While the index run started with the server goes on, its progress; when it ends, the library."""
        if updating is not None and updating.is_alive():
            return header_html(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return header_html(), library_rows(), *library_choices(), gr.Timer(active=False)

    def turn_with_token(message: str, chat: list[dict], turns: list[Turn], *settings_and_token: Any, **scope_off: Any) -> Iterator[tuple]:
        """chat_turn, the page's token (the last input) checked first where questions need it (RAG_API_AUTH_ALL)."""
        *settings, given = settings_and_token
        refusal = token_refusal(token, given, "asking") if token.everything else None
        if refusal:
            yield message, [*chat, {"role": "assistant", "content": render.error_message(refusal)}], turns, gr.skip()
            return
        yield from chat_turn(pipeline, message, chat, turns, *settings, **scope_off)

    def respond(*args) -> Iterator[tuple]:
        # Gradio sends an event's last yield again when the event completes, which can be after the answer
        # shows and the next question is typed: the box is emptied once, with the question, not again.
        for n, (box, *outputs) in enumerate(turn_with_token(*args)):
            yield (gr.skip() if n > 0 and box == "" else box), *outputs

    def widen(**scope_off: Any):
        """A chip's undo: the last question again without the time or source it named, or without the chat's history."""

        def again(chat: list[dict], turns: list[Turn], *settings) -> Iterator[tuple]:
            if turns:  # the box keeps whatever is being typed
                for _, *outputs in turn_with_token(turns[-1].question, chat, turns, *settings, **scope_off):
                    yield gr.skip(), *outputs

        return again

    def upload(files: list[str] | None, given_token: str | None, progress=gr.Progress()) -> tuple:  # noqa: B008 (how Gradio injects its progress)
        """The files checked, stored and indexed in a worker, while the bar shows each file read and then
        the chunks embedded so far (the index run's own count, polled)."""
        if not files:
            return gr.skip(), gr.skip(), None, gr.skip()
        refusal = token_refusal(token, given_token, "adding articles")
        if refusal:  # nothing stored: Gradio's own copies go with its cache
            return render.upload_report([UploadOutcome(name=Path(f).name, problems=[refusal]) for f in files], None), gr.skip(), None, gr.skip()
        doing = ["reading files"]
        progress(0, desc=doing[0])
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload") as worker:
            work = worker.submit(add_uploads, pipeline, files, doing.append)
            while not futures.wait([work], timeout=UPLOAD_POLL_S).done:
                running = pipeline.indexing
                if running is not None and running.total:
                    progress((running.embedded, running.total), desc=running.label(), unit="chunks")
                else:
                    progress(None, desc=doing[-1])
            outcomes, report = work.result()
        return render.upload_report(outcomes, report), header_html(), None, library_rows()

    def library_rows() -> list[list[str]]:
        return render.library_rows(indexed())

    def menus_of(articles: list[Article]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[list[str]]]:
        """The articles to ask about, the files to remove (by their titles), the example questions (as samples)."""
        return render.article_choices(articles), render.file_choices(articles), [[q] for q in example_questions(articles)]

    def library_choices() -> tuple[dict, dict, gr.Dataset]:
        """The menus of articles to ask about and of files to remove, and the example questions, as the
        library now stands."""
        choices, files, examples = menus_of(indexed())
        return gr.update(choices=choices), gr.update(choices=files, value=None), gr.Dataset(samples=examples, visible=bool(examples))

    def removal_refused(path: str | None, given_token: str | None) -> str | None:
        """Why a removal is not made: no file chosen, or not the server's token."""
        return "choose a file to remove first" if not path else token_refusal(token, given_token, "removing articles")

    def ask_to_remove(path: str | None, given_token: str | None) -> tuple:
        """The first click: what would go, and a button that does it (nothing is removed yet)."""
        problem = removal_refused(path, given_token)
        if problem or not path:
            return render.removal_report(None, problem), gr.update(visible=False)
        titles = [a.title for a in indexed() if a.path == path]
        return render.removal_question(path, titles), gr.update(visible=True)

    def remove(path: str | None, given_token: str | None) -> tuple:
        """The confirmed removal: the file kept in .removed/, its articles out of the index, an undo offered."""
        hide = gr.update(visible=False)
        problem = removal_refused(path, given_token)
        if problem or not path:
            return render.removal_report(None, problem), hide, gr.skip(), gr.skip(), None, hide
        try:
            removal = pipeline.remove(path)
        except (RemovalError, IndexStoreError) as exc:
            return render.removal_report(None, str(exc)), hide, gr.skip(), gr.skip(), None, hide
        log.info("removed %s from the library", path)
        return render.removal_report(removal), hide, header_html(), library_rows(), path, gr.update(visible=True)

    def undo_removal(path: str | None, given_token: str | None) -> tuple:
        hide = gr.update(visible=False)
        if not path:
            return gr.skip(), hide, gr.skip(), gr.skip(), None
        refusal = token_refusal(token, given_token, "restoring articles")
        if refusal:  # the undo stays offered, for once the token is entered
            return render.removal_report(None, refusal, undo=True), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            restored = pipeline.restore(path)
        except (RemovalError, IndexStoreError) as exc:
            return render.removal_report(None, str(exc), undo=True), hide, gr.skip(), gr.skip(), None
        log.info("restored %s to the library", path)
        return render.removal_report(restored), hide, header_html(), library_rows(), None

    def answered(*args) -> str:
        """The JSON text `rag ask --json` prints, or the caller's mistake said to the caller (no traceback
        in the server's console). Text, not a dict: gradio_client downloads every returned dict with a
        "path" key as a file, and each citation has one."""
        try:
            return json.dumps(ask(pipeline, *args).contract(), ensure_ascii=False)
        except (QuestionError, RequestError, ReaderModelError) as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        except NO_INDEX_YET as exc:
            raise gr.Error(NOT_INDEXED_YET, print_exception=False) from exc
        except IndexStoreError as exc:  # logged by ask()
            raise gr.Error(str(exc), print_exception=False) from exc

    def ask_api(
        question: str,
        k: int | None = None,
        retriever: str | None = None,
        since: str | None = None,
        until: str | None = None,
        source: str | None = None,
    ) -> str:
        """Answer a question from the articles.

        Returns the JSON text `rag ask --json` prints: found, answer, span, score, citations, related.
        """
        return answered(question, k, retriever, since, until, source)

    def ask_articles_api(
        question: str,
        articles: list[str],
        k: int | None = None,
        retriever: str | None = None,
        since: str | None = None,
        until: str | None = None,
        source: str | None = None,
    ) -> str:
        """Answer a question from the chosen articles only: ids or files, as the library lists them.

        /ask keeps its arguments as they were, so clients that send all of them keep working.
        """
        return answered(question, k, retriever, since, until, source, articles)

    choices, removable_files, examples = menus_of(indexed())  # as the page is built; refreshed on load and after changes
    # Gradio's copies of uploads are removed an hour after they arrive, and all of them when the server stops.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(UPLOAD_COPIES_KEPT_S, UPLOAD_COPIES_KEPT_S)) as app:
        header = gr.HTML(header_html(), elem_id="header", js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=340):
                chat = gr.Chatbot(
                    elem_id="chat",
                    label="Chat",
                    show_label=False,  # the floating label covered the top line of a scrolled chat
                    height=480,
                    buttons=[],  # its copy button would copy the message's HTML; sources have "Copy citation"
                    latex_delimiters=[],
                    feedback_options=None,
                    placeholder='<div class="empty-chat">Ask a question: the answer is a sentence quoted from the '
                    "articles, the answer itself in bold, with its sources beside the chat. Follow-up questions work too.</div>",
                )
                with gr.Row():
                    question = gr.Textbox(
                        elem_id="question",
                        show_label=False,
                        placeholder="Ask about the articles…",
                        max_length=settings.max_question_chars,
                        autofocus=True,
                        scale=5,
                        min_width=240,
                    )
                    with gr.Column(scale=2, min_width=160), gr.Row():  # the two buttons wrap together
                        send = gr.Button("Ask", variant="primary", min_width=70)
                        clear = gr.Button("Clear", elem_id="clear", min_width=70)
                with gr.Row():
                    time_chip = gr.Button(elem_id="time-chip", visible=False, size="sm", variant="secondary")
                    source_chip = gr.Button(elem_id="source-chip", visible=False, size="sm", variant="secondary")
                    follow_up_chip = gr.Button(
                        "✕ read as a follow-up · ask it on its own", elem_id="follow-up-chip", visible=False, size="sm", variant="secondary"
                    )
                # drawn from the library, refreshed when it changes (none while there is no index yet)
                example_list = gr.Dataset(components=[question], samples=examples, label="Example questions", elem_id="examples", visible=bool(examples))
            with gr.Column(scale=2, min_width=300):
                sources = gr.HTML(render.sources_panel(None), elem_id="sources", js_on_load=COPY_JS)
        # Asked for once, kept in the browser (encrypted, as the conversation is) until the server restarts.
        token_box = gr.Textbox(
            type="password",
            label=f"{TOKEN_BOX} (RAG_API_TOKEN): {'questions, ' if token.everything else ''}adding and removing articles need it",
            elem_id="server-token",
            visible=token.guards_changes,
        )
        kept_token = gr.BrowserState("", storage_key="ask-the-news-token")
        with gr.Accordion("Settings", open=False):
            with gr.Row():
                k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages to read")
                retriever = gr.Radio(list(RETRIEVER_MODES), value=settings.retriever, label="Retriever")
            with gr.Row():
                # Text boxes, not gr.DateTime: its picker drops what it cannot parse ("yesterday") without a
                # word, and the answer came back unfiltered (issue 13 item 6); here a bad date is told.
                since = gr.Textbox(label="Published on or after", placeholder="YYYY-MM-DD", max_length=10, elem_id="since")
                until = gr.Textbox(label="Published on or before", placeholder="YYYY-MM-DD", max_length=10, elem_id="until")
                source = gr.Textbox(label="Source, byline or file contains", placeholder="e.g. Xinhua")
        with gr.Accordion("Add articles", open=False):
            files = gr.File(
                elem_id="upload",
                file_count="multiple",  # any type: one the library cannot read is refused with its reason beside it
                label=f"Articles ({' '.join(SUPPORTED_SUFFIXES)}): indexed as soon as they arrive",
            )
            upload_result = gr.HTML(elem_id="upload-result", js_on_load=None)
        with gr.Accordion("Library: the indexed articles", open=False):
            # sortable by any column (click its header), searchable across all
            library = gr.Dataframe(
                value=library_rows(),
                headers=render.LIBRARY_COLUMNS,
                elem_id="library",
                interactive=False,
                show_search="search",
                wrap=True,
                max_height=420,
            )
            chosen = gr.Dropdown(
                choices=choices,
                value=[],
                multiselect=True,
                elem_id="chosen-articles",
                label="Ask only about these articles (none chosen: all of them)",
            )
            with gr.Row():
                removable = gr.Dropdown(
                    choices=removable_files,
                    value=None,
                    elem_id="remove-file",
                    scale=4,
                    label="Remove a file's articles from the library (type to filter; the file is kept and can be restored)",
                )
                remove_button = gr.Button("Remove…", variant="stop", elem_id="remove", scale=1, min_width=90)
            removal_result = gr.HTML(elem_id="removal-result", js_on_load=None)
            with gr.Row(visible=False) as confirm_row:  # a removal asks first
                confirm_button = gr.Button("Yes, remove it", variant="stop", elem_id="confirm-remove", size="sm")
                cancel_button = gr.Button("Cancel", elem_id="cancel-remove", size="sm")
            undo_button = gr.Button("Undo the removal", elem_id="undo-remove", visible=False, size="sm")
            removed = gr.State(None)  # the file the undo puts back
        turns = gr.State([])
        kept = gr.BrowserState({"chat": [], "turns": [], "sources": None}, storage_key="ask-the-news-conversation")
        ticker = gr.Timer(PROGRESS_POLL_S, active=updating is not None)

        chat_inputs = [question, chat, turns, k, retriever, since, until, source, chosen, token_box]
        chat_outputs = [question, chat, turns, sources]
        # A question sent before the previous one's event completes runs after it; Gradio's default
        # trigger mode ("once") would drop it without a sign.
        options: dict[str, Any] = dict(concurrency_limit=settings.serve_concurrency, concurrency_id="ask", trigger_mode="always_last", api_visibility="private")
        chip: dict[str, Any] = dict(fn=scope_chips, inputs=turns, outputs=[time_chip, source_chip, follow_up_chip], queue=False, api_visibility="private")
        keep: dict[str, Any] = dict(fn=kept_conversation, inputs=[chat, turns, sources], outputs=kept, queue=False, api_visibility="private")

        def then_chips_and_keep(event: Any) -> None:
            event.then(**chip).then(**keep)

        then_chips_and_keep(question.submit(respond, chat_inputs, chat_outputs, **options))
        then_chips_and_keep(send.click(respond, chat_inputs, chat_outputs, **options))
        then_chips_and_keep(
            example_list.click(lambda sample: sample[0], example_list, question, queue=False, api_visibility="private").then(
                respond, chat_inputs, chat_outputs, **options
            )
        )
        then_chips_and_keep(time_chip.click(widen(time_filter=False), chat_inputs[1:], chat_outputs, **options))
        then_chips_and_keep(source_chip.click(widen(source_filter=False), chat_inputs[1:], chat_outputs, **options))
        then_chips_and_keep(follow_up_chip.click(widen(alone=True), chat_inputs[1:], chat_outputs, **options))
        fresh_start: dict[str, Any] = dict(fn=lambda: ("", [], [], render.sources_panel(None)), outputs=chat_outputs, queue=False, api_visibility="private")
        then_chips_and_keep(clear.click(**fresh_start))
        then_chips_and_keep(chat.clear(**fresh_start))  # the chat's own trash button forgets the history and sources too
        menus: dict[str, Any] = dict(fn=library_choices, outputs=[chosen, removable, example_list], queue=False, api_visibility="private")
        library_lock: dict[str, Any] = dict(concurrency_limit=1, concurrency_id="library", api_visibility="private")
        files.upload(upload, [files, token_box], [upload_result, header, files, library], **library_lock).then(**menus)
        remove_button.click(ask_to_remove, [removable, token_box], [removal_result, confirm_row], queue=False, api_visibility="private")
        cancel_button.click(lambda: ("", gr.update(visible=False)), None, [removal_result, confirm_row], queue=False, api_visibility="private")
        confirm_button.click(remove, [removable, token_box], [removal_result, confirm_row, header, library, removed, undo_button], **library_lock).then(**menus)
        undo_button.click(undo_removal, [removed, token_box], [removal_result, undo_button, header, library, removed], **library_lock).then(**menus)
        # always_last: typed a key at a time, the whole token is kept, not its first letter
        token_box.change(lambda given: given, token_box, kept_token, queue=False, trigger_mode="always_last", api_visibility="private")
        app.load(lambda kept: kept, kept_token, token_box, show_progress="hidden", queue=False, api_visibility="private")
        # Another page (or `rag index`) may have added articles since this one was built.
        app.load(header_html, None, header, show_progress="hidden", api_visibility="private")

        # a reload shows the conversation again, its chips included
        app.load(restored_conversation, kept, [chat, turns, sources], show_progress="hidden", queue=False, api_visibility="private").then(**chip)
        ticker.tick(
            poll,
            None,
            [header, library, chosen, removable, example_list, ticker],
            show_progress="hidden",
            queue=False,
            api_visibility="private",
        )
        app.load(library_rows, None, library, show_progress="hidden", api_visibility="private")
        app.load(show_progress="hidden", **menus)
        gr.api(ask_api, api_name="ask", concurrency_limit=settings.serve_concurrency, concurrency_id="ask")
        gr.api(ask_articles_api, api_name="ask_articles", concurrency_limit=settings.serve_concurrency, concurrency_id="ask")
    return app


def _update_index(pipeline: Pipeline) -> None:
    """The index brought up to date while the page is up, then the models loaded; its report goes to the
    server's log, then INDEX_READY."""
    try:
        report = pipeline.ensure_index()
        for line in report.summary_lines() if report else ["the index is up to date"]:
            log.info("%s", line)
    except Exception as exc:  # a thread has no caller to tell: the log gets the one line, the page keeps the old index
        log.error("the index could not be updated: %s", exc)
    try:
        pipeline.load_models()  # the first question in the page then waits for nothing but its answer
    except IndexStoreError:
        pass  # no index to answer from: the page says so to each question
    except Exception as exc:  # as above: the log gets the one line; the first question will say what is wrong
        log.error("the models could not be loaded: %s", exc)
    log.info("%s", INDEX_READY)


def theme() -> gr.themes.Base:
    # Gradio's bundled Source Sans / IBM Plex Mono (served by this app), then system fonts: no web fonts.
    return gr.themes.Default(
        # Regular and Bold only: Gradio's SemiBold file draws some capitals lighter than the rest.
        font=[gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)), "system-ui", "sans-serif"],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 600)), "ui-monospace", "monospace"],
    )


def upload_copies_folder(data_dir: Path) -> Path:
    """Where Gradio keeps this process's copies of uploads (GRADIO_TEMP_DIR): a folder of its own in the data
    folder, not the /tmp/gradio every user's Gradio shares, removed when the process exits. A folder left by a
    process that ended without removing its own (killed, crashed) is removed here."""
    root = data_dir / UPLOAD_COPIES
    for folder in root.glob("*"):
        if folder.name.isdigit() and not _running(int(folder.name)):
            shutil.rmtree(folder, ignore_errors=True)
    own = root / str(os.getpid())
    if not own.is_dir():  # else an earlier server of this process made it, and it is removed at exit already
        own.mkdir(parents=True)
        atexit.register(shutil.rmtree, own, ignore_errors=True)
    return own


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _serve_until_stopped(app: gr.Blocks) -> None:
    """Serve until Ctrl+C or SIGTERM (kill, systemd, docker stop), which ended the process at once and left
    Gradio's copies of uploads behind; either closes the server as Gradio closes it, which removes them."""
    before = signal.signal(signal.SIGTERM, signal.default_int_handler)  # raises KeyboardInterrupt, as Ctrl+C does
    try:
        while app.is_running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping the server", flush=True)
    finally:
        app.close(verbose=False)  # its heartbeat streams ended first, so the web server stops at once
        signal.signal(signal.SIGTERM, before)


def serve(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860, block: bool = True, update_index: bool = False) -> gr.Blocks:
    """Serve the page, its Gradio API and the JSON API (ui/api.py: /api/, documented at /docs); with block=False
    return the running app (close it with .close()). update_index: bring the index up to date in the background,
    its progress in the page; until a first index exists, questions are told to wait. Only requests addressed to HOST (or a name the settings'
    allowed_hosts list) are answered, and only the page itself may send questions and files from a browser
    (ui/guard.py)."""
    settings = pipeline.settings
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    # read by Gradio as the page is built, when it starts, and on each upload
    copies = upload_copies_folder(settings.data_dir)
    os.environ["GRADIO_TEMP_DIR"] = str(copies)
    hosts = allowed_hosts(host, settings.allowed_hosts)
    if hosts is None:
        log.warning(
            "serving on every interface (%s): requests under any host name are answered, so a page on another site can read the "
            "answers through DNS rebinding; pass --host with this machine's address to answer only requests addressed to it",
            host,
        )
    else:
        log.info("answering requests addressed to %s", shown(hosts))
    updating = None
    if update_index:
        updating = threading.Thread(target=_update_index, args=(pipeline,), name="index-at-start", daemon=True)
        updating.start()
    upload_limit = UPLOAD_CEILING * settings.max_file_bytes  # a far bigger upload is refused while it arrives
    api = Api(pipeline, copies, ask, upload_limit)  # questions asked and logged as the page's
    app = build_app(pipeline, updating)
    server, _, _ = app.queue(default_concurrency_limit=1).launch(
        server_name=host,
        server_port=port,
        theme=theme(),
        css=CSS,
        show_error=True,
        max_file_size=upload_limit,
        footer_links=["api"],
        prevent_thread_lock=True,
        quiet=True,  # Gradio's own banner suggests share=True, a public link: never, for an offline tool
        state_session_capacity=SESSIONS_KEPT,
        app_kwargs={
            "docs_url": None,  # the JSON API's /docs is its own (ui/api.py): FastAPI's loads Swagger UI from a CDN
            "openapi_url": OPENAPI_URL,
            "middleware": [
                # inside only Gradio's compression and CORS headers: before any of its routes
                Middleware(RequestGuard, hosts=hosts, trusted=settings.allowed_hosts),
                Middleware(ReleaseSessions, blocks=app),  # REST calls and gone clients leave no session behind
            ],
        },
    )
    api.mount(server)  # /api/ beside the page, behind the same middleware
    if block:
        print(f"serving the chat on {app.local_url} (Ctrl+C stops it)", flush=True)
        _serve_until_stopped(app)
    return app
