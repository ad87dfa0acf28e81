"""Questions that ask for articles: the topic, who names it, newest first, through the pipeline and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rag.cli import main
from rag.query.article_list import asks_for_newest, listing_topic, mentions
from rag.schema import Article, Chunk, Passage


@pytest.mark.parametrize(
    "question, topic",
    [
        ("Which articles mention 5G?", "5G"),
        ("which articles mention Hua Chunying", "Hua Chunying"),
        ("What stories cover the tin quota?", "tin quota"),
        ("Which news articles are about “Huawei”?", "Huawei"),
        ("List articles about the Bank of England", "Bank of England"),
        ("Show me all stories on rain", "rain"),
        ("Find articles mentioning coastal roads.", "coastal roads"),
        ("Which organizations published the 5G security report?", None),
        ("What did the articles say about 5G?", None),
        ("Which article is the newest?", None),
        ("Which articles mention?", None),
        ("Who is the Foreign Ministry spokesperson?", None),
    ],
)
def test_the_topic_of_a_question_that_asks_for_articles(question, topic):
    assert listing_topic(question) == topic


@pytest.mark.parametrize(
    "question, newest",
    [
        ("What's the latest news?", True),
        ("what is new", True),
        ("Show me the newest articles", True),
        ("Latest headlines", True),
        ("Any news?", True),
        ("What are the most recent stories today?", True),
        ("What's the latest on 5G?", False),  # a topic: the newest article on it
        ("What is the latest Bank of England growth forecast?", False),
        ("Who wrote the latest story about China?", False),
        ("What's new about the tram line?", False),
    ],
)
def test_a_question_that_asks_for_the_newest_articles(question, newest):
    assert asks_for_newest(question) is newest


def passage(article_id: str, text: str, published: dt.date | None, start: int = 0) -> Passage:
    sentences, at = [], start
    for sentence in text.split(". "):
        sentences.append((at, at + len(sentence)))
        at += len(sentence) + 2
    chunk = Chunk(id=f"{article_id}-{start}", article_id=article_id, text=text, start=start, end=start + len(text), sentences=sentences)
    article = Article(id=article_id, title=article_id, path=f"{article_id}.txt", text=" " * start + text, published=published)
    return Passage(row=0, chunk=chunk, article=article, score=1.0)


def test_each_article_once_at_its_first_mention_newest_first_undated_last():
    found = mentions(
        "tin quota",
        [
            passage("old", "Prices fell. The Tin  Quota was cut", dt.date(2020, 1, 1)),
            passage("new", "The tin quota rose. Miners cheered", dt.date(2021, 5, 2), start=40),
            passage("new", "Earlier, the tin quota held", dt.date(2021, 5, 2)),
            passage("undated", "A tin quota was debated", None),
            passage("other", "Tin prices and quotas", dt.date(2022, 1, 1)),  # not the phrase
        ],
    )
    assert [m.passage.article.id for m in found] == ["new", "old", "undated"]
    new = found[0]
    assert new.passage.article.text[new.mention_start : new.mention_end] == "tin quota" and new.mention_start == 13  # the earlier passage
    old = found[1]
    assert old.passage.article.text[old.start : old.end] == "The Tin  Quota was cut"


def test_the_listing_names_each_article_and_its_sentence(news_pipeline):
    answer = news_pipeline.ask("Which articles mention rain?")
    assert answer.found and answer.listing == "rain" and [c.title for c in answer.citations] == ["Storm closes coastal roads"]
    entry = answer.contract()["articles"][0]
    assert entry["sentence"] == "Heavy rain closed 14 coastal roads in Brighton on Tuesday."
    assert (entry["source"], entry["published"]) == ("Coast Daily", "2022-08-02")


def test_no_article_naming_the_topic_is_said_so(news_pipeline):
    answer = news_pipeline.ask("Which articles mention Huawei?")
    assert not answer.found and answer.citations == [] and answer.contract()["articles"] == []


def test_the_cli_lists_the_seed_for_5g_in_json(tmp_path, monkeypatch, capsys):
    from tests.helpers import make_corpus

    make_corpus(tmp_path / "corpus", extra=False)
    monkeypatch.chdir(tmp_path)
    assert main(["ask", "Which articles mention 5G?", "--corpus", "corpus", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data)[:7] == ["question", "found", "answer", "span", "score", "citations", "related"]
    assert data["found"] and [a["title"] for a in data["articles"]] == ["China calls for open, equitable environment for 5G technology"]
    assert "5G" in data["articles"][0]["sentence"]


def test_after_a_list_it_is_the_listed_article(news_pipeline):
    from rag.query.followup import Turn

    listing = news_pipeline.ask("Which articles mention rain?")
    answer = news_pipeline.ask("When was it published?", history=[Turn.of(listing)])
    assert answer.fact == "published" and answer.span == "2 August 2022"
