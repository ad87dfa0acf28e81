"""Bulk embedding on Ray Data: the one module that knows Ray (`rag index DIR --ray [ADDRESS]`).

The chunks an index run must embed are spread over a Ray cluster's workers (Ray Data's map_batches on
a pool of actors, each holding one encoder); the vectors come back to this process, which writes the
index as always. Each worker loads the encoder from the installed package (rag's packaged MiniLM, or
RAG_MODEL_PATH, which must then exist on every node): nothing is downloaded. On one machine a local Ray
is no faster than the in-process encoder; its point is a cluster.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rag.embedding import EncodedChunks, Encoder
from rag.runtime import RuntimeOptions
from rag.text import first_line

# Chunks a worker encodes per call: enough for its network's batches, few enough to spread a run evenly.
CHUNKS_PER_TASK = 64


class RayUnavailable(RuntimeError):
    """The Ray cluster cannot be reached or failed; the index is left as it was."""


def _quiet_local_ray() -> None:
    """No usage reports (offline, behind a firewall), nothing bound beyond 127.0.0.1 for a local Ray."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


class _EncodeOnWorker:
    """A Ray Data actor: one encoder, loaded once on its worker, encoding batches of chunks."""

    def __init__(self, model_path: str, batch_size: int, runtime: dict):
        self.encoder = Encoder(Path(model_path), batch_size, RuntimeOptions.model_validate(runtime))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        spans = [[(int(start), int(end)) for start, end in np.asarray(s, dtype=np.int64).reshape(-1, 2)] for s in batch["spans"]]
        encoded = self.encoder.encode_chunks([str(t) for t in batch["text"]], spans)
        counts = np.cumsum([0, *(len(s) for s in spans)])
        sentences = np.empty(len(spans), dtype=object)  # a chunk's sentence vectors, as bytes: their number varies
        for n in range(len(spans)):
            sentences[n] = encoded.sentence_vectors[counts[n] : counts[n + 1]].tobytes()
        return {"n": batch["n"], "chunk": encoded.chunk_vectors, "sentences": sentences}


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Ray waits without end for a head node that refuses connections: a TCP connection to it is tried first."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
        pass


def _no_restarts() -> dict:
    """A worker that dies fails the run with its reason: Ray Data would restart it from arguments it keeps in
    the object store, and says so in an error line on every run (ray-project/ray#53727)."""
    return {"max_restarts": 0}


class RayChunkEncoder:
    """Encodes chunks as Encoder.encode_chunks does, on a Ray cluster (ADDRESS) or a local Ray (None)."""

    def __init__(self, encoder: Encoder, address: str | None = None, workers: int | None = None):
        self.encoder, self.address = encoder, address
        self._workers = workers
        self._started = False

    def _start(self) -> None:
        if self._started:
            return
        _quiet_local_ray()
        import ray

        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING, "ignore_reinit_error": True}
        try:
            if self.address:
                _check_reachable(self.address)
                ray.init(address=self.address, **quiet)
            else:
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **quiet)
        except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError … for an unreachable cluster
            raise RayUnavailable(f"cannot reach {where} ({first_line(exc)[:300]}); check the address (ray://HOST:10001 or HOST:6379)") from exc
        # Ray Data's own progress lines would bury the index run's bar and summary (it sets its logging up when imported).
        import ray.data

        logging.getLogger("ray.data").setLevel(logging.ERROR)
        ray.data.DataContext.get_current().enable_progress_bars = False
        self._started = True

    def workers(self) -> int:
        import ray

        return self._workers or max(1, int(ray.cluster_resources().get("CPU", 1)))

    def encode_chunks(self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], bar: tqdm | None = None) -> EncodedChunks:
        self._start()
        import ray

        dimension = self.encoder.dimension
        chunk_vectors = np.zeros((len(texts), dimension), np.float32)
        sentence_vectors: dict[int, np.ndarray] = {}
        if texts:
            # A worker has one core (num_cpus=1 below): the workers are the parallelism. Sized for the machine's
            # cores instead, two workers' networks wait on each other's threads and hang (seen on 2 cores).
            runtime = self.encoder.runtime.model_copy(update={"threads": 1, "cores": 1}).model_dump(mode="json")
            items = [
                {"n": n, "text": text, "spans": np.asarray(spans, dtype=np.int64).reshape(-1)}
                for n, (text, spans) in enumerate(zip(texts, sentence_spans, strict=True))
            ]
            try:
                with warnings.catch_warnings():  # ray_remote_args_fn is deprecated from Ray 2.60 (pyproject pins below 2.64)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    encoded = ray.data.from_items(items).map_batches(
                        _EncodeOnWorker,
                        fn_constructor_args=(str(self.encoder.model_path), self.encoder.batch_size, runtime),
                        batch_size=CHUNKS_PER_TASK,
                        compute=ray.data.ActorPoolStrategy(size=self.workers()),
                        num_cpus=1,
                        batch_format="numpy",
                        ray_remote_args_fn=_no_restarts,
                    )
                for batch in encoded.iter_batches(batch_size=CHUNKS_PER_TASK, batch_format="numpy"):
                    for n, chunk, sentences in zip(batch["n"], batch["chunk"], batch["sentences"], strict=True):
                        chunk_vectors[n] = chunk
                        sentence_vectors[int(n)] = np.frombuffer(sentences, dtype=np.float32).reshape(-1, dimension)
                    if bar is not None:
                        bar.update(len(batch["n"]))
            except (ray.exceptions.RayError, ConnectionError) as exc:
                raise RayUnavailable(f"embedding on Ray failed ({first_line(exc)[:300]}); the index is left as it was") from exc
        return EncodedChunks.assembled(chunk_vectors, sentence_vectors)
