"""Hybrid retrieval: dense (FAISS) and BM25 candidates, re-scored by both and fused.

The union of both top lists is scored by the normalised BM25 score, the chunk's cosine and its best
sentence's cosine (weights in Settings); reciprocal rank fusion remains as the measured baseline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.config import RetrieverMode, Settings
from rag.embedding import Encoder
from rag.schema import Passage
from rag.store import IndexData
from rag.text import terms


class Filters(BaseModel):
    model_config = ConfigDict(frozen=True)  # hashable: filter masks are cached per Filters

    since: dt.date | None = None
    until: dt.date | None = None
    source: str | None = Field(None, description="case-insensitive part of the article's source, byline or path")
    articles: frozenset[str] | None = Field(None, description="the ids of the only articles to search (Pipeline.chosen_articles)")

    def is_empty(self) -> bool:
        return self.since is None and self.until is None and not self.source and self.articles is None


class RetrievalRequest(BaseModel):
    query: str
    k: int = Field(5, ge=1)
    mode: RetrieverMode = "hybrid"
    filters: Filters = Filters()


@dataclass(frozen=True)
class Candidates:
    """The union of both retrievers' top rows for one query, with every signal fusion may use."""

    rows: np.ndarray  # chunk rows
    bm25: np.ndarray  # BM25 score (0 when the chunk shares no term with the query)
    dense: np.ndarray  # cosine of the chunk vector and the query
    sentence: np.ndarray  # cosine of the chunk's best-matching sentence and the query
    bm25_rank: np.ndarray  # 1-based rank in BM25's list, 0 when not in it
    dense_rank: np.ndarray


def fuse(candidates: Candidates, settings: Settings) -> np.ndarray:
    """One hybrid score per candidate (higher is better)."""
    if settings.fusion == "rrf":
        def rrf(ranks: np.ndarray) -> np.ndarray:
            return np.where(ranks > 0, 1.0 / (settings.rrf_k + ranks), 0.0)

        return settings.bm25_weight * rrf(candidates.bm25_rank) + settings.dense_weight * rrf(candidates.dense_rank)
    # BM25 scores are unbounded and query-dependent: divided by the best one they become comparable
    # across queries, while cosines already are. The best sentence is where SQuAD-style questions
    # match: a chunk's pooled vector dilutes one relevant sentence among unrelated ones.
    top = candidates.bm25.max(initial=0.0)
    lexical = candidates.bm25 / top if top > 0 else candidates.bm25
    return (
        settings.bm25_weight * lexical
        + settings.dense_weight * candidates.dense
        + settings.sentence_weight * candidates.sentence
    )


class Retriever:
    """Finds the passages for a query in one loaded index."""

    def __init__(self, index: IndexData, encoder: Encoder, settings: Settings):
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self._allowed = lru_cache(maxsize=64)(self._allowed_rows)

    def run(self, request: RetrievalRequest) -> list[Passage]:
        if not self.index.chunks:
            return []
        allowed = self._allowed(request.filters) if not request.filters.is_empty() else None
        if allowed is not None and not allowed.any():
            return []
        depth = max(self.settings.candidates, request.k)
        if request.mode == "hybrid":
            found = self.candidates(request.query, depth, allowed)
            scores = fuse(found, self.settings)
            order = np.lexsort((found.rows, -scores))[: request.k]
            ranked = [(int(found.rows[i]), float(scores[i]), int(found.dense_rank[i]) or None, int(found.bm25_rank[i]) or None) for i in order]
        elif request.mode == "dense":
            ranked = [(row, score, rank, None) for rank, (row, score) in enumerate(self.dense_ranking(request.query, depth, allowed)[: request.k], 1)]
        else:
            scores = self.bm25_scores(request.query, allowed)
            ranked = [(row, float(scores[row]), None, rank) for rank, row in enumerate(top_rows(scores, min(depth, request.k)), 1)]
        chunks, articles = self.index.chunks, self.index.articles
        return [
            Passage(row=row, chunk=chunks[row], article=articles[chunks[row].article_id], score=score, dense_rank=dense_rank, bm25_rank=bm25_rank)
            for row, score, dense_rank, bm25_rank in ranked
        ]

    def candidates(self, query: str, depth: int, allowed: np.ndarray | None = None) -> Candidates:
        """Top `depth` rows of each retriever, each re-scored by the other signals exactly."""
        bm25_scores = self.bm25_scores(query, allowed)
        dense = [row for row, _ in self.dense_ranking(query, depth, allowed)]
        return self.combine(self.encoder.encode_query(query), dense, bm25_scores, top_rows(bm25_scores, depth))

    def combine(self, vector: np.ndarray, dense: list[int], bm25_scores: np.ndarray, bm25: list[int]) -> Candidates:
        """The union of both rankings with every candidate's scores (a step of its own, to be timed alone)."""
        rows = np.array(sorted(set(dense) | set(bm25)), dtype=np.int64)
        dense_rank = {row: rank for rank, row in enumerate(dense, start=1)}
        bm25_rank = {row: rank for rank, row in enumerate(bm25, start=1)}
        return Candidates(
            rows=rows,
            bm25=bm25_scores[rows].astype(np.float64),
            # Exact cosines from the stored vectors, also when the FAISS index is approximate.
            dense=self.index.chunk_vectors[rows] @ vector,
            sentence=self.index.sentences.best_per_chunk(rows, vector),
            bm25_rank=np.array([bm25_rank.get(int(r), 0) for r in rows], dtype=np.int64),
            dense_rank=np.array([dense_rank.get(int(r), 0) for r in rows], dtype=np.int64),
        )

    def dense_ranking(self, query: str, depth: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        return self.index.dense.search(self.encoder.encode_query(query), depth, allowed)

    def bm25_scores(self, query: str, allowed: np.ndarray | None) -> np.ndarray:
        """BM25 score of every chunk (all zero when no query term is in the index)."""
        return self.index.lexical.scores(terms(query), allowed)

    def _allowed_rows(self, filters: Filters) -> np.ndarray:
        source = filters.source.lower() if filters.source else None
        allowed_articles = set()
        for article in self.index.articles.values():
            if filters.articles is not None and article.id not in filters.articles:
                continue
            if filters.since and (article.published is None or article.published < filters.since):
                continue
            if filters.until and (article.published is None or article.published > filters.until):
                continue
            if source and not any(source in (value or "").lower() for value in (article.source, article.byline, article.path)):
                continue
            allowed_articles.add(article.id)
        return np.fromiter((c.article_id in allowed_articles for c in self.index.chunks), dtype=bool, count=len(self.index.chunks))


def top_rows(scores: np.ndarray, depth: int) -> list[int]:
    """Rows of the `depth` highest positive scores, best first (ties by row)."""
    depth = min(depth, int((scores > 0).sum()))
    if depth == 0:
        return []
    top = np.argpartition(-scores, depth - 1)[:depth]
    return [int(r) for r in top[np.lexsort((top, -scores[top]))]]
