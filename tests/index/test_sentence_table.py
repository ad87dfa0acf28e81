"""The sentence table (rag/index/sentence_table.py): rows by chunk and the best sentence per chunk; no model."""

from __future__ import annotations

import numpy as np

from rag.index.sentence_table import SentenceTable


def table() -> SentenceTable:
    # Chunk 0: sentences along x and y; chunk 1: none; chunk 2: one along z.
    return SentenceTable(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32), [2, 0, 1])


def test_each_chunk_gets_its_own_rows():
    sentences = table()
    assert sentences.of_chunk(0).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert sentences.of_chunk(1).shape == (0, 3)
    assert sentences.of_chunk(2).tolist() == [[0, 0, 1]]
    assert sentences.cosines(0, np.array([0.6, 0.8, 0], dtype=np.float32)).tolist() == [np.float32(0.6), np.float32(0.8)]


def test_best_per_chunk_is_the_highest_sentence_cosine_in_any_order_of_rows():
    vector = np.array([0.6, 0.8, 0.0], dtype=np.float32)
    best = table().best_per_chunk(np.array([2, 1, 0]), vector)
    assert np.allclose(best, [0.0, 0.0, 0.8])
    assert table().best_per_chunk(np.array([], dtype=np.int64), vector).shape == (0,)
