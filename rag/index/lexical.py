"""BM25 over the chunks: the one module that knows bm25s (a library upgrade is an edit here only)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_EN_PLUS

# What rag.text.terms splits and drops, as bm25s itself would: its default token pattern (words of two
# or more characters) and its English stopwords.
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")
STOPWORDS = frozenset(STOPWORDS_EN)
# bm25s's longer English list, which also drops question words (who, what, did, …): what a question
# asks about, not how it asks.
FUNCTION_WORDS = frozenset(STOPWORDS_EN_PLUS)


def bm25_idf(documents: int, frequency: int) -> float:
    """BM25's inverse document frequency (Lucene's, never negative); highest for a term no chunk holds."""
    return math.log(1.0 + (documents - frequency + 0.5) / (frequency + 0.5))


class LexicalIndex:
    """BM25 scores of every chunk for a query's terms, and each term's document frequency."""

    def __init__(self, bm25: Any) -> None:
        self._bm25 = bm25  # bm25s.BM25
        self._vocabulary: dict[str, int] = bm25.vocab_dict
        # bm25s keeps its scores as a CSC matrix whose columns are terms: a column's length is the
        # number of chunks holding the term.
        self._document_frequency = np.diff(np.asarray(bm25.scores["indptr"]))

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25()
        # bm25s cannot index an empty corpus or an all-empty one; a placeholder token keeps shapes aligned.
        bm25.index([tokens or ["\u0000"] for tokens in token_lists] or [["\u0000"]], show_progress=False)
        return cls(bm25)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Raises OSError, ValueError, KeyError or EOFError when the folder's files are missing or damaged."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), load_corpus=False, mmap=False, allow_pickle=False))

    def save(self, folder: Path) -> list[Path]:
        """Writes the index's files into folder (created); returns them."""
        self._bm25.save(str(folder))
        return sorted(Path(folder).iterdir())

    @property
    def documents(self) -> int:
        return int(self._bm25.scores["num_docs"])

    @property
    def nbytes(self) -> int:
        return sum(part.nbytes for part in self._bm25.scores.values() if isinstance(part, np.ndarray))

    def document_frequency(self, term: str) -> int:
        """How many chunks hold the term (0 for a term no chunk holds)."""
        column = self._vocabulary.get(term)
        return int(self._document_frequency[column]) if column is not None else 0

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency (Lucene's, never negative); highest for a term no chunk holds."""
        return bm25_idf(self.documents, self.document_frequency(term))

    def scores(self, query_terms: Iterable[str], allowed: np.ndarray | None = None) -> np.ndarray:
        """The BM25 score of every chunk (0 where not allowed, all 0 when no term is in the index)."""
        ids = [self._vocabulary[t] for t in dict.fromkeys(query_terms) if t in self._vocabulary]
        if not ids:
            return np.zeros(self.documents, dtype=np.float32)
        return self._bm25.get_scores_from_ids(ids, weight_mask=None if allowed is None else allowed.astype(np.float32))
