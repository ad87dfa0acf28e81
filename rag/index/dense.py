"""Nearest chunk vectors: the one module that knows FAISS (a second backend replaces this class)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from rag.index.backend import HNSW_EF_SEARCH, HNSW_NEIGHBOURS

# FAISS's own stubs (faiss/__init__.pyi) miss parts of its API (IndexHNSW.hnsw, PyCallbackIOWriter, get_xb,
# SearchParameters(sel=)): the `type: ignore`s below mark those calls, which its tests run.


class DenseIndex:
    """Inner-product search over the chunk vectors, exact or HNSW."""

    def __init__(self, index: Any) -> None:
        self._index = index  # faiss.Index

    @classmethod
    def build(cls, vectors: np.ndarray, exact_max: int) -> DenseIndex:
        """Exact inner product up to exact_max vectors; HNSW above, where exact search gets slow."""
        import faiss

        dim = vectors.shape[1]
        if len(vectors) <= exact_max:
            index = faiss.IndexFlatIP(dim)
        else:
            index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)  # type: ignore[assignment]
            index.hnsw.efSearch = HNSW_EF_SEARCH  # type: ignore[attr-defined]
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        """Raises RuntimeError (FAISS's) when the file is missing or damaged."""
        import faiss

        return cls(faiss.read_index(str(path)))

    def write(self, handle: BinaryIO) -> None:
        """Streamed to the file: serializing first would hold two whole copies of the index in memory."""
        import faiss

        faiss.write_index(self._index, faiss.PyCallbackIOWriter(handle.write))  # type: ignore[attr-defined]

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def kind(self) -> str:
        return type(self._index).__name__

    def vectors(self) -> np.ndarray:
        """The vectors the index holds, as a read-only view of its own storage: a big index's vectors are
        then in memory once, not twice. Valid while this object lives (IndexData keeps both)."""
        import faiss

        index = self._index
        flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
        if not flat.ntotal:
            return np.zeros((0, flat.d), np.float32)
        view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)  # type: ignore[union-attr]
        view.flags.writeable = False
        return view

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k rows nearest the vector (among the allowed ones), best first, with their inner products."""
        import faiss

        k = min(k, self.size)
        if k <= 0:
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64)))  # type: ignore[call-arg]
        scores, rows = self._index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), k, params=params)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
