"""The index folder on disk: FAISS vectors, chunk store, BM25 index and manifest.

Layout: INDEX/CURRENT names the live generation folder INDEX/gen-*/. A save writes a complete new
generation beside the old one, then replaces CURRENT atomically (os.replace), so a crash at any
moment leaves either the old or the new index loadable. Nothing is unpickled: JSON, .npy without
pickle, FAISS's own format and bm25s's JSON/.npy files.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from rag.config import INDEX_FORMAT_VERSION
from rag.schema import Article, Chunk

CURRENT = "CURRENT"
LOCK = "lock"
_HNSW_NEIGHBOURS = 32
_HNSW_EF_SEARCH = 128


class IndexStoreError(RuntimeError):
    """Base of the index errors: each message names the folder or file and what to do."""


class IndexMissing(IndexStoreError):
    pass


class IndexCorrupt(IndexStoreError):
    pass


class IndexLocked(IndexStoreError):
    pass


class Manifest(BaseModel):
    format_version: int
    model: str
    model_path: str
    dimension: int
    chunk_words: int
    chunk_overlap_sentences: int
    title_in_chunks: bool
    dense_index: str
    corpus: str
    files: dict[str, str]  # relative path -> sha256 of its bytes
    article_hashes: dict[str, str]  # article id -> hash of what was embedded (title + text)
    articles: int
    chunks: int
    built_at: dt.datetime
    build_seconds: float


class IndexData(BaseModel):
    """One whole index in memory."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25

    @property
    def sentence_offsets(self) -> np.ndarray:
        """Row in sentence_vectors where each chunk's sentences begin."""
        counts = np.fromiter((len(c.sentences) for c in self.chunks), dtype=np.int64, count=len(self.chunks))
        return np.concatenate([[0], np.cumsum(counts)])


def build_dense_index(vectors: np.ndarray, exact_max: int):
    """Exact inner product up to exact_max vectors; HNSW above, where exact search gets slow."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) <= exact_max:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, _HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = _HNSW_EF_SEARCH
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def build_bm25(token_lists: list[list[str]]):
    import bm25s

    bm25 = bm25s.BM25()
    # bm25s cannot index an empty corpus or an all-empty one; a placeholder token keeps shapes aligned.
    bm25.index([tokens or ["\u0000"] for tokens in token_lists] or [["\u0000"]], show_progress=False)
    return bm25


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, write) -> None:
    with open(path, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


class IndexStore:
    """Reads and writes the index folder; one writer at a time (see `lock`)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def exists(self) -> bool:
        return (self.path / CURRENT).is_file()

    def current_generation(self) -> Path:
        pointer = self.path / CURRENT
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError as exc:
            raise IndexMissing(f"no index at {self.path}: run `rag index` first") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"index pointer {pointer} is unreadable ({exc}); run `rag index --rebuild`") from exc
        generation = self.path / name
        if not name.startswith("gen-") or "/" in name or not generation.is_dir():
            raise IndexCorrupt(f"index pointer {pointer} names no index folder ({name!r}); run `rag index --rebuild`")
        return generation

    def read_manifest(self) -> Manifest:
        manifest_path = self.current_generation() / "manifest.json"
        try:
            return Manifest.model_validate_json(manifest_path.read_bytes())
        except (OSError, ValidationError, ValueError) as exc:
            raise IndexCorrupt(self._damaged(manifest_path, exc)) from exc

    def load(self) -> IndexData:
        import bm25s
        import faiss

        generation = self.current_generation()
        manifest = self.read_manifest()
        if manifest.format_version != INDEX_FORMAT_VERSION:
            raise IndexCorrupt(
                f"index at {self.path} has format {manifest.format_version}, this version reads "
                f"{INDEX_FORMAT_VERSION}; run `rag index --rebuild`"
            )
        current_file = generation
        try:
            current_file = generation / "articles.jsonl"
            articles = {}
            for line in current_file.read_text(encoding="utf-8").splitlines():
                article = Article.model_validate_json(line)
                articles[article.id] = article
            current_file = generation / "chunks.jsonl"
            chunks = [Chunk.model_validate_json(line) for line in current_file.read_text(encoding="utf-8").splitlines()]
            current_file = generation / "chunk_vectors.npy"
            chunk_vectors = np.load(current_file, allow_pickle=False)
            current_file = generation / "sentence_vectors.npy"
            sentence_vectors = np.load(current_file, allow_pickle=False)
            current_file = generation / "dense.faiss"
            dense = faiss.read_index(str(current_file))
            current_file = generation / "bm25"
            bm25 = bm25s.BM25.load(str(current_file), load_corpus=False, mmap=False, allow_pickle=False)
        except (OSError, ValueError, ValidationError, RuntimeError, KeyError, EOFError) as exc:
            raise IndexCorrupt(self._damaged(current_file, exc)) from exc
        sentences = sum(len(c.sentences) for c in chunks)
        problems = []
        if len(chunks) != manifest.chunks or chunk_vectors.shape != (len(chunks), manifest.dimension):
            problems.append(f"{len(chunks)} chunks but vectors of shape {chunk_vectors.shape}")
        if sentence_vectors.shape != (sentences, manifest.dimension):
            problems.append(f"{sentences} sentences but sentence vectors of shape {sentence_vectors.shape}")
        if dense.ntotal != len(chunks):
            problems.append(f"dense index holds {dense.ntotal} vectors for {len(chunks)} chunks")
        if any(c.article_id not in articles for c in chunks):
            problems.append("chunks refer to articles that are not in articles.jsonl")
        if problems:
            raise IndexCorrupt(f"index at {generation} is inconsistent ({'; '.join(problems)}); run `rag index --rebuild`")
        return IndexData(
            manifest=manifest,
            articles=articles,
            chunks=chunks,
            chunk_vectors=chunk_vectors,
            sentence_vectors=sentence_vectors,
            dense=dense,
            bm25=bm25,
        )

    @staticmethod
    def _damaged(path: Path, exc: Exception) -> str:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"index file {path} is missing or damaged ({detail[:200]}); run `rag index --rebuild`"

    def save(self, data: IndexData) -> Path:
        """Write a new generation and switch CURRENT to it; the old one stays valid until the switch."""
        import faiss

        self.path.mkdir(parents=True, exist_ok=True)
        staging = self.path / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            _write(staging / "manifest.json", lambda f: f.write(data.manifest.model_dump_json(indent=2).encode()))
            _write(
                staging / "articles.jsonl",
                lambda f: f.writelines(a.model_dump_json().encode() + b"\n" for a in data.articles.values()),
            )
            _write(staging / "chunks.jsonl", lambda f: f.writelines(c.model_dump_json().encode() + b"\n" for c in data.chunks))
            _write(staging / "chunk_vectors.npy", lambda f: np.save(f, data.chunk_vectors, allow_pickle=False))
            _write(staging / "sentence_vectors.npy", lambda f: np.save(f, data.sentence_vectors, allow_pickle=False))
            faiss.write_index(data.dense, str(staging / "dense.faiss"))
            data.bm25.save(str(staging / "bm25"))
            for written in [staging / "dense.faiss", *(staging / "bm25").iterdir()]:
                with open(written, "rb") as handle:
                    os.fsync(handle.fileno())
            _fsync_dir(staging / "bm25")
            _fsync_dir(staging)
            generation = self.path / f"gen-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
            os.rename(staging, generation)
            pointer_tmp = self.path / f".{CURRENT}.{uuid.uuid4().hex}"
            _write(pointer_tmp, lambda f: f.write(generation.name.encode()))
            os.replace(pointer_tmp, self.path / CURRENT)
            _fsync_dir(self.path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self.remove_stale(keep=generation)
        return generation

    def remove_stale(self, keep: Path | None = None) -> None:
        """Delete old generations and leftovers of interrupted saves (call with the lock held)."""
        if not self.path.is_dir():
            return
        try:
            live = keep or self.current_generation()
        except IndexStoreError:
            live = None
        for entry in self.path.iterdir():
            stale_generation = entry.name.startswith("gen-") and entry != live
            leftover = entry.name.startswith((".tmp-", f".{CURRENT}."))
            if stale_generation or leftover:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive writer lock. The kernel drops it when its process dies, so a stale lock file is harmless."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path / LOCK
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise IndexLocked(
                    f"another `rag index` (pid {owner}) is updating {self.path}; wait for it to finish and try again"
                ) from exc
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)
