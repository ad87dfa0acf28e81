"""Progress of an index run that did not finish: the vectors it had embedded, kept so the next run reuses them.

Embedding is nearly all of an index run's time (a 100k-article archive takes minutes to hours), so
a run that is killed, runs out of memory or loses power must not start over. The builder embeds
articles in batches and appends each batch here; the next run, for an article whose text and
embedding settings are unchanged, takes its vectors from here instead of embedding it again.

Each batch is one .npz written under a temporary name and renamed when complete, so a kill leaves
whole batches only; a file that does not read back is ignored (those articles are embedded again).
The folder's name holds a digest of everything the vectors depend on, so vectors of another model
or chunking are never reused. It lives in the index folder and is removed when an index is saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PREFIX = ".partial-"


@dataclass(frozen=True)
class SavedVectors:
    """One article's vectors from an unfinished run: its chunks', and its sentences' chunk by chunk."""

    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


class EmbeddingJournal:
    """Batches of embedded articles, keyed by the hash of their embedded text."""

    def __init__(self, index_folder: Path, depends_on: dict):
        digest = hashlib.sha256(json.dumps(depends_on, sort_keys=True).encode()).hexdigest()[:16]
        self.index_folder = Path(index_folder)
        self.folder = self.index_folder / f"{PREFIX}{digest}"
        self.writable = True

    def saved(self) -> dict[str, SavedVectors]:
        """Vectors of every article a previous unfinished run embedded with the same settings."""
        found: dict[str, SavedVectors] = {}
        for batch in _readable_batches(self.folder.glob("batch-*.npz")):
            chunks, sentences = batch["chunk_counts"], batch["sentence_counts"]
            chunk_ends, sentence_ends = np.cumsum(chunks), np.cumsum(sentences)
            for n, text_hash in enumerate(batch["hashes"].tolist()):
                found[text_hash] = SavedVectors(
                    batch["chunk_vectors"][chunk_ends[n] - chunks[n] : chunk_ends[n]],
                    batch["sentence_vectors"][sentence_ends[n] - sentences[n] : sentence_ends[n]],
                )
        return found

    def append(self, hashes: list[str], chunk_vectors: list[np.ndarray], sentence_vectors: list[np.ndarray]) -> None:
        """Record one batch of articles (their vectors in the same order). A failure to write (disk full,
        read-only folder) only means the progress is not kept: the run itself goes on."""
        if not self.writable or not hashes:
            return
        final = self.folder / f"batch-{uuid.uuid4().hex}.npz"
        temporary = self.folder / f".tmp-{uuid.uuid4().hex}.npz"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                np.savez(
                    handle,
                    hashes=np.array(hashes),
                    chunk_counts=np.array([len(v) for v in chunk_vectors], dtype=np.int64),
                    sentence_counts=np.array([len(v) for v in sentence_vectors], dtype=np.int64),
                    chunk_vectors=np.concatenate(chunk_vectors),
                    sentence_vectors=np.concatenate(sentence_vectors),
                )
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except OSError:
            temporary.unlink(missing_ok=True)
            self.writable = False

    def clear(self) -> None:
        """Remove this journal and those of other settings (their vectors can never be reused)."""
        for entry in self.index_folder.glob(f"{PREFIX}*"):
            shutil.rmtree(entry, ignore_errors=True)


def saved_chunks(index_folder: Path) -> int:
    """Chunks that unfinished runs have saved in an index folder so far, whatever their settings."""
    return sum(int(batch["chunk_counts"].sum()) for batch in _readable_batches(Path(index_folder).glob(f"{PREFIX}*/batch-*.npz")))


def _readable_batches(paths: Iterable[Path]) -> Iterator[dict[str, np.ndarray]]:
    """The arrays of each batch file that reads back whole and consistent; a damaged one is passed over
    (its articles are embedded again)."""
    for path in sorted(paths):
        try:
            with np.load(path, allow_pickle=False) as stored:
                batch = {name: stored[name] for name in ("hashes", "chunk_counts", "sentence_counts", "chunk_vectors", "sentence_vectors")}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            continue
        if (len(batch["chunk_vectors"]), len(batch["sentence_vectors"])) == (batch["chunk_counts"].sum(), batch["sentence_counts"].sum()):
            yield batch
