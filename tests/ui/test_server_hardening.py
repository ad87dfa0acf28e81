"""`rag serve` against another site's page and against time: DNS rebinding (a foreign Host), cross-site writes (a
foreign Origin), the port a crashed server leaves in TIME-WAIT, upload copies after SIGTERM, and the sessions
gone gradio_clients leave."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from eval.concurrency import free_port
from rag.cli import main
from rag.pipeline import Pipeline
from tests.helpers import make_corpus
from ui import sessions
from ui.app import INDEX_READY, restored_conversation, serve

QUESTION = "Who is the Foreign Ministry spokesperson?"
LISTED = "mybox.lan"  # the served app's RAG_ALLOWED_HOSTS


@pytest.fixture(scope="module")
def server(news_pipeline):
    """The app on a free loopback port, with one more name allowed; yields (app, port)."""
    pipeline = Pipeline(news_pipeline.settings.model_copy(update={"allowed_hosts": [LISTED]}), encoder=news_pipeline.encoder)
    port = free_port()
    app = serve(pipeline, port=port, block=False)
    yield app, port
    app.close()


def ask_rest(port: int, headers: dict[str, str]) -> httpx.Response:
    """QUESTION through the REST route with these headers: POST for an event id, then its result stream (read to
    its end, so that the call leaves nothing running). The POST's response."""
    started = httpx.post(f"http://127.0.0.1:{port}/gradio_api/call/ask", json={"data": [QUESTION, None, None, None, None, None]}, headers=headers)
    if started.status_code == 200:
        result = httpx.get(f"http://127.0.0.1:{port}/gradio_api/call/ask/{started.json()['event_id']}", headers=headers, timeout=60)
        assert "event: complete" in result.text and "Hua Chunying" in result.text, result.text
    return started


def upload(port: int, headers: dict[str, str], name: str = "note.txt") -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/gradio_api/upload", files={"files": (name, b"Ferry resumes\n\nThe ferry resumed on Friday.")}, headers=headers)


def stored_copies() -> set[Path]:
    return {p for p in Path(os.environ["GRADIO_TEMP_DIR"]).rglob("*") if p.is_file()}


# ---- DNS rebinding: only the names the server is bound to --------------------------------------


@pytest.mark.parametrize("host", ["rebound.example", "127.0.0.1.nip.io", "192.168.1.5"])
def test_a_request_addressed_to_another_host_is_refused_and_answered_nothing(server, host):
    # A page on rebound.example whose name now resolves to 127.0.0.1: its requests carry its own Host and Origin.
    _, port = server
    own = {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"}
    for response in (httpx.get(f"http://127.0.0.1:{port}/", headers=own), ask_rest(port, own), httpx.get(f"http://127.0.0.1:{port}/config", headers=own)):
        assert response.status_code == 400 and response.headers["content-type"].startswith("text/plain")
        assert response.text == (
            f"this server answers only to 127.0.0.1, [::1], localhost, {LISTED}, not to the host '{host}:{port}'; "
            "to reach it under that name, add it to RAG_ALLOWED_HOSTS (comma-separated)\n"
        )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LocalHost", "[::1]", LISTED])
def test_the_servers_own_names_and_the_listed_one_are_answered(server, host):
    _, port = server
    assert httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": f"{host}:{port}"}).status_code == 200
    started = ask_rest(port, {"Host": f"{host}:{port}", "Origin": f"http://{host}:{port}"})
    assert started.status_code == 200 and "event_id" in started.json()


def test_a_bind_on_every_interface_answers_any_host_and_says_so(news_pipeline, caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="ui.app")
    port = free_port()
    app = serve(news_pipeline, host="0.0.0.0", port=port, block=False)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": f"rebound.example:{port}"}).status_code == 200
    finally:
        app.close()
    assert any("serving on every interface (0.0.0.0)" in m and "DNS rebinding" in m for m in caplog.messages)


# ---- cross-site writes: only from the page itself --------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Origin": "http://localhost:1"},  # another server's page on this machine
        {"Referer": "http://evil.example/upload.html"},  # an older browser: no Origin
    ],
)
def test_an_upload_from_another_sites_page_is_refused_and_nothing_is_stored(server, headers):
    _, port = server
    before = stored_copies()
    refused = upload(port, headers)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/plain")
    sender = headers.get("Origin") or "http://evil.example"
    assert refused.text.startswith(f"a POST from a page of another site ('{sender}') is refused: only this server's own page may send one")
    assert stored_copies() == before
    queued = httpx.post(
        f"http://127.0.0.1:{port}/gradio_api/queue/join", json={"data": [QUESTION], "fn_index": 0, "session_hash": "cross-site"}, headers=headers
    )
    assert queued.status_code == 403 and ask_rest(port, headers).status_code == 403


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://127.0.0.1:{port}"}, {"Origin": "http://localhost:{port}"}, {"Origin": f"https://{LISTED}"}])
def test_uploads_and_questions_from_the_page_itself_or_a_script_are_taken(server, headers):
    # No Origin: curl, requests, gradio_client; the page's own origin under any of its names; a trusted proxy's name.
    _, port = server
    headers = {k: v.format(port=port) for k, v in headers.items()}
    taken = upload(port, headers, name="taken.txt")
    assert taken.status_code == 200
    [copy] = taken.json()
    assert Path(copy).read_bytes().startswith(b"Ferry resumes") and Path(copy).is_relative_to(os.environ["GRADIO_TEMP_DIR"])
    assert ask_rest(port, headers).status_code == 200


def test_gradio_client_still_gets_answers(server):
    _, port = server
    client = Client(f"http://localhost:{port}/", verbose=False)
    try:
        assert json.loads(client.predict(QUESTION, api_name="/ask"))["span"] == "Hua Chunying"
    finally:
        client.close()


# ---- sessions: a gone client leaves none behind ---------------------------------------------


def test_gone_clients_leave_no_session_behind(server, monkeypatch):
    # The README's one-liner makes a new client per question; Gradio kept each one's session (~110 KB) for good.
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "0.5")  # a gone client's heartbeat ends within this (15 s by default)
    app, port = server
    queue = app._queue

    def tables() -> tuple[int, ...]:
        return len(app.state_holder.session_data), len(queue.pending_event_ids_session), len(queue.pending_messages_per_session), len(queue.event_analytics)

    before = tables()
    for _ in range(5):
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert json.loads(client.predict(QUESTION, api_name="/ask"))["found"]
        client.close()
    deadline = time.monotonic() + 10
    while tables() != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tables() == before


def test_a_living_client_keeps_its_session(server, monkeypatch):
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "0.5")
    app, port = server
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    try:
        client.predict(QUESTION, api_name="/ask")
        time.sleep(1.5)  # three heartbeats
        assert client.session_hash in app.state_holder.session_data
        assert json.loads(client.predict(QUESTION, api_name="/ask"))["found"]
    finally:
        client.close()


def test_a_pages_session_outlives_its_heartbeat_while_its_tab_may_come_back(server, monkeypatch):
    # A page keeps its chat's turns (a gr.State) in its session: a tab whose heartbeat broke keeps them for a while.
    monkeypatch.setenv("GRADIO_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setattr(sessions, "CLOSED_PAGE_KEPT_S", 3.0)  # an hour in the product
    app, port = server
    restore = next(n for n, fn in app.fns.items() if fn.fn is restored_conversation)  # the page's first event: its turns set
    with httpx.stream("GET", f"http://127.0.0.1:{port}/gradio_api/heartbeat/a-page") as heartbeat:
        alive = heartbeat.iter_lines()  # kept: a dropped iterator closes the stream
        assert next(alive) == "data: ALIVE"
        loaded = httpx.post(f"http://127.0.0.1:{port}/gradio_api/run/predict", json={"fn_index": restore, "data": [None], "session_hash": "a-page"})
        assert loaded.status_code == 200, loaded.text
    time.sleep(1.5)
    assert "a-page" in app.state_holder.session_data
    deadline = time.monotonic() + 10
    while "a-page" in app.state_holder.session_data and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "a-page" not in app.state_holder.session_data


# ---- the port a stopped server leaves ---------------------------------------------------------


def test_a_port_left_in_time_wait_is_served_and_a_listening_one_refused(monkeypatch, capsys):
    served = []
    monkeypatch.setattr("ui.app.serve", lambda pipeline, host, port, update_index: served.append(port))
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's listener: its connections' TIME-WAITs let the port be bound again
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2  # listening: another server has it
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server's side closes first: its end of the connection waits in TIME-WAIT
        time.sleep(0.1)
        client.close()
    with socket.socket() as plain, pytest.raises(OSError):  # the TIME-WAIT is there: a bind without SO_REUSEADDR fails
        plain.bind(("127.0.0.1", port))
    assert "cannot serve on" in capsys.readouterr().err
    assert main(["serve", "--port", str(port)]) == 0 and served == [port]


# ---- SIGTERM: the server stops as on Ctrl+C, its copies of uploads removed ---------------------------


def test_sigterm_stops_the_server_and_removes_its_copies_of_uploads(tmp_path):
    copies = Path(os.environ["RAG_DATA_DIR"]) / "upload-copies"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    stale = copies / str(ended.pid) / "leftover.txt"  # a killed server's: removed when the next one starts
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("left behind", encoding="utf-8")
    port = free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "rag.cli", "serve", "--corpus", str(make_corpus(tmp_path / "corpus", extra=False)), "--port", str(port)]
    with open(log, "w", encoding="utf-8") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 300
        while INDEX_READY not in log.read_text(encoding="utf-8"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.3)
        assert not stale.exists()
        [copy] = upload(port, {}).json()
        assert Path(copy).is_relative_to(copies / str(process.pid)) and Path(copy).exists()
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)  # a client connected: its heartbeat stream open
        client.predict(QUESTION, api_name="/ask")
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert process.wait(timeout=30) == 0, log.read_text(encoding="utf-8")
        assert time.monotonic() - stopping < 10  # the open stream does not hold the server up
        client.close()
    finally:
        process.kill()
    assert not (copies / str(process.pid)).exists()
