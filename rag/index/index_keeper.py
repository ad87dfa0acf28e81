"""An index's lifecycle: the corpus folder (or the library) indexed, kept current, loaded and reloaded.

The pipeline asks questions of whatever generation this hands it; indexing, removing a file and
hot reload after another process saved a newer generation happen here only.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path

from pydantic import BaseModel

from rag.config import SENTENCE_READER_THRESHOLD, BackendName, Settings, packaged_model_path
from rag.embedding import Encoder
from rag.index.backend import IndexBackend, SearchIndex
from rag.index.indexing import ChunkEncoder, IndexBuilder, IndexReport
from rag.index.ingest import ArticleLoader, CorpusLoad
from rag.index.library import Library
from rag.index.removal import RemovalError, remove_file, restore_file
from rag.index.store import IndexStore, IndexStoreError, IndexUnwritable, check_apart
from rag.query.answer_type import AnswerTypeCheck
from rag.query.question_scope import QuestionScoper
from rag.query.reader import Reader, SentenceReader
from rag.query.reader_model import SHIPPED_READER
from rag.query.retrieve import Retriever
from rag.query.span_reader import (
    QuestionCoverage,
    SentenceSimilarity,
    SpanReader,
    read_calibration,
)
from rag.schema import Article

LOCAL_RAY = "local"  # `rag index --ray` without an address: a Ray started on this machine

log = logging.getLogger(__name__)


class IndexProgress(BaseModel):
    """How far an index run has got: chunks embedded of those it must embed (0 of 0 while reading)."""

    embedded: int = 0
    total: int = 0
    seconds: float = 0.0  # since embedding began

    def label(self) -> str:
        if not self.total:
            return "updating the index: reading the articles…"
        done = f"updating the index: {self.embedded} of {self.total} chunks embedded ({100 * self.embedded // self.total}%)"
        if not self.embedded or self.seconds <= 0:
            return done + "…"
        rate = self.embedded / self.seconds
        return f"{done}, {rate:.0f} chunks/s, about {_duration((self.total - self.embedded) / rate)} left…"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{int(seconds // 3600)} h {round(seconds % 3600 / 60)} min"


class Removal(BaseModel):
    """A file taken out of the library: its articles' titles, where the file is kept, the index update."""

    path: str
    titles: list[str]
    kept: str
    report: IndexReport

    restored: bool = False  # True: the file was moved back and its articles indexed again

    def summary(self) -> str:
        what = f"“{self.titles[0]}”" if len(self.titles) == 1 else f"its {len(self.titles)} articles"
        if self.restored:
            return f"restored {self.path} ({what}) to the index"
        return f"removed {self.path} ({what}) from the index; the file is kept in {self.kept} and can be restored"


class IndexStatus(BaseModel):
    corpus: str
    index: str
    articles: int
    chunks: int
    model: str
    precision: str  # what the vectors were computed in (rag/runtime.py)
    dense_index: str
    backend: BackendName = "embedded"  # where the index lives (rag/index/backend.py)
    build_seconds: float = 0.0  # how long its last build took


class LoadedIndex:
    """One index generation with the retriever and reader built on it; swapped whole on reload."""

    def __init__(self, generation: str, data: SearchIndex, retriever: Retriever, reader: Reader):
        self.generation, self.data, self.retriever, self.reader = generation, data, retriever, reader
        self.scoper = QuestionScoper(data.articles.values())


class IndexKeeper:
    """The index of one corpus folder (the library when none is named): built, updated, loaded once and
    reloaded when a newer generation is saved. Models load on first use."""

    def __init__(self, settings: Settings, encoder: Encoder | None = None):
        self.settings = settings
        # No folder named: the library, outside the checkout (the shipped articles and the uploads).
        self.library: Library | None = None
        if settings.corpus is None:
            self.library = Library(settings.data_dir)
            self.corpus = self.library.folder
        else:
            self.corpus = Path(settings.corpus)
        self.store = index_backend(settings, self.corpus)
        check_apart(self.store.path, self.corpus)  # before anything is read or written: NotAnIndexFolder
        # An encoder may be shared between pipelines (tests, benchmarks): the model loads once.
        self.encoder = encoder or Encoder.from_settings(settings)
        self.loader = ArticleLoader(settings.max_file_bytes, skip_dir_names=(self.store.path.name,))
        self._loaded: LoadedIndex | None = None
        self._load_lock = threading.Lock()
        self.indexing: IndexProgress | None = None  # an index run in progress in this process

    def index(self, rebuild: bool = False, progress: bool = False, ray: str | None = None) -> IndexReport:
        """Bring the index up to date with the corpus folder (incremental unless rebuild); with ray (a cluster's
        address, or LOCAL_RAY) the chunks are embedded on Ray (rag/index/ray_embedding.py)."""
        self._refresh_library()
        return self._index_folder(rebuild, progress, ray)

    def _index_folder(self, rebuild: bool, progress: bool, ray: str | None = None) -> IndexReport:
        return self.index_articles(self.loader.load_folder(self.corpus), rebuild=rebuild, progress=progress, ray=ray)

    def index_articles(self, load: CorpusLoad, rebuild: bool = False, progress: bool = False, ray: str | None = None) -> IndexReport:
        """Index articles that did not come from the corpus folder (benchmarks build them in memory).
        Meanwhile `indexing` says how far it got (the page shows it)."""
        self.indexing = IndexProgress()
        began = time.monotonic()

        def track(embedded: int, total: int) -> None:
            nonlocal began
            if not embedded:  # reading the articles is over: the rate counts from here
                began = time.monotonic()
            self.indexing = IndexProgress(embedded=embedded, total=total, seconds=time.monotonic() - began)

        try:
            report = IndexBuilder(self.settings, self.encoder, self._chunk_encoder(ray)).update(load, self.store, str(self.corpus), rebuild, progress, track)
        finally:
            self.indexing = None
        if self._loaded is not None:
            self.loaded()  # a serving pipeline switches to the new index now; `rag index` need not load it at all
        return report

    def _chunk_encoder(self, ray: str | None) -> ChunkEncoder:
        if ray is None:
            return self.encoder
        from rag.index.ray_embedding import RayChunkEncoder  # Ray loads only when asked for

        return RayChunkEncoder(self.encoder, None if ray == LOCAL_RAY else ray)

    def remove(self, relative: str) -> Removal:
        """Take a file's articles out of the index: the file moves into CORPUS/.removed/ (kept, not
        deleted), then the index is updated; RemovalError when it is no indexed file."""
        articles = [a for a in self.articles() if a.path == relative]
        if not articles:
            raise RemovalError(f"no indexed article comes from the file '{relative}'")
        emptied = len(articles) == len(self.loaded().data.articles)
        kept = remove_file(self.corpus, relative)
        try:
            # An update that finds no article keeps the old index (a folder gone missing must not empty it);
            # after removing the last file, empty is what was asked for.
            report = self.index(rebuild=emptied)
        except IndexStoreError as exc:  # a full disk, another writer: the file goes back, so the library and index agree
            restore_file(self.corpus, relative)
            raise RemovalError(f"{relative} was not removed: the index could not be updated ({exc}); the file is where it was") from exc
        return Removal(path=relative, titles=[a.title for a in articles], kept=str(kept), report=report)

    def restore(self, relative: str) -> Removal:
        """Undo a removal: the file moves back from CORPUS/.removed/ and the index is updated; RemovalError
        when no such file is kept (or one of its name is in the corpus again)."""
        restore_file(self.corpus, relative)
        report = self.index()
        titles = [a.title for a in self.articles() if a.path == relative]
        return Removal(path=relative, titles=titles, kept=relative, report=report, restored=True)

    def _refresh_library(self) -> None:
        if self.library is not None:
            self.library.refresh()

    def is_current(self) -> bool:
        """Whether an index exists and was built from exactly the files now in the corpus folder."""
        if not self.store.exists():
            return False
        try:
            manifest = self.store.read_manifest()  # IndexIncompatible when another version wrote it
        except IndexStoreError:
            return False
        if manifest.mismatch(self.settings):
            return False  # built with another model or chunking: index() rebuilds it
        return self.loader.fingerprints(self.corpus) == manifest.files

    def ensure_index(self, progress: bool = False) -> IndexReport | None:
        """Index the corpus when there is no index or its files changed; None when it was current.

        When the index cannot be updated now (another process is indexing, the disk is full, the folder is
        read-only), the current index answers meanwhile: the report says why it was left as it was.
        """
        self._refresh_library()
        if self.is_current():
            return None
        try:
            return self._index_folder(rebuild=False, progress=progress)  # the library was refreshed just above
        except IndexUnwritable as exc:
            if not self.store.exists():
                raise
            return IndexReport.kept(self.store.read_manifest(), self.store.location, f"{exc.cause}; answering from it until it can be updated")

    def loaded(self) -> LoadedIndex:
        """The current index with its retriever and reader, reloaded when a newer generation was saved."""
        generation = self.store.live_generation()
        loaded = self._loaded
        if loaded is not None and loaded.generation == generation:
            return loaded
        with self._load_lock:
            if self._loaded is None or self._loaded.generation != generation:
                # a server's log says when another process's update reached it
                log.log(logging.DEBUG if self._loaded is None else logging.INFO, "serving generation %s of the index at %s", generation, self.store.location)
                data = self.store.open(self.settings)
                self._loaded = LoadedIndex(generation, data, Retriever(data, self.encoder, self.settings), make_reader(self.settings, data, self.encoder))
            return self._loaded

    def load_models(self) -> None:
        """The encoder's and the reader's networks loaded (converted first, the first time) before any
        question, so that the first question waits for nothing but its answer."""
        loaded = self.loaded()
        self.encoder.encode_query("a question that loads the encoder")
        loaded.reader.load()

    def status(self) -> IndexStatus:
        loaded = self.loaded()
        manifest = loaded.data.manifest
        return IndexStatus(
            corpus=str(self.corpus),
            index=self.store.location,
            articles=manifest.articles,
            chunks=manifest.chunks,
            model=manifest.model,
            precision=manifest.precision,
            dense_index=manifest.dense_index,
            backend=self.settings.backend,
            build_seconds=manifest.build_seconds,
        )

    def articles(self) -> list[Article]:
        """The indexed articles, newest first (undated last): the library as the page lists it."""
        return sorted(
            self.loaded().data.articles.values(),
            key=lambda a: (a.published is not None, a.published or dt.date.min, a.published_time or dt.time(), a.title),
            reverse=True,
        )


def index_backend(settings: Settings, corpus: Path) -> IndexBackend:
    """Where the corpus's index lives: its folder (the embedded store), or Milvus when the settings say so."""
    folder = settings.index_dir_for(corpus)
    if settings.backend == "milvus":
        from rag.index.milvus_store import MilvusStore, collection_name_for  # pymilvus loads only for Milvus

        assert settings.milvus_uri is not None  # Settings refuse the Milvus backend without a URI
        return MilvusStore(settings.milvus_uri, settings.milvus_collection or collection_name_for(corpus), folder, settings.milvus_token)
    return IndexStore(folder)


def make_reader(settings: Settings, data: SearchIndex, encoder: Encoder) -> Reader:
    """The reader the settings name, over one loaded index."""
    if settings.reader == "sentence":
        return SentenceReader(data, encoder, reader_threshold(settings), settings.reader_weights)
    # The shipped reader takes its frozen word embeddings from the packaged MiniLM, whatever encoder is set.
    model = settings.reader_model_path or SHIPPED_READER
    answer_types = None
    if read_calibration(model).needs_answer_types:
        answer_types = AnswerTypeCheck()
        answer_types.load_in_background()  # spaCy's ~1 s cold load overlaps the networks' while the index opens
    return SpanReader(
        model,
        packaged_model_path(),
        settings.abstain_threshold,
        similarity=SentenceSimilarity(data, encoder),
        coverage=QuestionCoverage(data),
        answer_types=answer_types,
        read_passages=settings.read_passages,
        runtime=settings.runtime_options(),
    )


def reader_threshold(settings: Settings) -> float:
    """The confidence below which the configured reader says "not found": the setting, else the reader's own."""
    if settings.abstain_threshold is not None:
        return settings.abstain_threshold
    if settings.reader == "sentence":
        return SENTENCE_READER_THRESHOLD
    return read_calibration(settings.reader_model_path or SHIPPED_READER).threshold
