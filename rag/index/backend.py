"""What retrieval and the readers ask of an index, whichever store holds it.

Two stores implement `SearchIndex`: the embedded folder (rag/index/store.py: FAISS, bm25s and the chunks in
this process's memory, the default) and Milvus (rag/index/milvus_store.py: a server or a cluster). The
retriever, fusion, the readers and the pipeline talk to this interface only, so both rank the same way:
fusion and re-scoring stay ours, on normalised scores.

A chunk is named by its row: 0 … size-1 in the order the index was built, in both stores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.schema import Article, Chunk
from rag.text import terms

Rows = Sequence[int] | np.ndarray  # chunk rows of an index, as a list or an integer array

# Both stores switch dense search to HNSW above the exact-search limit, with these parameters
# (eval/benchmark.py measures their recall against exact search).
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.index.store import IndexContents, Manifest


class Filters(BaseModel):
    model_config = ConfigDict(frozen=True)  # hashable: filter masks are cached per Filters

    since: dt.date | None = None
    until: dt.date | None = None
    source: str | None = Field(None, description="case-insensitive part of the article's source, byline or path")
    articles: frozenset[str] | None = Field(None, description="the ids of the only articles to search (Pipeline.chosen_articles)")

    def is_empty(self) -> bool:
        return self.since is None and self.until is None and not self.source and self.articles is None

    def admits(self, article: Article) -> bool:
        """Whether the article is one the filters let through (undated articles fail any date bound)."""
        if self.articles is not None and article.id not in self.articles:
            return False
        if self.since and (article.published is None or article.published < self.since):
            return False
        if self.until and (article.published is None or article.published > self.until):
            return False
        return not self.source or self.source.lower() in source_key(article)


def source_key(article: Article) -> str:
    """What a source filter matches a part of: the article's source, byline and path, lower-cased."""
    return "\n".join((value or "").lower() for value in (article.source, article.byline, article.path))


@dataclass(frozen=True)
class LexicalHits:
    """BM25's best rows for a query, and the BM25 score of those and of the rows asked to be re-scored.

    Scores are positive, higher is better, on the store's own scale: fusion divides them by the best one."""

    top: list[tuple[int, float]]  # (row, score), best first, ties by row
    scores: dict[int, float]  # row -> score, 0 for a row that shares no term with the query


def lexical_terms(article: Article, chunk: Chunk, title_in_chunks: bool) -> list[str]:
    """What BM25 indexes for a chunk: the terms of its article's title (when chunks carry it) and of the chunk."""
    return terms(article.headline + " " + chunk.text if title_in_chunks else chunk.text)


class SearchIndex(Protocol):
    """One loaded index generation: its manifest and articles in memory, its chunks searched where they are."""

    manifest: Manifest
    articles: dict[str, Article]

    @property
    def size(self) -> int:
        """How many chunks it holds."""
        ...

    @property
    def documents(self) -> int:
        """How many chunks BM25 counts (the idf's N)."""
        ...

    def dense_search(self, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        """The k rows whose chunk vectors are nearest the (unit) vector, best first, with their inner products."""
        ...

    def lexical_search(self, query_terms: Sequence[str], k: int, filters: Filters, rescore: Sequence[int] = ()) -> LexicalHits:
        """BM25's k best rows with a positive score among those the filters admit, and the scores of the
        rescore rows too."""
        ...

    def chunks_at(self, rows: Rows) -> list[Chunk]: ...

    def chunk_vectors_at(self, rows: Rows) -> np.ndarray:
        """(len(rows), dimension) float32, unit length."""
        ...

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        """The chunk's sentence vectors, in the order of its sentences."""
        ...

    def best_sentence_cosines(self, rows: Rows, vector: np.ndarray) -> np.ndarray:
        """Per row, the highest cosine of one of its chunk's sentences with the vector (0 for none)."""
        ...

    def document_frequency(self, term: str) -> int:
        """How many chunks hold the (stemmed) term."""
        ...

    def idf(self, term: str) -> float: ...


class IndexBackend(Protocol):
    """Where the index lives and how a generation is written, read and switched to: the embedded folder
    (rag/index/store.py, IndexStore) or Milvus (rag/index/milvus_store.py, MilvusStore). A save writes a whole new
    generation beside the served one and switches to it at once, so a failed or killed run leaves the
    served index as it was."""

    path: Path  # a local folder: the writer's lock and the embedding journal (the whole index, for the embedded store)

    @property
    def location(self) -> str:
        """Where the index is, as messages name it."""
        ...

    def exists(self) -> bool: ...

    def live_generation(self) -> str:
        """The name of the generation now served (IndexMissing when there is none)."""
        ...

    def read_manifest(self) -> Manifest: ...

    def load(self, settings: Settings | None = None) -> IndexContents:
        """The whole live generation, for an update to reuse (IndexIncompatible when the settings differ)."""
        ...

    def open(self, settings: Settings) -> SearchIndex:
        """The live generation, ready to search."""
        ...

    def prepare(self, contents: IndexContents, settings: Settings) -> IndexContents:
        """The contents as this store saves them (the embedded store builds its FAISS and BM25 indexes)."""
        ...

    def save(self, contents: IndexContents) -> str:
        """Write a new generation, switch to it, return its name."""
        ...

    def remove_stale(self) -> None: ...

    def lock(self) -> AbstractContextManager[None]:
        """One writer at a time."""
        ...
