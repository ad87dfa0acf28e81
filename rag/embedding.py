"""The sentence encoder: a sentence-transformers model folder, run by rag/runtime.py (OpenVINO by
default), loaded once on first use.

Chunks are encoded once; each sentence's vector is pooled from the token states of that same
pass over its character span, so the reader gets sentence vectors at no extra encoding cost.
The folder's own pooling (1_Pooling/config.json) and normalisation are applied here in numpy, as
sentence-transformers applies them, so no sentence-transformers import is needed to ask a question.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from tqdm.auto import tqdm

from rag.runtime import Network, NetworkLoadError, NetworkSource, RuntimeOptions, load_network
from rag.tokenization import TokenizerError, WordPieces

if TYPE_CHECKING:
    from rag.config import Settings

BATCHES_AHEAD = 2  # batches in flight while encoding many texts: pooling one overlaps the next (eval/RESULTS.md)
# sentence-transformers' pooling settings this encoder applies, and what each is called here
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max"}


class ModelLoadError(RuntimeError):
    """The embedding model folder is missing or not a sentence-transformers model."""


class EncodedChunks(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    chunk_vectors: np.ndarray  # (chunks, dim) float32, L2-normalised
    sentence_vectors: np.ndarray  # (sentences, dim) float32, L2-normalised, chunk by chunk in order

    @classmethod
    def assembled(cls, chunk_vectors: np.ndarray, sentences_of: dict[int, np.ndarray]) -> EncodedChunks:
        """From the sentence vectors of each chunk, by chunk number (encoded in any order): every chunk must have its own."""
        chunks, dimension = chunk_vectors.shape
        stacked = np.concatenate([sentences_of[n] for n in range(chunks)]) if chunks else np.zeros((0, dimension), np.float32)
        return cls(chunk_vectors=chunk_vectors, sentence_vectors=stacked)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class _LoadedEncoder:
    word_pieces: WordPieces
    network: Network
    max_length: int
    pooling: str
    dimension: int


class Encoder:
    """Embeds questions and chunks with a local sentence-transformers model folder."""

    def __init__(self, model_path: Path, batch_size: int = 32, runtime: RuntimeOptions | None = None, query_cache: int = 1024):
        self.model_path = Path(model_path)
        self.batch_size = batch_size
        self.runtime = runtime or RuntimeOptions()
        self._loaded: _LoadedEncoder | None = None
        self._lock = threading.Lock()
        self.encode_query = lru_cache(maxsize=query_cache)(self._encode_query)

    @classmethod
    def from_settings(cls, settings: Settings) -> Encoder:
        return cls(settings.resolved_model_path(), settings.embed_batch_size, settings.runtime_options(), settings.query_cache)

    def _model(self) -> _LoadedEncoder:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> _LoadedEncoder:
        folder = self.model_path
        weights = folder / "model.safetensors"
        if not (folder / "config.json").is_file() or not weights.is_file():
            raise ModelLoadError(
                f"no sentence-transformers model in {folder} (expected config.json and model.safetensors); point RAG_MODEL_PATH at a local model folder"
            )
        try:
            dimension = int(json.loads((folder / "config.json").read_text(encoding="utf-8"))["hidden_size"])
            max_length, pooling = WordPieces.max_length_of(folder), _pooling_mode(folder)
            word_pieces = WordPieces(folder)
            network = load_network(
                NetworkSource(
                    name=f"encoder-{self.name}",
                    files=[folder / "config.json", weights],
                    build=lambda: _token_states_module(folder),
                    example=lambda: word_pieces.texts(["An example to convert the network with.", "Short."], max_length).inputs,
                ),
                self.runtime,
            )
        except (TokenizerError, NetworkLoadError, OSError, ValueError, KeyError) as exc:  # JSONDecodeError is a ValueError
            raise ModelLoadError(f"cannot load the embedding model from {folder}: {exc}") from exc
        return _LoadedEncoder(word_pieces=word_pieces, network=network, max_length=max_length, pooling=pooling, dimension=dimension)

    @property
    def dimension(self) -> int:
        return self._model().dimension

    @property
    def name(self) -> str:
        return self.model_path.name if self.model_path.name != "model" else self.model_path.parent.name

    def _forward(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(token states, attention mask, character offsets, pooled and normalised text vectors) for one batch."""
        model = self._model()
        batch = model.word_pieces.texts(texts, model.max_length)
        tokens = model.network(batch.inputs)[0]
        mask = batch.inputs["attention_mask"]
        if model.pooling == "cls":
            pooled = tokens[:, 0]
        elif model.pooling == "max":
            pooled = np.where(mask[..., None] > 0, tokens, -1e9).max(axis=1)
        else:
            pooled = (tokens * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return tokens, mask.astype(bool), batch.offsets, _normalise(pooled)

    def _encode_query(self, text: str) -> np.ndarray:
        vector = self._forward([text])[3][0]
        vector.setflags(write=False)
        return vector

    def _batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], tuple]]:
        """(indices into texts, _forward's result) batch by batch, longest texts first so each batch pads
        little (as sentence-transformers' own encode does). BATCHES_AHEAD batches run on the network
        while the caller works on this one (both runtimes release the GIL while computing); with one
        thread per call (RAG_RUNTIME_THREADS=1) they run side by side, one per core."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        batches = [order[begin : begin + self.batch_size] for begin in range(0, len(order), self.batch_size)]
        with ThreadPoolExecutor(max_workers=BATCHES_AHEAD, thread_name_prefix="encode-ahead") as ahead:
            pending = deque(ahead.submit(self._forward, [texts[i] for i in batch]) for batch in batches[:BATCHES_AHEAD])
            for n, batch in enumerate(batches):
                result = pending.popleft().result()
                if n + BATCHES_AHEAD < len(batches):
                    pending.append(ahead.submit(self._forward, [texts[i] for i in batches[n + BATCHES_AHEAD]]))
                yield batch, result

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch, (_, _, _, pooled) in self._batches(texts):
            vectors[batch] = pooled
        return vectors

    def encode_chunks(
        self,
        texts: Sequence[str],
        sentence_spans: Sequence[Sequence[tuple[int, int]]],
        bar: tqdm | None = None,
    ) -> EncodedChunks:
        """Chunk vectors, plus one vector per sentence span (offsets relative to its chunk text); `bar` counts chunks."""
        chunk_vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentence_vectors: dict[int, np.ndarray] = {}
        for batch, (tokens, mask, offsets, pooled) in self._batches(texts):
            chunk_vectors[batch] = pooled
            for row, index in enumerate(batch):
                sentence_vectors[index] = self._pool_sentences(tokens[row], offsets[row], mask[row], sentence_spans[index], chunk_vectors[index])
            if bar is not None:
                bar.update(len(batch))
        return EncodedChunks.assembled(chunk_vectors, sentence_vectors)

    @staticmethod
    def _pool_sentences(tokens: np.ndarray, offsets: np.ndarray, mask: np.ndarray, spans: Sequence[tuple[int, int]], chunk_vector: np.ndarray) -> np.ndarray:
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


def _pooling_mode(folder: Path) -> str:
    """The folder's sentence-transformers pooling; mean where it names none (its default)."""
    config_file = folder / "1_Pooling" / "config.json"
    if not config_file.is_file():
        return "mean"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    chosen = sorted(key for key, on in config.items() if key.startswith("pooling_mode_") and on is True)
    if len(chosen) != 1 or chosen[0] not in POOLING_MODES:
        raise ModelLoadError(f"{config_file}: one of {', '.join(POOLING_MODES)} is supported, found {chosen or 'none'}")
    return POOLING_MODES[chosen[0]]


def _token_states_module(folder: Path) -> Any:  # a torch.nn.Module
    """The folder's transformer as a torch module: inputs by name in, (token states,) out."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the model is a local folder
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars are noise on every CLI call
    transformers_logging.set_verbosity_error()  # its notes on config fields this model does not use
    transformer = AutoModel.from_pretrained(str(folder), local_files_only=True)
    takes_token_types = "token_type_ids" in inspect.signature(transformer.forward).parameters

    class TokenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if takes_token_types:  # BERT does; some families (MPNet, DistilBERT) have no such input
                inputs["token_type_ids"] = token_type_ids
            return (self.transformer(**inputs).last_hidden_state,)

    return TokenStates()
