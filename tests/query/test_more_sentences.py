"""Questions that ask for more: which they are, and which other sentences answer them (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.query.more_sentences import SaidAbout, asks_for_more, asks_for_summary, closest_sentences, latest_on, lead_sentences, said_about
from rag.schema import Article, Chunk, Passage


@pytest.mark.parametrize(
    "question, subject",
    [
        ("Tell me more", ""),
        ("tell me more.", ""),
        ("Tell me more about the trains", "the trains"),
        ("What else did she say?", ""),
        ("And what else did the ministry say about 5G?", "5G"),
        ("What are the details?", ""),
        ("What are the details of the deal?", "the deal"),
        ("Any other details?", ""),
        ("More about the report", "the report"),
        ("more on that", ""),
        ("Can you tell me more about it?", ""),
        ("Go on", ""),
        ("Anything else?", ""),
        ("Who else spoke?", None),
        ("More jobs were cut?", None),
        ("What more can be done to stop floods?", None),
        ("Who is the spokesperson?", None),
        ("How many more trains will be bought?", None),
    ],
)
def test_questions_that_ask_for_more(question, subject):
    assert asks_for_more(question) == subject


TEXT = (
    "The council approved the budget on Monday. "
    "Photo: council chamber. "
    "The budget adds 40 buses to the city fleet next year. "
    "Fares will stay at 2 dollars for another year. "
    "ALSO READ: Mayor opens new library in the north. "
    "The mayor said the buses would run on electricity from 2026."
)


def passage(row: int, article: str, text: str = TEXT) -> Passage:
    bounds, start = [], 0
    for part in text.split(". "):
        end = start + len(part) + (1 if not part.endswith(".") else 0)
        bounds.append((start, min(end, len(text))))
        start = end + 1
    chunk = Chunk(id=f"c{row}", article_id=article, text=text, start=0, end=len(text), sentences=bounds)
    return Passage(row=row, chunk=chunk, article=Article(id=article, title=article, path=f"{article}.txt", text=text), score=1.0)


def test_the_closest_unquoted_sentences_in_article_order_without_captions_or_links():
    story = passage(0, "a")
    closeness = np.array([0.9, 0.95, 0.8, 0.2, 0.99, 0.7])  # the caption and the link are the closest: never quoted
    first = story.chunk.sentences[0]
    chosen = closest_sentences([story], lambda p: closeness, quoted=[("a", *first)], count=2)
    texts = [story.chunk.slice(s.start, s.end) for s in chosen]
    assert texts == ["The budget adds 40 buses to the city fleet next year.", "The mayor said the buses would run on electricity from 2026."]


def test_a_sentence_in_two_passages_is_quoted_once_and_articles_keep_their_retrieval_order():
    first, again, other = passage(0, "a"), passage(1, "a"), passage(2, "b")
    chosen = closest_sentences([other, first, again], lambda p: np.array([0.1, 0, 0.9, 0.8, 0, 0.2]), count=4)
    assert len({(s.passage, s.start) for s in chosen}) == 4
    assert [s.passage for s in chosen] == [0, 0, 1, 1]  # article b was retrieved first
    assert [(s.start, s.end) for s in chosen[:2]] == [(s.start, s.end) for s in chosen[2:]]  # the same sentences, once per article


@pytest.mark.parametrize(
    "question, said",
    [
        ("What did Xinhua say about 5G?", SaidAbout("Xinhua", "5G")),
        ("what has Reuters reported on the tin quota", SaidAbout("Reuters", "the tin quota")),
        ("What did the Bank of England say about rates in March 2020?", SaidAbout("the Bank of England", "rates in March 2020")),
        ("What does the Valley Tribune write about the fire?", SaidAbout("the Valley Tribune", "the fire")),
        ("What did the mayor say?", None),
        ("Who said 5G is a new generation of technology?", None),
        ("What did the report say was the cause?", None),
        ("Tell me more about 5G", None),
    ],
)
def test_what_someone_said_about_a_topic(question, said):
    assert said_about(question) == said


@pytest.mark.parametrize(
    "question, topic",
    [
        ("What's the latest on the tin quota?", "the tin quota"),
        ("what is the latest news about the Port Kessing strike", "the Port Kessing strike"),
        ("Any news on Skyvale Airways?", "Skyvale Airways"),
        ("Latest updates on the wildfire", "the wildfire"),
        ("Give me the most recent reports about 5G", "5G"),
        ("What is the latest Bank of England growth forecast?", None),  # a question with one answer: the reader's
        ("Who wrote the latest story about China?", None),
        ("What's the latest?", None),
    ],
)
def test_the_latest_on_a_topic(question, topic):
    assert latest_on(question) == topic


@pytest.mark.parametrize(
    "question, topic",
    [
        ("What is this article about?", ""),
        ("what's the story about", ""),
        ("Summarize it", ""),
        ("Summarise the article", ""),
        ("Can you summarize the story about the refinery fire?", "the refinery fire"),
        ("Summarise the Dorrell refinery story", "Dorrell refinery"),
        ("Give me a summary of the Port Kessing strike", "the Port Kessing strike"),
        ("What is the report about?", None),  # a report the text mentions: the reader's
        ("What is 5G about?", None),
        ("Tell me more about the trains", None),
    ],
)
def test_a_question_that_asks_what_a_story_is_about(question, topic):
    assert asks_for_summary(question) == topic


def test_the_lead_is_the_first_sentences_the_story_says():
    text = "ALSO READ: Markets rally\n\nPORT KESSING, Feb 15 - The strike entered its second week. No one was hurt. Talks resume on Friday in the capital."
    sentences = [(0, 24), (26, 48), (49, 84), (85, 101), (102, len(text))]
    chunk = Chunk(id="c", article_id="a", text=text, start=0, end=len(text), sentences=sentences)
    story = Passage(row=0, chunk=chunk, article=Article(id="a", title="t", path="a.txt", text=text), score=1.0)
    # no link to another story, no dateline, no caption-short line
    assert [text[s:e] for s, e in lead_sentences(story, 3)] == ["The strike entered its second week.", "Talks resume on Friday in the capital."]
