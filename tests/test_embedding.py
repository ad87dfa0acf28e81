import numpy as np
import pytest

from rag.config import packaged_model_path
from rag.embedding import Encoder, ModelLoadError
from rag.runtime import RuntimeOptions


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
    assert np.allclose(encoded.chunk_vectors, encoder.encode_texts(texts), atol=1e-5)
    # each pooled sentence vector is nearest to a question about that sentence
    cat, stocks = encoded.sentence_vectors[0], encoded.sentence_vectors[1]
    question = encoder.encode_query("Where did the cat sit?")
    assert question @ cat > question @ stocks


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match=str(tmp_path)):
        Encoder(tmp_path).encode_query("x")


@pytest.mark.parametrize("runtime, precision, largest_difference", [("torch", "f32", 1e-5), ("openvino", "f32", 1e-5), ("openvino", "int8", 0.02)])
def test_each_runtime_gives_the_vectors_sentence_transformers_gives(runtime, precision, largest_difference, settings):
    from sentence_transformers import SentenceTransformer

    texts = ["Huawei said on Wednesday that the 5G report was published.", "Short.", "A long text about the weather. " * 80]
    ours = Encoder(packaged_model_path(), runtime=settings.model_copy(update={"runtime": runtime, "precision": precision}).runtime_options())
    theirs = SentenceTransformer(str(packaged_model_path()), device="cpu", local_files_only=True).encode(texts, normalize_embeddings=True)
    assert np.abs(ours.encode_texts(texts) - theirs).max() < largest_difference
    assert np.abs(ours.encode_query(texts[0]) - theirs[0]).max() < largest_difference
    assert (ours.encode_texts(texts) * theirs).sum(axis=1).min() > (0.999999 if precision == "f32" else 0.995)


def test_a_pooling_this_encoder_cannot_apply_is_named(tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(packaged_model_path(), folder)
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_sqrt_len_tokens": true}', encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"1_Pooling/config.json.*pooling_mode_mean_sqrt_len_tokens"):
        Encoder(folder, runtime=RuntimeOptions(cache_dir=tmp_path / "cache")).encode_query("x")
