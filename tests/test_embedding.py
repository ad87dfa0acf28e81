import numpy as np
import pytest

from rag.embedding import Encoder, ModelLoadError


def test_query_vectors_are_normalised_384d(encoder):
    vector = encoder.encode_query("Who is the spokesperson?")
    assert vector.shape == (384,) and vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5


def test_chunk_pass_gives_sentence_vectors_pooled_from_its_tokens(encoder):
    texts = ["The cat sat on the mat. Stocks fell sharply on Monday.", "Rain is expected tomorrow."]
    spans = [[(0, 23), (24, 54)], [(0, 26)]]
    encoded = encoder.encode_chunks(texts, spans)
    assert encoded.chunk_vectors.shape == (2, 384)
    assert encoded.sentence_vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(encoded.sentence_vectors, axis=1), 1, atol=1e-5)
    # the chunk vector equals what sentence-transformers' own encode gives
    assert np.allclose(encoded.chunk_vectors, encoder.encode_texts(texts), atol=1e-5)
    # each pooled sentence vector is nearest to a question about that sentence
    cat, stocks = encoded.sentence_vectors[0], encoded.sentence_vectors[1]
    question = encoder.encode_query("Where did the cat sit?")
    assert question @ cat > question @ stocks


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match=str(tmp_path)):
        Encoder(tmp_path).encode_query("x")
