"""Which evidence is cited, and how a citation names its article: pure logic, no model."""

from __future__ import annotations

import os

from rag.query.citations import Citer
from rag.query.reader import Evidence
from rag.schema import Article, Chunk, Passage

TEXT = "Hua Chunying spoke on Wednesday. The spokesperson is Hua Chunying. Geng Shuang spoke later."


def passage(article: str) -> Passage:
    chunk = Chunk(id=article, article_id=article, text=TEXT, start=0, end=len(TEXT), sentences=[(0, 32), (33, 66), (67, len(TEXT))])
    return Passage(row=0, chunk=chunk, article=Article(id=article, title=article.upper(), path=f"{article}.txt", text=TEXT), score=1.0)


def said(passage_number: int, name: str, score: float) -> Evidence:
    start = TEXT.index(name)
    return Evidence(passage=passage_number, start=0, end=32, span_start=start, span_end=start + len(name), score=score)


def test_other_articles_giving_the_same_answer_support_it_and_nothing_else_does():
    passages = [passage("a"), passage("a"), passage("b"), passage("c"), passage("d")]
    evidence = [
        said(0, "Hua Chunying", 0.9),
        said(1, "Hua Chunying", 0.8),  # the same article again: not support
        said(2, "Geng Shuang", 0.7),  # another answer: not support
        said(3, "Hua Chunying", 0.6),  # another article, the same answer (case and punctuation folded)
        said(4, "Hua Chunying", 0.5),
    ]
    chosen = Citer(".", max_citations=3).supporting(evidence, passages, threshold=0.2)
    assert [e.passage for e in chosen] == [0, 3, 4]
    assert [e.passage for e in Citer(".", max_citations=2).supporting(evidence, passages, threshold=0.2)] == [0, 3]
    assert [e.passage for e in Citer(".", max_citations=3).supporting(evidence, passages, threshold=0.55)] == [0, 3]


def test_a_citation_carries_its_article_and_a_path_the_user_can_type(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = Citer("news", max_citations=3).citation(1, passage("a"), 33, 66, (53, 65))
    assert (c.title, c.start, c.end, c.span_start, c.passage_start) == ("A", 33, 66, 53, 0)
    assert c.path == os.path.join("news", "a.txt")  # inside the working folder: relative
    assert Citer(tmp_path.parent / "elsewhere", max_citations=3).display_path("a.txt") == str((tmp_path.parent / "elsewhere" / "a.txt").resolve())
