"""The JSON API beside the page (ui/api.py), through a real server on a free port: /api/ask returns the `rag ask
--json` object itself, bad fields are 400s that name them, the library can be listed, added to, removed from and
restored, the token guards what changes it, and `rag serve` beyond loopback wants a token."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from functools import partial

import httpx
import pytest
from pydantic import SecretStr

from eval.concurrency import free_port
from rag.cli import main
from rag.pipeline import Pipeline
from rag.query.followup import Turn
from rag.query.request import AskRequest
from tests.helpers import SEED_FILE, make_corpus
from ui.api import ApiError, AskQueue
from ui.app import serve

QUESTION = "Who is the Foreign Ministry spokesperson?"
TOKEN = "s3cret-token"
NOTE = ("note.txt", b"Ferry resumes\n\nThe ferry to the island resumed on Friday after the storm, the harbour master said.")


@pytest.fixture(scope="module")
def api(news_pipeline):
    """The API over the session's news corpus, no token: yields its base URL."""
    app, base = served(news_pipeline)
    yield base
    app.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, settings, encoder):
    """A library of its own behind RAG_API_TOKEN, small file limits: yields (base URL, pipeline)."""
    overrides = {"api_token": SecretStr(TOKEN), "max_file_bytes": 100_000}
    pipeline = Pipeline(settings.model_copy(update=overrides), corpus=make_corpus(tmp_path_factory.mktemp("guarded")), encoder=encoder)
    pipeline.index()
    app, base = served(pipeline)
    yield base, pipeline
    app.close()


def served(pipeline: Pipeline):
    port = free_port()
    return serve(pipeline, port=port, block=False), f"http://127.0.0.1:{port}/api"


def listed(base: str, headers: dict[str, str] | None = None) -> list[str]:
    response = httpx.get(f"{base}/articles", headers=headers)
    assert response.status_code == 200, response.text
    return [entry["path"] for entry in response.json()]


BEARER = {"Authorization": f"Bearer {TOKEN}"}


# ---- /api/ask: the `rag ask --json` object ----------------------------------------------------------


@pytest.mark.parametrize(
    "fields, kind",
    [
        ({"question": QUESTION}, None),  # found
        ({"question": "Who won the 2022 World Cup?"}, None),  # not found
        ({"question": "Which articles mention Hua Chunying?"}, "article_list"),
        ({"question": "Who wrote this article?", "articles": [SEED_FILE]}, "article_field"),
    ],
)
def test_ask_returns_the_rag_ask_json_object_itself(api, news_pipeline, fields, kind):
    response = httpx.post(f"{api}/ask", json=fields, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == news_pipeline.ask(AskRequest(**fields)).contract()
    assert response.json().get("kind") == kind


def test_ask_has_the_keys_rag_ask_json_prints(api, news_pipeline, capsys):
    assert main(["ask", QUESTION, "--corpus", str(news_pipeline.corpus), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    answered = httpx.post(f"{api}/ask", json={"question": QUESTION}, timeout=60).json()
    assert list(answered) == list(printed) and answered["span"] == printed["span"] == "Hua Chunying"


def test_a_follow_up_sends_the_earlier_turns_as_history(api, news_pipeline):
    first = news_pipeline.ask(QUESTION)
    turn = {"question": QUESTION, "answer": first.span, "articles": [c.article_id for c in first.citations]}
    response = httpx.post(f"{api}/ask", json={"question": "When did she say it?", "history": [turn]}, timeout=60)
    assert response.status_code == 200
    assert response.json() == news_pipeline.ask("When did she say it?", history=(Turn(**turn),)).contract()


@pytest.mark.parametrize(
    "body, named",
    [
        ({"question": QUESTION, "k": 0}, "(k) must be at least 1"),
        ({"question": QUESTION, "retriever": "magic"}, "retriever is one of"),
        ({"question": QUESTION, "since": "yesterday"}, "(since) 'yesterday' is not a date as YYYY-MM-DD"),
        ({"question": QUESTION, "articles": ["nowhere.md"]}, "no indexed article has the id or file 'nowhere.md'"),
        ({"question": "   "}, "the question is empty"),
        ({"question": QUESTION, "top": 3}, "top: no such field"),
        ({"k": 3}, "question: the field is missing"),
        ([QUESTION], "the request body must be a JSON object"),
        ({"question": QUESTION, "history": "Hua"}, "history: must be a list"),
    ],
)
def test_a_bad_field_is_a_400_that_names_it(api, body, named):
    response = httpx.post(f"{api}/ask", json=body, timeout=60)
    assert response.status_code == 400 and named in response.json()["error"] and list(response.json()) == ["error"]


def test_a_body_that_is_not_json_is_a_400(api):
    response = httpx.post(f"{api}/ask", content=b"{question: who}", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"].startswith("the request body is not JSON")


def test_before_the_first_index_questions_and_the_library_are_told_to_come_back(fresh_pipeline):
    app, base = served(fresh_pipeline(extra=False))  # not indexed
    try:
        for response in (httpx.post(f"{base}/ask", json={"question": QUESTION}), httpx.get(f"{base}/articles")):
            assert response.status_code == 503 and "still being indexed" in response.json()["error"]
            assert int(response.headers["retry-after"]) > 0
        status = httpx.get(f"{base}/status").json()
        assert status["ready"] is False and status["generation"] is None and status["articles"] == 0
    finally:
        app.close()


def test_past_the_waiting_questions_a_burst_is_told_to_come_back(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False, serve_concurrency=1, api_max_waiting=16)  # one answered at once, 16 waiting
    pipeline.index()
    app, base = served(pipeline)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=100)) as client:
            return await asyncio.gather(*(client.post(f"{base}/ask", json={"question": QUESTION}) for _ in range(100)))

    try:
        replies = asyncio.run(burst())
    finally:
        app.close()
    busy = [r for r in replies if r.status_code == 503]
    assert busy and all(r.headers["retry-after"] == "2" and "questions are being answered or waiting" in r.json()["error"] for r in busy)
    assert {r.status_code for r in replies} == {200, 503} and sum(r.status_code == 200 for r in replies) >= 17


def test_questions_are_answered_in_the_order_they_came_and_one_that_goes_away_leaves_the_queue():
    async def scenario() -> tuple[list, list[int], ApiError]:
        queue = AskQueue(slots=1, waiting=3)
        started: list[int] = []
        hold = threading.Event()

        def work(n: int) -> int:
            hold.wait(30)  # the first keeps the one slot until all have come
            started.append(n)
            return n

        waiting = []
        for n in range(4):
            waiting.append(asyncio.create_task(queue.answer(partial(work, n))))
            await asyncio.sleep(0)  # each takes its place before the next comes
        with pytest.raises(ApiError) as refused:  # one slot and 3 waiting: the fifth is told at once
            await queue.answer(partial(work, 4))
        waiting[2].cancel()  # its caller went away while it waited
        await asyncio.sleep(0)
        assert queue.queued == 3
        hold.set()
        return await asyncio.gather(*waiting, return_exceptions=True), started, refused.value

    answers, started, refused = asyncio.run(scenario())
    assert started == [0, 1, 3] and answers[:2] == [0, 1] and answers[3] == 3 and isinstance(answers[2], asyncio.CancelledError)
    assert refused.status == 503 and refused.headers == {"Retry-After": "2"} and "4 questions are being answered or waiting" in refused.message


# ---- /api/status and /docs ----------------------------------------------------------------------------


def test_status_tells_the_generation_the_counts_and_whether_an_update_runs(api, news_pipeline):
    status = httpx.get(f"{api}/status").json()
    assert status["ready"] is True and status["generation"] == news_pipeline.loaded().generation
    assert (status["articles"], status["chunks"]) == (news_pipeline.status().articles, news_pipeline.status().chunks)
    assert status["updating"] is False and status["progress"] is None


def test_the_api_is_documented_at_docs_and_only_the_api(api):
    document = httpx.get(f"{api}/openapi.json").json()
    assert sorted(document["paths"]) == ["/api/articles", "/api/articles/{path}", "/api/articles/{path}/restore", "/api/ask", "/api/status"]
    assert "question" in document["components"]["schemas"]["AskRequest"]["required"]


def test_docs_loads_everything_it_needs_from_this_server(api):
    root = api.removesuffix("/api")
    page = httpx.get(f"{root}/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    loaded = re.findall(r'(?:src|href)="([^"]*)"', page.text) + re.findall(r"url: '([^']*)'", page.text)
    assert len(loaded) == 4 and all(url.startswith("/") and not url.startswith("//") for url in loaded), loaded  # no CDN, no other host
    types = [httpx.get(f"{root}{url}").headers["content-type"].split(";")[0] for url in loaded]
    css, icon, script, document = types
    assert (css, icon, document) == ("text/css", "image/png", "application/json") and script.endswith("/javascript"), types  # text/ or application/
    assert '"validatorUrl": null' in page.text  # nor does the page send the document to Swagger's online validator


# ---- the library: list, add, remove, restore -----------------------------------------------------------


def test_an_upload_is_listed_then_removed_then_restored(guarded):
    base, pipeline = guarded
    added = httpx.post(f"{base}/articles", files={"files": NOTE}, headers=BEARER, timeout=120)
    assert added.status_code == 200 and added.json()["files"] == [{"name": "note.txt", "stored": "uploads/note.txt", "problems": [], "notes": []}]
    entry = next(e for e in httpx.get(f"{base}/articles").json() if e["path"] == "uploads/note.txt")
    assert entry["title"] == "Ferry resumes" and set(entry) == {"id", "title", "path", "published", "source", "byline"}
    assert httpx.post(f"{base}/ask", json={"question": "When did the ferry resume?"}, timeout=60).json()["span"] == "Friday"

    removed = httpx.delete(f"{base}/articles/uploads/note.txt", headers=BEARER, timeout=120)
    assert removed.status_code == 200 and removed.json()["undo"] == "POST /api/articles/uploads/note.txt/restore"
    assert "uploads/note.txt" not in listed(base)
    again = httpx.delete(f"{base}/articles/uploads/note.txt", headers=BEARER)
    assert again.status_code == 404 and "no indexed article comes from the file 'uploads/note.txt'" in again.json()["error"]

    restored = httpx.post(f"{base}/articles/uploads/note.txt/restore", headers=BEARER, timeout=120)
    assert restored.status_code == 200 and restored.json()["restored"] is True and restored.json()["titles"] == ["Ferry resumes"]
    assert "uploads/note.txt" in listed(base)
    assert httpx.post(f"{base}/articles/uploads/note.txt/restore", headers=BEARER).status_code == 404  # nothing kept to restore now
    outside = httpx.post(f"{base}/articles/..%2F..%2F{pipeline.corpus.name}%2F{SEED_FILE}/restore", headers=BEARER)
    assert outside.status_code == 404 and (pipeline.corpus / SEED_FILE).is_file()  # a path out of the corpus is none of its files


def test_a_file_the_library_cannot_read_is_a_400_with_its_reason(guarded):
    base, _ = guarded
    response = httpx.post(f"{base}/articles", files={"files": ("sheet.xlsx", b"PK\x03\x04")}, headers=BEARER, timeout=60)
    assert response.status_code == 400 and "sheet.xlsx: unsupported file type '.xlsx'" in response.json()["error"]


def test_an_upload_of_too_many_files_is_a_400(guarded):
    base, _ = guarded
    response = httpx.post(f"{base}/articles", files=[("files", (f"n{i}.txt", b"x")) for i in range(101)], headers=BEARER)
    assert response.status_code == 400 and response.json() == {"error": "Too many files. Maximum number of files is 100."}


def test_an_upload_too_big_is_a_413_and_stores_nothing(guarded):
    base, pipeline = guarded  # 100 kB a file, ten times that in all
    before = listed(base)
    one = httpx.post(f"{base}/articles", files={"files": ("big.txt", b"Big\n\n" + b"word " * 30_000)}, headers=BEARER)
    assert one.status_code == 413 and "'big.txt' is 150005 bytes; the limit is 100000 a file" in one.json()["error"]
    many = httpx.post(f"{base}/articles", files=[("files", (f"n{i}.txt", b"x" * 90_000)) for i in range(12)], headers=BEARER)
    assert many.status_code == 413 and "at most 1000000 are taken at once" in many.json()["error"]
    assert listed(base) == before and not (pipeline.corpus / "uploads" / "big.txt").exists()


# ---- the token -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
def test_without_the_token_the_library_cannot_be_changed(guarded, headers):
    base, pipeline = guarded
    before = listed(base)
    for response in (
        httpx.post(f"{base}/articles", files={"files": ("other.txt", NOTE[1])}, headers=headers),
        httpx.delete(f"{base}/articles/{SEED_FILE}", headers=headers),
        httpx.post(f"{base}/articles/{SEED_FILE}/restore", headers=headers),
    ):
        assert response.status_code == 401 and "RAG_API_TOKEN" in response.json()["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert listed(base) == before and (pipeline.corpus / SEED_FILE).is_file() and not (pipeline.corpus / "uploads" / "other.txt").exists()
    assert httpx.post(f"{base}/ask", json={"question": QUESTION}, headers=headers, timeout=60).status_code == 200  # questions need none


def test_auth_all_guards_every_route(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False, api_token=SecretStr(TOKEN), api_auth_all=True)
    pipeline.index()
    app, base = served(pipeline)
    try:
        for method, route in (("POST", "/ask"), ("GET", "/articles"), ("GET", "/status")):
            assert httpx.request(method, f"{base}{route}", json={"question": QUESTION}).status_code == 401
            assert httpx.request(method, f"{base}{route}", json={"question": QUESTION}, headers=BEARER, timeout=60).status_code == 200
    finally:
        app.close()


def test_serving_beyond_loopback_wants_a_token_or_no_auth(monkeypatch, capsys):
    started = []
    monkeypatch.setattr("ui.app.serve", lambda pipeline, host, port, update_index: started.append(host))
    monkeypatch.delenv("RAG_API_TOKEN", raising=False)
    port = str(free_port())
    assert main(["serve", "--host", "0.0.0.0", "--port", port]) == 2 and not started
    assert capsys.readouterr().err.strip() == (
        "rag: error: --host 0.0.0.0 lets other machines reach the server: set RAG_API_TOKEN "
        "(the API's library changes then need it), or pass --no-auth to serve without a token"
    )
    assert main(["serve", "--host", "0.0.0.0", "--port", port, "--no-auth"]) == 0
    monkeypatch.setenv("RAG_API_TOKEN", TOKEN)
    assert main(["serve", "--host", "0.0.0.0", "--port", port]) == 0
    monkeypatch.delenv("RAG_API_TOKEN")
    assert main(["serve", "--host", "127.0.0.1", "--port", port]) == 0 and started == ["0.0.0.0", "0.0.0.0", "127.0.0.1"]
