"""What a hostile client sends through the API and the upload box (issue 9): each gets one line naming the
field or file, and nothing is lost or left behind."""

from __future__ import annotations

import errno
import json
import time
from pathlib import Path

import pytest

from eval.concurrency import free_port
from eval.load_test import rest_call
from rag.config import MAX_K
from rag.index.store import IndexStore
from rag.query.request import RequestError
from ui import uploads
from ui.app import ask, serve
from ui.uploads import add_uploads, safe_name

GOOD = {"question": "Who is the Foreign Ministry spokesperson?"}
K = "the number of passages (k)"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"question": 123}, "the question should be a valid string, not 123"),
        ({"source": 5}, "the source should be a valid string, not 5"),
        ({"k": "abc"}, f"{K} should be a valid integer, unable to parse string as an integer, not 'abc'"),
        ({"k": 1.5}, f"{K} should be a valid integer, got a number with a fractional part, not 1.5"),
        ({"k": 10**9}, f"{K} must be at most {MAX_K}, not 1000000000"),
        ({"k": -3}, f"{K} must be at least 1, not -3"),
        ({"retriever": "magic"}, "the retriever is one of 'hybrid', 'dense' or 'bm25', not 'magic'"),
        ({"since": "2020-01-01Tjunk"}, "the from date (since) '2020-01-01Tjunk' is not a date as YYYY-MM-DD"),
        ({"since": "20200101"}, "the from date (since) '20200101' is not a date as YYYY-MM-DD"),
        ({"until": 20200101}, "the to date (until) 20200101 is not a date as YYYY-MM-DD"),
        ({"since": "2022-01-01", "until": "2021-01-01"}, "the from date (since) 2022-01-01 is after the to date (until) 2021-01-01"),
        ({"source": "x" * 300}, "the source is at most 200 characters long, not 'xxxxxxxxxxxx...xxxxxxxxxxxxx'"),
        ({"k": True}, f"{K} must be a whole number from 1 to {MAX_K}, not true"),  # it was taken as 1
        ({"until": "9" * 1_000_000}, "the to date (until) '999999999999...9999999999999' is not a date as YYYY-MM-DD"),  # echoed whole
    ],
    ids=lambda value: str(value)[:40],
)
def test_every_bad_api_argument_gets_one_line_naming_the_field(news_pipeline, fields, message):
    with pytest.raises(RequestError) as error:
        ask(news_pipeline, **{**GOOD, **fields})
    assert str(error.value) == message


def test_the_page_and_api_values_that_are_fine_still_answer(news_pipeline):
    # the slider sends 5.0, an untouched date box "", the radio its label
    answer = ask(news_pipeline, GOOD["question"], k=5.0, retriever="hybrid", since="", until="2030-01-01", source=" ")
    assert answer.span == "Hua Chunying"
    assert len(ask(news_pipeline, "What happened?", k=MAX_K).related or []) <= MAX_K


def test_a_lone_surrogate_in_a_question_is_dropped_and_the_answer_encodes(news_pipeline):
    """A "\\ud800" in a question sent through the API came back as a raw UnicodeEncodeError."""
    answer = ask(news_pipeline, question="Who is the Foreign Ministry \ud800spokesperson?")
    assert answer.span == "Hua Chunying" and answer.question == "Who is the Foreign Ministry spokesperson?"
    assert json.dumps(answer.contract(), ensure_ascii=False).encode("utf-8")


# ---- uploads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "client_name, stored",
    [
        (".hidden.txt", "hidden.txt"),
        ("....x.txt", "x.txt"),  # how Gradio hands over "..\\..\\x.txt"
        ("..\\..\\evil.txt", "evil.txt"),
        ("a\x1b[2Jb.md", "a[2Jb.md"),
        ("é" * 300 + ".txt", "é" * 100 + ".txt"),
        ("..txt", "upload.txt"),  # a name that is all suffix kept it, so it is indexed (it lost it, and was not)
        (" .txt", "upload.txt"),
        ("...json", "upload.json"),
        ("report.tar.txt", "report.tar.txt"),
    ],
)
def test_an_upload_is_stored_under_a_name_the_indexer_reads(client_name, stored):
    assert safe_name(client_name) == stored


def test_a_hidden_named_upload_is_indexed_and_found(fresh_pipeline, tmp_path):
    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / ".hidden.txt").write_text("Lighthouse sold\n\nThe old lighthouse at Kerrow Point was sold for 2 million pounds.", encoding="utf-8")
    [outcome], report = add_uploads(pipeline, [incoming / ".hidden.txt"])
    assert outcome.stored == "uploads/hidden.txt" and not outcome.problems
    assert "uploads/hidden.txt" in report.added
    answer = pipeline.ask("How much was the lighthouse at Kerrow Point sold for?")
    assert answer.found and answer.citations[0].path.endswith("uploads/hidden.txt")


def test_an_upload_that_cannot_be_written_leaves_nothing_and_says_why(fresh_pipeline, tmp_path, monkeypatch):
    pipeline = fresh_pipeline(extra=False)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "full.txt").write_text("Disk news\n\nThe disk filled up on Monday.", encoding="utf-8")
    real_write = Path.write_bytes

    def disk_full(path: Path, data: bytes) -> int:
        real_write(path, data[: len(data) // 2])  # as a full disk does: part of it lands
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    [outcome], report = add_uploads(pipeline, [incoming / "full.txt"])
    uploads = pipeline.corpus / "uploads"
    assert outcome.stored is None and report is None
    assert outcome.problems == [f"could not be stored in {uploads}: No space left on device"]
    assert list(uploads.iterdir()) == []


def test_an_upload_batch_goes_on_past_a_file_that_would_crash_a_parser(fresh_pipeline, tmp_path):
    pipeline = fresh_pipeline(extra=False)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    deep = '{"text": "x", "y": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (incoming / "a.json").write_text('{"title": "Before", "text": "The file before the deep one."}', encoding="utf-8")
    (incoming / "deep.json").write_text(deep, encoding="utf-8")
    (incoming / "z.json").write_text('{"title": "After", "text": "The file after the deep one."}', encoding="utf-8")
    outcomes, report = add_uploads(pipeline, sorted(incoming.iterdir()))
    assert [(o.name, o.stored, o.problems) for o in outcomes] == [
        ("a.json", "uploads/a.json", []),
        ("deep.json", None, ["JSON nested more than 100 levels deep (the limit)"]),
        ("z.json", "uploads/z.json", []),
    ]
    assert {"uploads/a.json", "uploads/z.json"} <= set(report.added) and report.saved


def test_an_upload_while_another_process_indexes_is_queued_and_indexed_when_the_lock_frees(fresh_pipeline, tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "QUEUE_POLL_S", 0.1)
    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    (tmp_path / "late.txt").write_text("Late ferry\n\nThe late ferry to Arnholm left at midnight on Friday.", encoding="utf-8")
    # flock locks belong to open files: a lock held in this process conflicts like another process's `rag index`
    other = IndexStore(pipeline.store.path)
    with other.lock():
        [outcome], report = add_uploads(pipeline, [tmp_path / "late.txt"])
        assert report is None and outcome.stored == "uploads/late.txt" and outcome.notes == [uploads.QUEUED]
        time.sleep(0.5)  # the queued run keeps waiting while the lock is held
        assert "uploads/late.txt" not in pipeline.store.read_manifest().files
    deadline = time.monotonic() + 60
    while "uploads/late.txt" not in pipeline.store.read_manifest().files:
        assert time.monotonic() < deadline, "the queued upload was never indexed"
        time.sleep(0.2)


def test_rest_calls_leave_no_session_behind(news_pipeline):
    # Each call without a session hash (curl's way) is a session of its own: Gradio kept every one (issue 9, item 10).
    port = free_port()
    app = serve(news_pipeline, port=port, block=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        queue = app._queue

        def tables() -> tuple[int, ...]:
            return (
                len(app.state_holder.session_data),
                len(queue.pending_event_ids_session),
                len(queue.pending_messages_per_session),
                len(queue.event_analytics),
            )

        before = tables()
        answers = [rest_call(url, GOOD["question"]) for _ in range(20)]
        deadline = time.monotonic() + 5  # a session is released once its result stream has ended, just after the answer
        while tables() != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tables() == before
        assert all(answer["found"] for answer in answers)
    finally:
        app.close()


def test_a_callers_mistake_prints_no_traceback_on_the_server(news_pipeline, capfd):
    from gradio_client import Client

    port = free_port()
    app = serve(news_pipeline, port=port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        for bad in ({"question": ""}, {"question": "Who?", "since": "yesterday"}, {"question": "Who?", "k": 10**9}):
            with pytest.raises(Exception, match="question is empty|not a date|at most"):
                client.predict(api_name="/ask", **bad)
    finally:
        app.close()
    assert "Traceback" not in capfd.readouterr().err
