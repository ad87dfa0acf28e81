"""The page behind RAG_API_TOKEN, in headless Chromium: it asks for the token once, in its "Server token" box, keeps
it for the browser's session, and adds or removes nothing without it; with RAG_API_AUTH_ALL questions need it too.
Each server is `rag serve` in a subprocess with the token in its environment, as a user starts it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from eval.concurrency import free_port, running_server
from tests.helpers import SEED_FILE, make_corpus
from tests.ui.test_browser import ARTIFACTS, ask, browser_ready, launched, wait_for  # noqa: F401 (browser_ready: a fixture, used below)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("browser_ready")]  # skipped where there is no Chromium, before any server
TOKEN = "page-s3cret"
QUESTION = "Who is the Foreign Ministry spokesperson?"
STORY = "Ferry service resumes\n\nThe island ferry resumed service on Friday after a three-week strike.\n"


def guarded_server(tmp_path_factory, **environment: str):
    """`rag serve` over a corpus of its own with these RAG_ variables set: yields (URL, corpus)."""
    corpus = make_corpus(tmp_path_factory.mktemp("token") / "corpus", extra=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as env:
        for name, value in environment.items():
            env.setenv(name, value)
        with running_server(corpus, free_port(), log=ARTIFACTS / "browser-token-server.log") as url:
            yield url, corpus


@pytest.fixture(scope="module")
def changes_guarded(tmp_path_factory):
    yield from guarded_server(tmp_path_factory, RAG_API_TOKEN=TOKEN)


@pytest.fixture(scope="module")
def all_guarded(tmp_path_factory):
    yield from guarded_server(tmp_path_factory, RAG_API_TOKEN=TOKEN, RAG_API_AUTH_ALL="true")


@pytest.fixture
def page_of():
    """Opens a URL in a browser session of its own; yields the opener."""
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = launched(playwright, profile)

        def opened(url: str):
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector("#header .status")
            return page

        yield opened
        context.close()


def upload(page, story: Path, expected: str) -> str:
    """Drop the story into "Add articles"; the upload report once it says EXPECTED."""
    page.set_input_files("#upload input[type=file]", [str(story)])
    wait_for(page, f"document.querySelector('#upload-result')?.innerText.includes({expected!r})", f"upload report saying {expected!r}")
    return " ".join(page.inner_text("#upload-result").split())


def ask_to_remove(page, option: str) -> None:
    """Choose the file and click Remove. The menus the page refreshes after an event (an upload's) may come back just
    after the choice and clear it: chosen again until it stays."""
    title = option.split(" · ")[0]
    for _ in range(5):
        page.click("#remove-file input")
        page.get_by_role("option", name=option).click()
        page.wait_for_timeout(500)
        if title in page.input_value("#remove-file input"):
            break
    page.click("#remove")


def test_the_page_asks_for_the_token_once_and_changes_nothing_without_it(changes_guarded, page_of, tmp_path):
    url, corpus = changes_guarded
    story = tmp_path / "ferry.txt"
    story.write_text(STORY, encoding="utf-8")
    page = page_of(url)
    assert "adding and removing articles need it" in page.inner_text("#server-token") and "questions" not in page.inner_text("#server-token")
    assert "Hua Chunying" in ask(page, QUESTION)  # questions need no token

    page.get_by_text("Add articles", exact=True).click()
    report = upload(page, story, "not added")
    assert "ferry.txt not added: adding articles needs the server's token: enter it in “Server token”" in report
    page.get_by_text("Library: the indexed articles", exact=True).click()
    ask_to_remove(page, f"China calls for open, equitable environment for 5G technology · {SEED_FILE}")
    wait_for(page, "document.querySelector('#removal-result')?.innerText.includes('Not removed')", "the removal refused")
    assert "removing articles needs the server's token" in page.inner_text("#removal-result") and not page.is_visible("#confirm-remove")
    page.fill("#server-token input", "not-it")
    assert "“Server token” entered is not the server's RAG_API_TOKEN" in upload(page, story, "not the server's")
    assert not (corpus / "uploads").exists() and (corpus / SEED_FILE).is_file() and page.inner_text("#header .status").startswith("1 article ")

    page.fill("#server-token input", TOKEN)  # entered once
    assert "ferry.txt added as uploads/ferry.txt" in upload(page, story, "added as")
    page.reload()
    page.wait_for_selector("#header .status")
    wait_for(page, f"document.querySelector('#server-token input').value === {TOKEN!r}", "the token kept across the reload")
    page.get_by_text("Library: the indexed articles", exact=True).click()
    ask_to_remove(page, "Ferry service resumes · uploads/ferry.txt")
    page.click("#confirm-remove")
    wait_for(page, "document.querySelector('#removal-result')?.innerText.includes('Removed uploads/ferry.txt')", "the removal with the kept token")
    assert not (corpus / "uploads" / "ferry.txt").exists()

    other = page_of(url)  # kept for the browser, not the tab: another tab has it too
    wait_for(other, f"document.querySelector('#server-token input').value === {TOKEN!r}", "the token in another tab")


def test_with_auth_all_questions_need_the_token_too(all_guarded, page_of):
    url, _ = all_guarded
    page = page_of(url)
    assert "questions, adding and removing articles need it" in page.inner_text("#server-token")
    refused = ask(page, QUESTION)
    if not refused:  # the kept conversation's restore, sent at load, came back after this fast refusal and cleared the chat
        refused = ask(page, QUESTION)
    assert "asking needs the server's token: enter it in “Server token”" in refused and "Hua Chunying" not in refused
    assert page.evaluate("document.querySelector('#question textarea').value") == QUESTION  # kept in the box, to send again
    page.fill("#server-token input", TOKEN)
    assert "Hua Chunying" in ask(page, QUESTION)
