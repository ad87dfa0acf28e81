"""The FAISS wrapper (rag/index/dense.py): exact and HNSW search, filters, the vectors view, write and load; no model."""

from __future__ import annotations

import numpy as np
import pytest

from rag.index.dense import DenseIndex


def unit_vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("exact_max, kind", [(100, "IndexFlatIP"), (0, "IndexHNSWFlat")])
def test_search_finds_the_nearest_rows_best_first(exact_max, kind):
    vectors = unit_vectors(50)
    index = DenseIndex.build(vectors, exact_max)
    assert index.kind == kind and index.size == 50
    found = index.search(vectors[7], 5)
    assert found[0][0] == 7 and found[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


def test_only_allowed_rows_are_returned_and_k_is_capped():
    vectors = unit_vectors(20)
    allowed = np.zeros(20, dtype=bool)
    allowed[[3, 4]] = True
    index = DenseIndex.build(vectors, 100)
    assert {row for row, _ in index.search(vectors[7], 5, allowed)} == {3, 4}
    assert len(index.search(vectors[0], 100)) == 20
    assert DenseIndex.build(np.zeros((0, 8), np.float32), 100).search(vectors[0], 5) == []


def test_the_vectors_view_is_the_stored_vectors_read_only():
    vectors = unit_vectors(10)
    index = DenseIndex.build(vectors, 0)  # the view is valid while the index lives
    view = index.vectors()
    assert np.array_equal(view, vectors) and not view.flags.writeable


def test_write_then_load_searches_the_same(tmp_path):
    vectors = unit_vectors(30)
    index = DenseIndex.build(vectors, 100)
    with open(tmp_path / "dense.faiss", "wb") as handle:
        index.write(handle)
    loaded = DenseIndex.load(tmp_path / "dense.faiss")
    assert loaded.search(vectors[2], 4) == index.search(vectors[2], 4)
    with pytest.raises(RuntimeError):
        DenseIndex.load(tmp_path / "missing.faiss")
