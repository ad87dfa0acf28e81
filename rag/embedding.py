"""The sentence-transformers encoder: local model only, loaded once on first use.

Chunks are encoded once; each sentence's vector is pooled from the token states of that same
pass over its character span, so the reader gets sentence vectors at no extra encoding cost.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from tqdm.auto import tqdm


class ModelLoadError(RuntimeError):
    """The embedding model folder is missing or not a sentence-transformers model."""


class EncodedChunks(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    chunk_vectors: np.ndarray  # (chunks, dim) float32, L2-normalised
    sentence_vectors: np.ndarray  # (sentences, dim) float32, L2-normalised, chunk by chunk in order


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class Encoder:
    """Embeds questions and chunks with a local sentence-transformers model."""

    def __init__(self, model_path: Path, batch_size: int = 32):
        self.model_path = Path(model_path)
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        self.encode_query = lru_cache(maxsize=1024)(self._encode_query)

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        if not (self.model_path / "config.json").is_file() and not (self.model_path / "modules.json").is_file():
            raise ModelLoadError(
                f"no sentence-transformers model in {self.model_path} (expected config.json / modules.json); "
                "point RAG_MODEL_PATH at a local model folder"
            )
        # Never reach for a hub: the model is a local folder.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars are noise on every CLI call

        try:
            return SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        except Exception as exc:  # library errors vary by model; name the folder
            raise ModelLoadError(f"cannot load the embedding model from {self.model_path}: {exc}") from exc

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def name(self) -> str:
        return self.model_path.name if self.model_path.name != "model" else self.model_path.parent.name

    def _encode_query(self, text: str) -> np.ndarray:
        vector = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]
        vector.setflags(write=False)
        return vector.astype(np.float32, copy=False)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)

    def encode_chunks(
        self,
        texts: Sequence[str],
        sentence_spans: Sequence[Sequence[tuple[int, int]]],
        bar: tqdm | None = None,
    ) -> EncodedChunks:
        """Chunk vectors, plus one vector per sentence span (offsets relative to its chunk text); `bar` counts chunks."""
        import torch

        model = self.model
        chunk_vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentence_vectors: list[np.ndarray | None] = [None] * len(texts)
        # Longest first so each batch pads little, as sentence-transformers' own encode does.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for begin in range(0, len(order), self.batch_size):
            batch = order[begin : begin + self.batch_size]
            features = model.tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=model.max_seq_length,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = features.pop("offset_mapping").numpy()
            with torch.inference_mode():
                output = model.forward(dict(features))
            tokens = output["token_embeddings"].numpy()
            mask = features["attention_mask"].numpy().astype(bool)
            chunk_vectors[batch] = _normalise(output["sentence_embedding"].numpy())
            for row, index in enumerate(batch):
                sentence_vectors[index] = self._pool_sentences(
                    tokens[row], offsets[row], mask[row], sentence_spans[index], chunk_vectors[index]
                )
            if bar is not None:
                bar.update(len(batch))
        stacked = np.concatenate(sentence_vectors) if texts else np.zeros((0, self.dimension), np.float32)
        return EncodedChunks(chunk_vectors=chunk_vectors, sentence_vectors=stacked)

    @staticmethod
    def _pool_sentences(tokens, offsets, mask, spans, chunk_vector) -> np.ndarray:
        """Mean of the token states inside each sentence's character span."""
        real = mask & (offsets[:, 1] > offsets[:, 0])  # no padding, no [CLS]/[SEP]
        pooled = np.empty((len(spans), tokens.shape[1]), dtype=np.float32)
        for i, (start, end) in enumerate(spans):
            inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
            if inside.any():
                pooled[i] = tokens[inside].mean(axis=0)
            else:
                # The sentence fell past the model's truncation: the chunk vector stands in.
                pooled[i] = chunk_vector
        return _normalise(pooled)
