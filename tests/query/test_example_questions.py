"""Example questions drawn from the library: pure logic over articles, no model."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st

from rag.query.example_questions import LATEST_NEWS, example_questions, names_in, shared_name
from rag.schema import Article


def article(n: int, title: str, text: str, published: dt.date | None = None, byline: str | None = None) -> Article:
    return Article(id=str(n), title=title, path=f"{n}.txt", text=text, published=published, byline=byline)


def test_names_are_runs_of_capitalised_words_the_text_writes_as_names():
    text = "The Brennock County council said prices rose. County officials in Brennock County agreed."
    assert names_in("Brennock County home prices hit record", text) == ["Brennock County"]
    # a headline in title case capitalises every word: the text tells "Prices" is no name
    assert names_in("Brennock County Home Prices Hit Record", text + " Home prices fell.") == ["Brennock County"]
    assert names_in("China calls for open environment for 5G technology", "On Wednesday China called for 5G rules.") == ["China", "5G"]
    assert names_in("Rates held", "Rates held. The bank kept rates.") == []
    # a wire headline in capitals: its names as the story writes them, not shouted
    assert names_in("SANDOZ PLANS WEEDKILLER JOINT VENTURE IN USSR", "Sandoz AG plans a venture in the USSR. It is the first for Sandoz.") == ["Sandoz", "USSR"]


def test_a_title_made_from_the_lead_names_no_story_in_the_examples():
    made = Article(id="0", title="Heavy rain closed 14 roads", title_from_text=True, path="abc_000.txt", text="Heavy rain closed 14 roads.")
    assert not any("headlined" in q or "Heavy" in q for q in example_questions([made, made.model_copy(update={"id": "1"})]))


def test_the_shared_name_is_the_newest_headlines_name_that_several_articles_mention():
    articles = [
        article(0, "Polaris Orbital launches weather satellite", "The launch by Polaris Orbital went well."),
        article(1, "Arvex picks Cleveland for plant", "The chip maker Arvex chose a suburb of Cleveland."),
        article(2, "Arvex to build plant near Cleveland", "The plant near Cleveland will employ 900, Arvex said."),
    ]
    assert shared_name(articles) == "Arvex"
    assert shared_name(articles[:1]) == "Polaris Orbital"  # none shared: the newest headline's
    assert shared_name([article(0, "rates held", "rates held")]) is None


def test_examples_name_the_newest_stories_and_a_shared_name():
    articles = [
        article(0, "Arvex to build plant near Cleveland", "The plant near Cleveland will employ 900, Arvex said.", dt.date(2024, 3, 2), "By Ann Lee"),
        article(1, "Arvex picks Cleveland for plant", "The chip maker Arvex chose a suburb of Cleveland.", dt.date(2024, 3, 1)),
    ]
    assert example_questions(articles) == [
        "What's the latest news?",
        "Who wrote the latest story about Arvex?",
        "When was the latest story about Arvex published?",
        "What's the latest on Arvex?",
        "Which articles mention Arvex?",
    ]
    assert example_questions([]) == []
    # a headline with no name is quoted whole when short, else left out
    plain = [article(0, "rates held", "rates held", dt.date(2024, 1, 1)), article(1, "x" * 80, "text", dt.date(2023, 1, 1))]
    assert example_questions(plain) == [LATEST_NEWS, "When was the story headlined “rates held” published?"]
    assert LATEST_NEWS not in example_questions(plain[:1])  # one story is no news to list


@given(st.lists(st.tuples(st.text(max_size=40), st.text(max_size=200)), max_size=6))
def test_examples_never_fail_and_name_only_what_the_headlines_hold(pairs):
    articles = [article(n, title, text, dt.date(2024, 1, 1), "By Ann Lee") for n, (title, text) in enumerate(pairs)]
    for question in (q for q in example_questions(articles) if q != LATEST_NEWS):  # the one naming nothing
        quoted = re.search(r"“(.*)”", question)
        named = quoted[1] if quoted else re.split(r" about | mention | on ", question)[-1].removesuffix(" published?").rstrip("?")
        assert named and any(named in " ".join(title.split()) for title, _ in pairs)
