"""Bulk embedding on a local Ray (rag/index/ray_embedding.py): the same vectors as the in-process encoder's."""

import subprocess

import numpy as np
import pytest

from eval.crash_test import RAG
from rag.index.ray_embedding import RayChunkEncoder

TEXTS = [
    "Heavy rain closed 14 coastal roads in Brighton on Tuesday. The storm brought winds of 90 kilometres per hour.",
    "The central bank kept its main interest rate at 1.5 percent on Wednesday.",
    "Short.",
] * 30  # more chunks than one worker's batch: the run is spread over several


def _spans(text: str) -> list[tuple[int, int]]:
    first = text.find(". ") + 1 or len(text)
    return [(0, first), (first + 1, len(text))] if first < len(text) else [(0, len(text))]


@pytest.fixture
def local_ray(monkeypatch):
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # nothing written under ~/.ray
    yield
    import ray

    ray.shutdown()


def test_a_local_ray_gives_the_in_process_encoders_vectors(encoder, local_ray):
    spans = [_spans(t) for t in TEXTS]
    here = encoder.encode_chunks(TEXTS, spans)
    on_ray = RayChunkEncoder(encoder).encode_chunks(TEXTS, spans)
    assert on_ray.chunk_vectors.shape == here.chunk_vectors.shape and on_ray.sentence_vectors.shape == here.sentence_vectors.shape
    np.testing.assert_allclose(on_ray.chunk_vectors, here.chunk_vectors, atol=1e-5)
    np.testing.assert_allclose(on_ray.sentence_vectors, here.sentence_vectors, atol=1e-5)


def test_an_unreachable_ray_cluster_is_one_clear_line_and_the_index_is_kept(tmp_path):
    (tmp_path / "a.txt").write_text("Harbour opens\n\nThe new harbour opened on Friday.", encoding="utf-8")
    assert subprocess.run([RAG, "index", str(tmp_path)], capture_output=True, text=True, timeout=300).returncode == 0
    served = (tmp_path / ".rag-index" / "CURRENT").read_text()
    (tmp_path / "b.txt").write_text("Bridge closes\n\nThe old bridge closed on Monday.", encoding="utf-8")
    result = subprocess.run([RAG, "index", str(tmp_path), "--ray", "127.0.0.1:1"], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "rag: error: cannot reach the Ray cluster at 127.0.0.1:1 ([Errno 111] Connection refused); check the address (ray://HOST:10001 or HOST:6379)"
    )
    assert (tmp_path / ".rag-index" / "CURRENT").read_text() == served
