"""Incremental index build: loaded articles in, a saved index out; only new or changed text is embedded."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel
from tqdm.auto import tqdm

from rag.config import INDEX_FORMAT_VERSION, Settings
from rag.embedding import EncodedChunks, Encoder
from rag.index.backend import IndexBackend
from rag.index.chunking import Chunker
from rag.index.ingest import CorpusLoad, SkippedFile
from rag.index.journal import EmbeddingJournal, SavedVectors
from rag.index.store import SENTENCE_VECTOR_DTYPE, IndexContents, IndexCorrupt, IndexIncompatible, IndexStoreError, Manifest
from rag.schema import Article, Chunk

log = logging.getLogger(__name__)


def _batches(articles: list[int], chunk_row: list[int], size: int) -> Iterator[list[int]]:
    """Articles in order, grouped into batches of about `size` chunks (an article is never split)."""
    batch, chunks = [], 0
    for n in articles:
        batch.append(n)
        chunks += chunk_row[n + 1] - chunk_row[n]
        if chunks >= size:
            yield batch
            batch, chunks = [], 0
    if batch:
        yield batch


class IndexReport(BaseModel):
    corpus: str
    index: str
    articles: int
    chunks: int
    embedded_chunks: int
    reused_chunks: int
    resumed_chunks: int = 0  # of the reused: embedded by an earlier run that did not finish
    added: list[str] = []
    changed: list[str] = []
    removed: list[str] = []
    skipped: list[SkippedFile] = []
    notes: list[SkippedFile] = []
    rebuild_reason: str | None = None
    kept_because: str | None = None  # why the old index was kept although the folder differs
    saved: bool
    seconds: float

    @classmethod
    def kept(cls, manifest: Manifest, index: str, because: str) -> IndexReport:
        """The report of an index that could not be updated: what it still holds, and why it was left as it was."""
        return cls(
            corpus=manifest.corpus,
            index=index,
            articles=manifest.articles,
            chunks=manifest.chunks,
            embedded_chunks=0,
            reused_chunks=manifest.chunks,
            kept_because=because,
            saved=False,
            seconds=0.0,
        )

    def summary_lines(self) -> list[str]:
        lines = []
        if self.rebuild_reason:
            lines.append(f"rebuilding the whole index: {self.rebuild_reason}")
        if self.saved:
            lines.append(
                f"indexed {self.articles} article{'s' if self.articles != 1 else ''}, {self.chunks} chunks in {self.index} "
                f"({self.embedded_chunks} chunks embedded, {self.reused_chunks} reused; "
                f"{len(self.added)} files added, {len(self.changed)} changed, {len(self.removed)} removed) "
                f"in {self.seconds:.1f}s"
            )
            if self.resumed_chunks:
                lines.append(f"resumed: {self.resumed_chunks} chunks were embedded by an earlier run that did not finish")
        elif self.kept_because:
            lines.append(f"index left as it was: {self.kept_because}")
        else:
            lines.append(f"index is up to date: {self.articles} articles, {self.chunks} chunks; nothing changed, nothing embedded")
        for note in self.notes:
            lines.append(f"note: {note}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines.extend(f"  {item}" for item in self.skipped)
        return lines


def embedded_text(article: Article, chunk: Chunk, title_in_chunks: bool) -> str:
    """What the encoder reads for a chunk: its article's title on a line of its own, then the chunk."""
    return (article.headline + "\n" if title_in_chunks and article.headline else "") + chunk.text


def embedded_text_hash(article: Article, title_in_chunks: bool) -> str:
    """What the vectors depend on: a change here means the article is embedded again."""
    key = (article.headline if title_in_chunks else "") + "\x00" + article.text
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ChunkEncoder(Protocol):
    """What embeds the chunks of an index run: the Encoder itself, or the same on Ray (rag/index/ray_embedding.py)."""

    def encode_chunks(self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], bar: tqdm | None = None) -> EncodedChunks: ...


class IndexBuilder:
    """Chunks, embeds and stores a corpus, reusing the vectors of articles whose text is unchanged."""

    def __init__(self, settings: Settings, encoder: Encoder, chunk_encoder: ChunkEncoder | None = None):
        self.settings = settings
        self.encoder = encoder
        self.chunk_encoder = chunk_encoder or encoder
        self.chunker = Chunker(settings.chunk_words, settings.chunk_overlap_sentences)

    @staticmethod
    def _previous_files(store: IndexBackend) -> dict[str, str]:
        """Files of the index being replaced, so a rebuild still reports what changed since it."""
        try:
            return store.read_manifest().files if store.exists() else {}
        except IndexStoreError:
            return {}

    def update(
        self,
        load: CorpusLoad,
        store: IndexBackend,
        corpus_label: str,
        rebuild: bool = False,
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IndexReport:
        """Bring the store up to date with the load; on_progress(chunks embedded, chunks to embed) after each batch."""
        started = time.perf_counter()
        with store.lock():
            old, reason = None, "--rebuild asked for" if rebuild else None
            if not rebuild and store.exists():
                try:
                    old = store.load(self.settings)
                except IndexIncompatible as exc:
                    reason = exc.reason
                except IndexCorrupt as exc:
                    reason = f"the previous index is unusable: {exc}"
            old_files = old.manifest.files if old else self._previous_files(store)
            new_files = load.file_hashes
            report = dict(
                corpus=corpus_label,
                index=store.location,
                added=sorted(set(new_files) - set(old_files)),
                removed=sorted(set(old_files) - set(new_files)),
                changed=sorted(p for p in set(new_files) & set(old_files) if new_files[p] != old_files[p]),
                skipped=load.skipped,
                notes=load.notes,
                rebuild_reason=reason,
            )
            unchanged = old is not None and old.manifest.files == new_files and set(old.articles) == {a.id for a in load.articles}
            # A folder with nothing readable (an unmounted drive, a wrong path) must not wipe a working index.
            emptied = old is not None and bool(old.articles) and not load.articles
            if old is not None and (unchanged or emptied):
                store.remove_stale()
                kept = (
                    f"no article could be read from {corpus_label} ({len(load.skipped)} skipped); the index keeps its "
                    f"{len(old.articles)} articles (to empty it, run `rag index --rebuild`)"
                    if emptied
                    else None
                )
                return IndexReport(
                    articles=len(old.articles),
                    chunks=len(old.chunks),
                    embedded_chunks=0,
                    reused_chunks=len(old.chunks),
                    kept_because=kept,
                    saved=False,
                    seconds=time.perf_counter() - started,
                    **report,
                )
            journal = self._journal(store)
            if rebuild:
                journal.clear()  # a rebuild embeds everything again
            contents, embedded, resumed = self._assemble(load.articles, old, new_files, corpus_label, store, journal, progress, started, on_progress)
            data = store.prepare(contents, self.settings)
            del contents  # the embedded store's FAISS index holds the chunk vectors now: held once, not twice
            generation = store.save(data)
            log.debug(
                "saved generation %s at %s: %d articles, %d chunks, %d embedded now", generation, store.location, len(data.articles), len(data.chunks), embedded
            )
            journal.clear()
            return IndexReport(
                articles=len(data.articles),
                chunks=len(data.chunks),
                embedded_chunks=embedded,
                reused_chunks=len(data.chunks) - embedded,
                resumed_chunks=resumed,
                saved=True,
                seconds=data.manifest.build_seconds,
                **report,
            )

    def _journal(self, store: IndexBackend) -> EmbeddingJournal:
        s = self.settings
        depends_on = {
            "format": INDEX_FORMAT_VERSION,
            "model": str(s.resolved_model_path()),
            "chunk_words": s.chunk_words,
            "overlap": s.chunk_overlap_sentences,
            "title_in_chunks": s.title_in_chunks,
            "precision": self.encoder.runtime.network_precision,
        }
        return EmbeddingJournal(store.path, depends_on)

    def _assemble(  # noqa: C901 (one pass over the articles, each kept, re-embedded or journalled; to split next)
        self,
        articles: list[Article],
        old: IndexContents | None,
        files: dict[str, str],
        corpus_label: str,
        store: IndexBackend,
        journal: EmbeddingJournal,
        progress: bool,
        started: float,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[IndexContents, int, int]:
        """The new index; how many chunks were embedded now, and how many came from an unfinished run."""
        title_in = self.settings.title_in_chunks
        hashes = {a.id: embedded_text_hash(a, title_in) for a in articles}
        old_rows: dict[str, list[int]] = {}
        if old is not None:
            for row, chunk in enumerate(old.chunks):
                old_rows.setdefault(chunk.article_id, []).append(row)
        saved = journal.saved()

        # Per article: its chunks and where its vectors come from (the old index, an unfinished run, or the encoder).
        all_chunks: list[Chunk] = []
        chunk_row: list[int] = []  # the article's first row in the chunk matrix
        sentence_row: list[int] = []  # and in the sentence matrix
        sources: list[list[int] | SavedVectors | None] = []  # rows of the old index, an unfinished run's vectors, or none yet
        sentences = resumed = 0
        for article in articles:
            source: list[int] | SavedVectors | None
            if old is not None and old.manifest.article_hashes.get(article.id) == hashes[article.id] and article.id in old_rows:
                source = old_rows[article.id]
                chunks = [old.chunks[r] for r in source]
            else:
                chunks = self.chunker.split(article)
                source = saved.get(hashes[article.id])
            sentence_count = sum(len(c.sentences) for c in chunks)
            if isinstance(source, SavedVectors):
                if (len(source.chunk_vectors), len(source.sentence_vectors)) == (len(chunks), sentence_count):
                    resumed += len(chunks)
                else:
                    source = None
            chunk_row.append(len(all_chunks))
            sentence_row.append(sentences)
            sources.append(source)
            all_chunks.extend(chunks)
            sentences += sentence_count
        chunk_row.append(len(all_chunks))
        sentence_row.append(sentences)

        # The matrices are filled in place: no second copy of every vector at the end of a big run.
        dim = self.encoder.dimension
        chunk_matrix = np.empty((len(all_chunks), dim), np.float32)
        sentence_matrix = np.empty((sentences, dim), SENTENCE_VECTOR_DTYPE)
        to_embed: list[int] = []
        for n, source in enumerate(sources):
            if source is None:
                to_embed.append(n)
            elif isinstance(source, SavedVectors):
                chunk_matrix[chunk_row[n] : chunk_row[n + 1]] = source.chunk_vectors
                sentence_matrix[sentence_row[n] : sentence_row[n + 1]] = source.sentence_vectors
            elif old is not None:  # rows of the old index
                chunk_matrix[chunk_row[n] : chunk_row[n + 1]] = old.chunk_vectors[source]
                sentence_matrix[sentence_row[n] : sentence_row[n + 1]] = np.concatenate([old.sentences.of_chunk(r) for r in source])
        del saved, sources
        embedded = sum(chunk_row[n + 1] - chunk_row[n] for n in to_embed)
        bar = tqdm(total=embedded, desc="embedding chunks", unit="chunk", disable=not progress, dynamic_ncols=True)
        done = 0
        if on_progress is not None:
            on_progress(done, embedded)
        for batch in _batches(to_embed, chunk_row, self.settings.index_progress_chunks):
            texts, spans = [], []
            for n in batch:
                for chunk in all_chunks[chunk_row[n] : chunk_row[n + 1]]:
                    texts.append(embedded_text(articles[n], chunk, title_in))
                    shift = len(texts[-1]) - len(chunk.text) - chunk.start  # sentence offsets into the text read
                    spans.append([(s + shift, e + shift) for s, e in chunk.sentences])
            encoded = self.chunk_encoder.encode_chunks(texts, spans, bar=bar)
            first_chunk = first_sentence = 0
            for n in batch:
                chunk_count, sentence_count = chunk_row[n + 1] - chunk_row[n], sentence_row[n + 1] - sentence_row[n]
                chunk_matrix[chunk_row[n] : chunk_row[n + 1]] = encoded.chunk_vectors[first_chunk : first_chunk + chunk_count]
                sentence_matrix[sentence_row[n] : sentence_row[n + 1]] = encoded.sentence_vectors[first_sentence : first_sentence + sentence_count]
                first_chunk += chunk_count
                first_sentence += sentence_count
            journal.append(
                [hashes[articles[n].id] for n in batch],
                [chunk_matrix[chunk_row[n] : chunk_row[n + 1]] for n in batch],
                [sentence_matrix[sentence_row[n] : sentence_row[n + 1]] for n in batch],
            )
            done += len(texts)
            if on_progress is not None:
                on_progress(done, embedded)
        bar.close()
        manifest = Manifest(
            format_version=INDEX_FORMAT_VERSION,
            model=self.encoder.name,
            model_path=str(self.settings.resolved_model_path()),
            precision=self.encoder.runtime.network_precision,
            dimension=dim,
            chunk_words=self.settings.chunk_words,
            chunk_overlap_sentences=self.settings.chunk_overlap_sentences,
            title_in_chunks=title_in,
            dense_index="",  # the store names its nearest-neighbour index when it prepares the contents
            corpus=corpus_label,
            files=files,
            article_hashes=hashes,
            articles=len(articles),
            chunks=len(all_chunks),
            built_at=dt.datetime.now(dt.UTC),
            build_seconds=round(time.perf_counter() - started, 3),
        )
        contents = IndexContents(
            manifest=manifest,
            articles={a.id: a for a in articles},
            chunks=all_chunks,
            chunk_vectors=chunk_matrix,
            sentence_vectors=sentence_matrix,
        )
        return contents, embedded, resumed
