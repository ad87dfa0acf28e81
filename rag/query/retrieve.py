"""Hybrid retrieval: dense and BM25 candidates, re-scored by both and fused.

The union of both top lists is scored by the normalised BM25 score, the chunk's cosine and its best
sentence's cosine (weights in Settings); reciprocal rank fusion remains as the measured baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from rag.config import RetrieverMode, Settings
from rag.embedding import Encoder
from rag.index.backend import Filters, LexicalHits, SearchIndex
from rag.schema import Passage
from rag.text import terms

NO_FILTERS = Filters()  # frozen, so one instance serves every default


class RetrievalRequest(BaseModel):
    query: str
    k: int = Field(5, ge=1)
    mode: RetrieverMode = "hybrid"
    filters: Filters = NO_FILTERS


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
    return settings.bm25_weight * lexical + settings.dense_weight * candidates.dense + settings.sentence_weight * candidates.sentence


class Retriever:
    """Finds the passages for a query in one loaded index, whichever store holds it."""

    def __init__(self, index: SearchIndex, encoder: Encoder, settings: Settings):
        self.index = index
        self.encoder = encoder
        self.settings = settings

    def run(self, request: RetrievalRequest) -> list[Passage]:
        if not self.index.size:
            return []
        depth = max(self.settings.candidates, request.k)
        if request.mode == "hybrid":
            found = self.candidates(request.query, depth, request.filters)
            scores = fuse(found, self.settings)
            order = np.lexsort((found.rows, -scores))[: request.k]
            ranked = [(int(found.rows[i]), float(scores[i]), int(found.dense_rank[i]) or None, int(found.bm25_rank[i]) or None) for i in order]
        elif request.mode == "dense":
            vector = self.encoder.encode_query(request.query)
            ranked = [(row, score, rank, None) for rank, (row, score) in enumerate(self.index.dense_search(vector, depth, request.filters)[: request.k], 1)]
        else:
            hits = self.index.lexical_search(terms(request.query), min(depth, request.k), request.filters)
            ranked = [(row, score, None, rank) for rank, (row, score) in enumerate(hits.top, 1)]
        chunks, articles = self.index.chunks_at([row for row, *_ in ranked]), self.index.articles
        return [
            Passage(row=row, chunk=chunk, article=articles[chunk.article_id], score=score, dense_rank=dense_rank, bm25_rank=bm25_rank)
            for (row, score, dense_rank, bm25_rank), chunk in zip(ranked, chunks, strict=True)
        ]

    def candidates(self, query: str, depth: int, filters: Filters = NO_FILTERS) -> Candidates:
        """Top `depth` rows of each retriever, each re-scored by the other signals exactly."""
        vector = self.encoder.encode_query(query)
        dense = self.dense_ranking(vector, depth, filters)
        return self.combine(vector, dense, self.index.lexical_search(terms(query), depth, filters, rescore=dense))

    def dense_ranking(self, vector: np.ndarray, depth: int, filters: Filters) -> list[int]:
        return [row for row, _ in self.index.dense_search(vector, depth, filters)]

    def combine(self, vector: np.ndarray, dense: list[int], lexical: LexicalHits) -> Candidates:
        """The union of both rankings with every candidate's scores (a step of its own, to be timed alone)."""
        bm25 = [row for row, _ in lexical.top]
        rows = np.array(sorted(set(dense) | set(bm25)), dtype=np.int64)
        dense_rank = {row: rank for rank, row in enumerate(dense, start=1)}
        bm25_rank = {row: rank for rank, row in enumerate(bm25, start=1)}
        return Candidates(
            rows=rows,
            bm25=np.array([lexical.scores.get(int(r), 0.0) for r in rows], dtype=np.float64),
            # Exact cosines from the stored vectors, also when the nearest-neighbour search is approximate.
            dense=self.index.chunk_vectors_at(rows) @ vector,
            sentence=self.index.best_sentence_cosines(rows, vector),
            bm25_rank=np.array([bm25_rank.get(int(r), 0) for r in rows], dtype=np.int64),
            dense_rank=np.array([dense_rank.get(int(r), 0) for r in rows], dtype=np.int64),
        )
