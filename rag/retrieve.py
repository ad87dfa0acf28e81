"""Hybrid retrieval: dense (FAISS) and BM25 candidates fused by weighted reciprocal rank fusion."""

from __future__ import annotations

import datetime as dt
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

    def is_empty(self) -> bool:
        return self.since is None and self.until is None and not self.source


class RetrievalRequest(BaseModel):
    query: str
    k: int = Field(5, ge=1)
    mode: RetrieverMode = "hybrid"
    filters: Filters = Filters()


class Retriever:
    """Finds the passages for a query in one loaded index."""

    def __init__(self, index: IndexData, encoder: Encoder, settings: Settings):
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self._bm25_vocab = index.bm25.vocab_dict
        self._allowed = lru_cache(maxsize=64)(self._allowed_rows)

    def run(self, request: RetrievalRequest) -> list[Passage]:
        chunks = self.index.chunks
        if not chunks:
            return []
        allowed = self._allowed(request.filters) if not request.filters.is_empty() else None
        if allowed is not None and not allowed.any():
            return []
        depth = max(self.settings.candidates, request.k)
        dense = self.dense_ranking(request.query, depth, allowed) if request.mode != "bm25" else []
        bm25 = self.bm25_ranking(request.query, depth, allowed) if request.mode != "dense" else []
        fused = self.fuse(dense, bm25)[: request.k]
        dense_rank = {row: rank for rank, row in enumerate(dense, start=1)}
        bm25_rank = {row: rank for rank, row in enumerate(bm25, start=1)}
        articles = self.index.articles
        return [
            Passage(
                row=row,
                chunk=chunks[row],
                article=articles[chunks[row].article_id],
                score=score,
                dense_rank=dense_rank.get(row),
                bm25_rank=bm25_rank.get(row),
            )
            for row, score in fused
        ]

    def dense_ranking(self, query: str, depth: int, allowed: np.ndarray | None) -> list[int]:
        import faiss

        vector = self.encoder.encode_query(query)[None, :]
        depth = min(depth, len(self.index.chunks))
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64)))
        _, rows = self.index.dense.search(vector, depth, params=params)
        return [int(r) for r in rows[0] if r >= 0]

    def bm25_ranking(self, query: str, depth: int, allowed: np.ndarray | None) -> list[int]:
        ids = [self._bm25_vocab[t] for t in dict.fromkeys(terms(query)) if t in self._bm25_vocab]
        if not ids:
            return []
        scores = self.index.bm25.get_scores_from_ids(ids, weight_mask=None if allowed is None else allowed.astype(np.float32))
        depth = min(depth, len(scores))
        top = np.argpartition(-scores, depth - 1)[:depth]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [int(r) for r in top if scores[r] > 0]

    def fuse(self, dense: list[int], bm25: list[int]) -> list[tuple[int, float]]:
        """Weighted reciprocal rank fusion; a retriever that found nothing simply adds nothing."""
        k = self.settings.rrf_k
        fused: dict[int, float] = {}
        for ranking, weight in ((dense, self.settings.dense_weight), (bm25, self.settings.bm25_weight)):
            for rank, row in enumerate(ranking, start=1):
                fused[row] = fused.get(row, 0.0) + weight / (k + rank)
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))

    def _allowed_rows(self, filters: Filters) -> np.ndarray:
        source = filters.source.lower() if filters.source else None
        allowed_articles = set()
        for article in self.index.articles.values():
            if filters.since and (article.published is None or article.published < filters.since):
                continue
            if filters.until and (article.published is None or article.published > filters.until):
                continue
            if source and not any(source in (value or "").lower() for value in (article.source, article.byline, article.path)):
                continue
            allowed_articles.add(article.id)
        return np.fromiter((c.article_id in allowed_articles for c in self.index.chunks), dtype=bool, count=len(self.index.chunks))
