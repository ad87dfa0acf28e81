"""The sentence vectors of an index: every chunk's sentences, chunk after chunk, and where each chunk's begin."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SentenceTable:
    """Rows of sentence vectors by chunk: the one place that knows the row layout."""

    def __init__(self, vectors: np.ndarray, sentences_per_chunk: Sequence[int]):
        self.vectors = vectors
        counts = np.asarray(sentences_per_chunk, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def of_chunk(self, row: int) -> np.ndarray:
        """The chunk's sentence vectors, in the order of its sentences."""
        return self.vectors[self.offsets[row] : self.offsets[row + 1]]

    def cosines(self, row: int, vector: np.ndarray) -> np.ndarray:
        """The cosine of each of the chunk's sentences with a unit vector (the stored vectors are unit length)."""
        return self.of_chunk(row) @ vector

    def best_per_chunk(self, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
        """Per chunk row, the highest cosine of one of its sentences with the vector (0 for a chunk without any)."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros(0)
        starts, lengths = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        has = lengths > 0
        best = np.zeros(len(rows))
        if has.any():
            starts, lengths = starts[has], lengths[has]
            firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            # All sentence rows of the chunks, chunk after chunk, then the max within each chunk's run.
            sentence_rows = np.repeat(starts - firsts, lengths) + np.arange(lengths.sum())
            best[has] = np.maximum.reduceat(self.vectors[sentence_rows] @ vector, firsts)
        return best
