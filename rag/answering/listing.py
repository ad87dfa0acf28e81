""" "Which articles mention Brazil?": every article that names the topic, newest first, each cited at its first mention."""

from __future__ import annotations

from rag.answering.context import Asked, Searcher
from rag.config import MAX_K, RetrieverMode
from rag.query.article_list import mentions
from rag.query.intents import ListArticles
from rag.query.question_scope import Scopes
from rag.schema import Answer, AnswerKind, Citation, Passage


def answer(intent: ListArticles, asked: Asked, search: Searcher) -> Answer:
    passages, scopes = search.scoped(intent.topic, asked, MAX_K, topic_retriever(asked))
    found = mentions(intent.topic, passages)
    citations = [search.citer.citation(n, m.passage, m.start, m.end, (m.mention_start, m.mention_end)) for n, m in enumerate(found, start=1)]
    count = "1 article mentions" if len(found) == 1 else f"{len(found)} articles mention"
    return articles_answer(asked, "article_list", f"{count} “{intent.topic}”, newest first", citations, intent.topic, passages, scopes)


def topic_retriever(asked: Asked) -> RetrieverMode:
    """BM25 unless the request names another: the topic's own words are what must be there."""
    return asked.retriever if asked.retriever and asked.retriever != "hybrid" else "bm25"


def articles_answer(asked: Asked, kind: AnswerKind, heading: str, citations: list[Citation], topic: str, passages: list[Passage], scopes: Scopes) -> Answer:
    """An answer whose citations are articles on a topic (found when there is one), under its heading."""
    return Answer(
        question=asked.question,
        kind=kind,
        found=bool(citations),
        answer=heading if citations else None,
        score=1.0 if citations else 0.0,
        citations=citations,
        listing=topic,
        passages=passages,
        **scopes.answer_fields(),
    )
