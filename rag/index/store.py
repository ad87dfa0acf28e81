"""The index folder on disk: FAISS vectors, chunk store, BM25 index and manifest.

Layout: INDEX/CURRENT names the live generation folder INDEX/gen-*/. A save writes a complete new
generation beside the old one, then replaces CURRENT atomically (os.replace), so a crash at any
moment leaves either the old or the new index loadable (eval/crash_test.py kills real runs to check).
Nothing is unpickled: JSON, .npy without pickle, FAISS's own format and bm25s's JSON/.npy files. The
manifest holds each file's sha256, checked before the file is parsed, so a damaged file is named
(never a FAISS or numpy error, never vectors silently wrong).

A save deletes what it takes for its own old generations and leftovers (gen-*, .tmp-*), so it writes only
into a folder it knows for an index: INDEX/RAG_INDEX marks one (IndexStore.claim). Any other folder that
holds files is refused, and so is an index folder where indexing would read its files as articles
(check_apart).
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property, lru_cache
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from rag.config import INDEX_FORMAT_VERSION, Settings
from rag.index.backend import Filters, LexicalHits, Rows, lexical_terms
from rag.index.dense import DenseIndex
from rag.index.journal import PREFIX as JOURNAL_PREFIX
from rag.index.lexical import LexicalIndex
from rag.index.sentence_table import SentenceTable
from rag.schema import Article, Chunk
from rag.text import first_line

ModelT = TypeVar("ModelT", bound=BaseModel)

CURRENT = "CURRENT"
LOCK = "lock"
MARKER = "RAG_INDEX"  # written when the store first takes the folder: only a folder holding it is written into
MARKER_TEXT = "This folder is a rag index: `rag index` rewrites and deletes what is in it. Delete the whole folder to drop the index.\n"
MANIFEST = "manifest.json"
# Every generation holds these (bm25s writes several files into its folder); each is checksummed in the manifest.
DATA_FILES = ("articles.jsonl", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy", "dense.faiss")
BM25_DIR = "bm25"
# Sentence vectors are most of a big index's memory (a chunk has several sentences): float16 halves
# them; a cosine of unit vectors moves by about 1e-3 at most (11 significant bits). Its effect on
# retrieval is what `python -m eval.benchmark sentence-dtype` measures (eval/RESULTS.md, "Big JSONL").
# Indexes written with float32 ones load and work as they are.
SENTENCE_VECTOR_DTYPE = np.float16


class IndexStoreError(RuntimeError):
    """Base of the index errors: each message names the folder or file and what to do."""


class IndexMissing(IndexStoreError):
    pass


class IndexCorrupt(IndexStoreError):
    pass


class IndexUnwritable(IndexStoreError):
    """The index cannot be updated now: the disk is full, the folder is read-only, another writer holds the lock.
    `cause` says which in a line; the index already there is untouched and can still answer."""

    def __init__(self, message: str, cause: str):
        super().__init__(message)
        self.cause = cause


class IndexLocked(IndexUnwritable):
    pass


class NotAnIndexFolder(IndexStoreError):
    """The folder named as the index is not one to keep an index in (another's files, the corpus itself);
    nothing in it was touched."""


class IndexIncompatible(IndexStoreError):
    """Built by another version or with other model/chunking settings; `reason` says what differs."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


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
    # file inside the generation -> sha256; filled in by IndexStore.save, checked before any file is parsed
    checksums: dict[str, str] = {}
    # what the encoder computed in (rag/runtime.py); indexes from before it was recorded are f32
    precision: str = "f32"

    @classmethod
    def parse(cls, raw: object, where: str) -> Manifest:
        """The manifest of the index at `where` (a file, a Milvus generation): IndexIncompatible when another
        version of rag wrote it, pydantic's ValidationError when it is damaged."""
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if isinstance(version, int) and version != INDEX_FORMAT_VERSION:
            age = "an older" if version < INDEX_FORMAT_VERSION else "a newer"
            reason = f"the index was built by {age} version of rag (index format {version}, this version's is {INDEX_FORMAT_VERSION})"
            raise IndexIncompatible(
                f"index {where} was written by another version of rag (format {version}; this version reads "
                f"format {INDEX_FORMAT_VERSION}); run `rag index --rebuild`",
                reason,
            )
        return cls.model_validate(raw)

    def check_fits(self, settings: Settings | None, where: str) -> None:
        """IndexIncompatible, with the reason, unless vectors built under this manifest can serve the settings."""
        reason = self.mismatch(settings) if settings is not None else None
        if reason:
            raise IndexIncompatible(f"index {where} does not fit the current settings: {reason}; run `rag index --rebuild`", reason)

    def mismatch(self, settings: Settings) -> str | None:
        """Why vectors built under this manifest cannot serve these settings; None when they can."""
        if self.model_path != str(settings.resolved_model_path()):
            return f"embedding model changed ({self.model_path} -> {settings.resolved_model_path()})"
        if self.precision != settings.runtime_options().network_precision:
            return f"embedding precision changed ({self.precision} -> {settings.runtime_options().network_precision})"
        current = (settings.chunk_words, settings.chunk_overlap_sentences, settings.title_in_chunks)
        previous = (self.chunk_words, self.chunk_overlap_sentences, self.title_in_chunks)
        if current != previous:
            return f"chunking settings changed (words, overlap, title: {previous} -> {current})"
        return None


class IndexContents(BaseModel):
    """What an index holds, whichever store keeps it: what a build writes, and what an update reuses."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    manifest: Manifest
    articles: dict[str, Article]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray  # (chunks, dimension) float32
    sentence_vectors: np.ndarray  # every chunk's sentences, chunk after chunk (SentenceTable)

    @cached_property
    def sentences(self) -> SentenceTable:
        """The sentence vectors by chunk (the row layout computed once: the chunks never change)."""
        return SentenceTable(self.sentence_vectors, [len(c.sentences) for c in self.chunks])

    def lexical_terms(self) -> list[list[str]]:
        """What BM25 indexes, chunk by chunk: the terms of its article's title (when chunks carry it) and of the chunk."""
        return [lexical_terms(self.articles[c.article_id], c, self.manifest.title_in_chunks) for c in self.chunks]


class IndexData(IndexContents):
    """One whole index in memory, searched in this process: the embedded store's SearchIndex (rag/index/backend.py)."""

    dense: DenseIndex
    lexical: LexicalIndex

    @classmethod
    def searchable(cls, contents: IndexContents, exact_search_max_chunks: int) -> IndexData:
        """The contents with their FAISS and BM25 indexes built; the chunk vectors are then held once, by FAISS."""
        dense = DenseIndex.build(contents.chunk_vectors, exact_search_max_chunks)
        manifest = contents.manifest.model_copy(update={"dense_index": dense.kind})
        return cls(
            manifest=manifest,
            articles=contents.articles,
            chunks=contents.chunks,
            chunk_vectors=dense.vectors(),
            sentence_vectors=contents.sentence_vectors,
            dense=dense,
            lexical=LexicalIndex.build(contents.lexical_terms()),
        )

    @property
    def size(self) -> int:
        return len(self.chunks)

    @property
    def documents(self) -> int:
        return self.lexical.documents

    @cached_property
    def _masks(self) -> Callable[[Filters], np.ndarray]:
        return lru_cache(maxsize=64)(self._allowed_rows)

    def _allowed_rows(self, filters: Filters) -> np.ndarray:
        admitted = {article.id for article in self.articles.values() if filters.admits(article)}
        return np.fromiter((c.article_id in admitted for c in self.chunks), dtype=bool, count=len(self.chunks))

    def allowed(self, filters: Filters) -> np.ndarray | None:
        """The rows the filters admit, as a mask; None for no filter."""
        return None if filters.is_empty() else self._masks(filters)

    def dense_search(self, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        allowed = self.allowed(filters)
        if allowed is not None and not allowed.any():
            return []
        return self.dense.search(vector, k, allowed)

    def lexical_search(self, query_terms: Sequence[str], k: int, filters: Filters, rescore: Sequence[int] = ()) -> LexicalHits:
        scores = self.lexical.scores(query_terms, self.allowed(filters))  # every chunk's: rescoring costs nothing more
        top = top_rows(scores, k)
        return LexicalHits(top=[(row, float(scores[row])) for row in top], scores={int(row): float(scores[row]) for row in (*top, *rescore)})

    def chunks_at(self, rows: Rows) -> list[Chunk]:
        return [self.chunks[row] for row in rows]

    def chunk_vectors_at(self, rows: Rows) -> np.ndarray:
        return self.chunk_vectors[np.asarray(rows, dtype=np.int64)]

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        return self.sentences.of_chunk(row)

    def best_sentence_cosines(self, rows: Rows, vector: np.ndarray) -> np.ndarray:
        return self.sentences.best_per_chunk(np.asarray(rows, dtype=np.int64), vector)

    def document_frequency(self, term: str) -> int:
        return self.lexical.document_frequency(term)

    def idf(self, term: str) -> float:
        return self.lexical.idf(term)


def top_rows(scores: np.ndarray, depth: int) -> list[int]:
    """Rows of the `depth` highest positive scores, best first (ties by row)."""
    depth = min(depth, int((scores > 0).sum()))
    if depth == 0:
        return []
    top = np.argpartition(-scores, depth - 1)[:depth]
    return [int(r) for r in top[np.lexsort((top, -scores[top]))]]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _damaged(path: Path, exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"index file {path} is missing; run `rag index --rebuild`"
    if isinstance(exc, ValidationError):
        problem = exc.errors()[0]
        detail = f"{'.'.join(str(p) for p in problem['loc']) or 'value'}: {problem['msg']}"
    else:
        detail = first_line(exc)
    return f"index file {path} is damaged ({detail[:200]}); run `rag index --rebuild`"


def _read_jsonl(path: Path, model: type[ModelT]) -> Iterator[ModelT]:
    """One model a line, split at newline bytes only: the JSON holds U+2028, U+2029 and U+0085 raw,
    and str.splitlines() would break a line at each of them."""
    with open(path, "rb") as handle:
        for line in handle:
            yield model.model_validate_json(line)


def _mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def _generation_bytes(data: IndexData) -> int:
    """About what one generation of data takes on disk, for the disk-full message: the text as JSON, the
    vectors (the chunk vectors twice: their .npy file and the dense index), BM25's sparse matrix."""
    text = sum(len(a.model_dump_json()) for a in data.articles.values()) + sum(len(c.model_dump_json()) for c in data.chunks)
    return text + 2 * data.chunk_vectors.nbytes + data.sentence_vectors.nbytes + data.lexical.nbytes


def _unwritable_cause(folder: Path, exc: OSError, needed: int | None = None) -> str:
    """Why a write into the index folder failed, in a line: disk full (numpy says so only as "N requested and M
    written", without an errno, so the free space decides too), read-only, or the system's own words."""
    free = shutil.disk_usage(next(p for p in (folder, *folder.parents) if p.exists())).free
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or (needed is not None and free < needed):
        wanted = f", {_mb(needed)} needed" if needed is not None else ""
        return f"disk full: {_mb(free)} free{wanted} (index folder {folder})"
    if exc.errno == errno.EROFS:
        return f"index folder {folder} is read-only (a read-only file system)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"index folder {folder} is read-only (permission denied)"
    return f"cannot write the index folder {folder} ({exc.strerror or exc})"


def _write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    with open(path, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


def check_apart(index: Path, corpus: Path) -> None:
    """NotAnIndexFolder unless the index folder is apart from the corpus folder it indexes: not the corpus itself,
    not a folder holding it (a save would delete articles named like its leftovers), and not inside it where
    the loader would read the index's files as articles. Inside the corpus the loader skips hidden folders
    (the default CORPUS/.rag-index) and folders of the index folder's name (rag/index/index_keeper.py)."""
    index_at, corpus_at = Path(index).resolve(), Path(corpus).resolve()
    if index_at == corpus_at or index_at in corpus_at.parents:
        what = "is the corpus folder" if index_at == corpus_at else f"holds the corpus folder {corpus}"
        raise NotAnIndexFolder(
            f"the index folder {index} {what}: indexing would read the index's own files as articles and updating "
            f"it could delete articles; nothing was changed. Choose another folder with --index (default: CORPUS/.rag-index)"
        )
    if corpus_at in index_at.parents:
        inside = index_at.relative_to(corpus_at).parts
        if not any(part.startswith(".") or part == Path(index).name for part in inside):
            raise NotAnIndexFolder(
                f"the index folder {index} is {index_at}, inside the corpus folder {corpus} where indexing would read "
                f"the index's own files as articles; nothing was changed. Choose another folder with --index (default: CORPUS/.rag-index)"
            )


class IndexStore:
    """Reads and writes the index folder; one writer at a time (see `lock`), into a folder it claimed (see `claim`)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return (self.path / CURRENT).is_file()

    def live_generation(self) -> str:
        return self.current_generation().name

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

    def read_manifest(self, generation: Path | None = None) -> Manifest:
        path = (generation or self.current_generation()) / MANIFEST
        try:
            raw = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(_damaged(path, exc)) from exc
        try:
            return Manifest.parse(raw, str(path))
        except ValidationError as exc:
            raise IndexCorrupt(_damaged(path, exc)) from exc

    def open(self, settings: Settings) -> IndexData:
        return self.load(settings)

    def prepare(self, contents: IndexContents, settings: Settings) -> IndexData:
        return IndexData.searchable(contents, settings.exact_search_max_chunks)

    def load(self, settings: Settings | None = None) -> IndexData:
        """The live index; with settings, IndexIncompatible unless it was built with their model and chunking."""
        while True:
            generation = self.current_generation()
            try:
                return self._load_generation(generation, settings)
            except IndexCorrupt:
                # A writer may have switched CURRENT and removed this generation while it was being read.
                if self.current_generation() == generation:
                    raise

    def _load_generation(self, generation: Path, settings: Settings | None) -> IndexData:
        manifest = self.read_manifest(generation)
        manifest.check_fits(settings, str(generation / MANIFEST))
        self._verify_checksums(generation, manifest)
        current_file = generation
        try:
            current_file = generation / "articles.jsonl"
            articles = {article.id: article for article in _read_jsonl(current_file, Article)}
            current_file = generation / "chunks.jsonl"
            chunks = list(_read_jsonl(current_file, Chunk))
            current_file = generation / "chunk_vectors.npy"
            chunk_vectors = np.load(current_file, allow_pickle=False)
            current_file = generation / "sentence_vectors.npy"
            sentence_vectors = np.load(current_file, allow_pickle=False)
            current_file = generation / "dense.faiss"
            dense = DenseIndex.load(current_file)
            current_file = generation / BM25_DIR
            lexical = LexicalIndex.load(current_file)
        except (OSError, ValueError, ValidationError, RuntimeError, KeyError, EOFError) as exc:
            raise IndexCorrupt(_damaged(current_file, exc)) from exc
        sentences = sum(len(c.sentences) for c in chunks)
        problems = []
        if len(chunks) != manifest.chunks or chunk_vectors.shape != (len(chunks), manifest.dimension):
            problems.append(f"{len(chunks)} chunks but vectors of shape {chunk_vectors.shape}")
        if sentence_vectors.shape != (sentences, manifest.dimension):
            problems.append(f"{sentences} sentences but sentence vectors of shape {sentence_vectors.shape}")
        if dense.size != len(chunks):
            problems.append(f"dense index holds {dense.size} vectors for {len(chunks)} chunks")
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
            lexical=lexical,
        )

    @staticmethod
    def _verify_checksums(generation: Path, manifest: Manifest) -> None:
        """Damaged bytes are caught here, by file name, before numpy or FAISS parse them."""
        listed = set(manifest.checksums)
        if not set(DATA_FILES) <= listed or not any(name.startswith(f"{BM25_DIR}/") for name in listed):
            raise IndexCorrupt(_damaged(generation / MANIFEST, ValueError("its list of file checksums is incomplete")))
        for name, expected in sorted(manifest.checksums.items()):
            path = generation / name
            try:
                actual = _sha256(path)
            except OSError as exc:
                raise IndexCorrupt(_damaged(path, exc)) from exc
            if actual != expected:
                raise IndexCorrupt(_damaged(path, ValueError("its checksum does not match the manifest")))

    def claim(self) -> None:
        """Make sure the folder is an index's before anything in it is written or removed. A missing or empty folder
        gets the marker, and so does an index an earlier version wrote, from before the marker; any other folder is
        refused (NotAnIndexFolder) and left as it is: a save deletes what is named gen-* or .tmp-*."""
        try:
            if (self.path / MARKER).is_file():
                return
            if self.path.exists() and not self.path.is_dir():
                raise NotAnIndexFolder(f"the index folder {self.path} is a file, not a folder; nothing was changed. Choose a folder with --index")
            if self.path.is_dir() and any(self.path.iterdir()) and not self._built_before_the_marker():
                raise NotAnIndexFolder(
                    f"the index folder {self.path} holds files but is not a rag index; nothing in it was changed. Choose an empty or new folder with --index"
                )
            self.path.mkdir(parents=True, exist_ok=True)
            _write(self.path / MARKER, lambda f: f.write(MARKER_TEXT.encode()))
        except OSError as exc:
            cause = _unwritable_cause(self.path, exc)
            raise IndexUnwritable(f"{cause}; put the index elsewhere with --index PATH", cause) from exc

    def _built_before_the_marker(self) -> bool:
        """Whether the folder is an index an earlier version wrote: an embedded index (its CURRENT names a
        generation), or only the writer's lock and unfinished embedding progress (all a Milvus index keeps
        here, or what a first run that did not finish left)."""
        try:
            self.current_generation()
            return True
        except IndexStoreError:
            pass
        for entry in self.path.iterdir():
            if entry.name == LOCK and entry.is_file() and entry.stat().st_size <= 32 and re.fullmatch(rb"\d*\n?", entry.read_bytes()):
                continue  # the pid of its last writer
            if entry.is_dir() and re.fullmatch(rf"{re.escape(JOURNAL_PREFIX)}[0-9a-f]{{16}}", entry.name):
                continue
            return False
        return True

    def save(self, data: IndexContents) -> str:
        """Write a new generation and switch CURRENT to it; the old one stays valid until the switch."""
        if not isinstance(data, IndexData):
            raise TypeError("the embedded store saves what its prepare() returns: an IndexData, with its FAISS and BM25 indexes")
        self.claim()
        staging = self.path / f".tmp-{uuid.uuid4().hex}"
        try:
            staging.mkdir(parents=True)
            _write(staging / "articles.jsonl", lambda f: f.writelines(a.model_dump_json().encode() + b"\n" for a in data.articles.values()))
            _write(staging / "chunks.jsonl", lambda f: f.writelines(c.model_dump_json().encode() + b"\n" for c in data.chunks))
            _write(staging / "chunk_vectors.npy", lambda f: np.save(f, data.chunk_vectors, allow_pickle=False))
            _write(staging / "sentence_vectors.npy", lambda f: np.save(f, data.sentence_vectors, allow_pickle=False))
            _write(staging / "dense.faiss", data.dense.write)
            bm25_files = data.lexical.save(staging / BM25_DIR)
            for written in bm25_files:
                with open(written, "rb") as handle:
                    os.fsync(handle.fileno())
            _fsync_dir(staging / BM25_DIR)
            names = [*DATA_FILES, *(f"{BM25_DIR}/{path.name}" for path in bm25_files)]
            manifest = data.manifest.model_copy(update={"checksums": {name: _sha256(staging / name) for name in names}})
            _write(staging / MANIFEST, lambda f: f.write(manifest.model_dump_json(indent=2).encode()))
            _fsync_dir(staging)
            generation = self.path / f"gen-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"
            os.rename(staging, generation)
            pointer_tmp = self.path / f".{CURRENT}.{uuid.uuid4().hex}"
            _write(pointer_tmp, lambda f: f.write(generation.name.encode()))
            os.replace(pointer_tmp, self.path / CURRENT)
            _fsync_dir(self.path)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):  # disk full, read-only folder: the old generation is untouched
                cause = _unwritable_cause(self.path, exc, _generation_bytes(data))
                raise IndexUnwritable(f"{cause}; the previous index is kept", cause) from exc
            raise
        self.remove_stale(keep=generation)
        return generation.name

    def remove_stale(self, keep: Path | None = None) -> None:
        """Delete old generations and leftovers of interrupted saves (call with the lock held)."""
        if not self.path.is_dir():
            return
        self.claim()
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
        self.claim()
        try:
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            cause = _unwritable_cause(self.path, exc)
            raise IndexUnwritable(f"{cause}; put the index elsewhere with --index PATH", cause) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                cause = f"another `rag index` (pid {owner}) is updating {self.path}"
                raise IndexLocked(f"{cause}; wait for it to finish and try again", cause) from exc
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)
