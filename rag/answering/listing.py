""" "Which articles mention Brazil?": every article that names the topic, newest first, each cited at its first mention."""

from __future__ import annotations

from rag.answering.context import Asked, Searcher
from rag.config import MAX_K
from rag.query.article_list import mentions
from rag.query.intents import ListArticles
from rag.schema import Answer


def answer(intent: ListArticles, asked: Asked, search: Searcher) -> Answer:
    """BM25 by default: the topic's own words are what must be there."""
    retriever = asked.retriever if asked.retriever and asked.retriever != "hybrid" else "bm25"
    passages, scopes = search.scoped(intent.topic, asked, MAX_K, retriever)
    found = mentions(intent.topic, passages)
    citations = [search.citer.citation(n, m.passage, m.start, m.end, (m.mention_start, m.mention_end)) for n, m in enumerate(found, start=1)]
    count = "1 article mentions" if len(found) == 1 else f"{len(found)} articles mention"
    return Answer(
        question=asked.question,
        kind="article_list",
        found=bool(found),
        answer=f"{count} “{intent.topic}”, newest first" if found else None,
        score=1.0 if found else 0.0,
        citations=citations,
        listing=intent.topic,
        passages=passages,
        **scopes.answer_fields(),
    )
