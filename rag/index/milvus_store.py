"""The index on Milvus: the one module that knows pymilvus (a server, a cluster, or Milvus Lite's server).

A generation is three collections, written whole and then served by switching one alias to it, Milvus's
form of the embedded store's atomic CURRENT swap: a failed or killed run leaves the served generation as
it was, and the next save drops what it left.

- GEN_chunks: one row per chunk (its row number as primary key): article id, publication date (as a day
  number, -1 when undated) and source key for filters, the chunk's offsets, its chunk vector (dense
  search) and its BM25 terms (Milvus's BM25 function makes the sparse vector it searches).
- GEN_sentences: one row per sentence vector, with its chunk's row.
- GEN_records: the manifest, the articles and the term statistics, as JSON in parts (a VARCHAR holds at
  most 64 KB; Milvus wants a vector field in every collection, so this one has a two-number placeholder).

BM25 is given our own terms (rag.text.terms, joined by spaces), so Milvus counts the same words as the
embedded store; its scores come back negative from Milvus Lite and positive from Milvus, so only their
size is used, divided by the best one as for the embedded store (rag/query/retrieve.py, fuse).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
import uuid
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from rag.config import Settings
from rag.index.backend import HNSW_EF_SEARCH, HNSW_NEIGHBOURS, Filters, LexicalHits, Rows, lexical_terms, source_key
from rag.index.lexical import bm25_idf
from rag.index.store import (
    SENTENCE_VECTOR_DTYPE,
    IndexContents,
    IndexCorrupt,
    IndexMissing,
    IndexStore,
    IndexStoreError,
    IndexUnwritable,
    Manifest,
)
from rag.schema import Article, Chunk

VARCHAR_MAX = 65_535  # bytes
PART_CHARS = VARCHAR_MAX // 4  # characters of a record part: at most 4 UTF-8 bytes each
INSERT_BATCH = 512  # rows an insert sends: well under gRPC's 64 MB message limit at 384 dimensions
QUERY_BATCH = 1000
CACHED_ROWS = 4096  # chunk rows whose fetched vectors a MilvusIndex keeps (~10 KB each with their sentences)
# pymilvus pings an idle connection every 10 s; a gRPC server's default policy (Milvus Lite's) allows one
# each 5 minutes and closes the connection after two more (GOAWAY "too_many_pings"), failing the next call.
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000}
HNSW = {"M": HNSW_NEIGHBOURS, "efConstruction": 200}  # above the exact-search limit, as the embedded store
# Plain text a source filter can pass to LIKE as it is; anything else is matched here and sent as article ids.
_PLAIN_SOURCE = re.compile(r"[0-9a-z .,'&-]+")
# Milvus's codes for a collection that is not loaded, or not wholly: what every search meets after the server
# restarted (Milvus Lite loads no collection again by itself) or after someone released the collection.
NOT_LOADED = (101, 103)

log = logging.getLogger(__name__)
Result = TypeVar("Result")


class MilvusUnavailable(IndexStoreError):
    """Milvus cannot be reached, or stopped answering; nothing was half-written."""


def collection_name_for(corpus: Path) -> str:
    """The alias a corpus folder's index is served under: its name and a hash of its whole path."""
    stem = re.sub(r"[^0-9A-Za-z]+", "_", corpus.resolve().name).strip("_")[:40] or "corpus"
    return f"rag_{stem}_{hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:8]}"


def _parts(text: str) -> list[str]:
    return [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


def _terms_text(words: list[str]) -> str:
    """The chunk's terms as Milvus's BM25 analyzer reads them, cut to what a VARCHAR holds (a chunk of one
    huge run of words; the rest of its terms are not searchable on Milvus)."""
    text = " ".join(words)
    if len(text.encode()) <= VARCHAR_MAX:
        return text
    return text.encode()[:VARCHAR_MAX].decode(errors="ignore").rsplit(" ", 1)[0]


def _day(date: dt.date | None) -> int:
    return date.toordinal() if date is not None else -1


class MilvusStore:
    """The index of one corpus in Milvus, served under an alias; an IndexBackend (rag/index/backend.py)."""

    def __init__(self, uri: str, collection: str, folder: Path, token: str | None = None, timeout: float = 30.0):
        self.uri, self.name, self.path = uri, collection, Path(folder)
        self._token, self._timeout = token or "", timeout
        self._client = None

    @property
    def location(self) -> str:
        return f"{self.uri} (Milvus, collection {self.name})"

    # ---- talking to Milvus ----------------------------------------------------------------------

    @property
    def client(self) -> Any:  # a pymilvus.MilvusClient
        if self._client is None:
            from pymilvus import MilvusClient
            from pymilvus.exceptions import MilvusException

            # pymilvus sets its loggers up when imported, then logs every failed call with its traceback (and
            # Milvus Lite's missing iterator timestamps); the errors raised here say what failed in a line.
            for name in ("pymilvus", "pymilvus.milvus_client"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            try:
                # dedicated: pymilvus would otherwise share the connection of any client made earlier for the
                # same URI, with that client's options
                self._client = MilvusClient(uri=self.uri, token=self._token, timeout=self._timeout, grpc_options=GRPC_OPTIONS, dedicated=True)
            except MilvusException as exc:
                raise MilvusUnavailable(f"cannot reach Milvus at {self.uri} ({exc.message}); start it, or check RAG_MILVUS_URI") from exc
        return self._client

    @contextmanager
    def _calls(self, doing: str) -> Iterator[None]:
        """Milvus's errors (a server gone, a refused call) as one line naming the server and what was being done."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as exc:
            raise MilvusUnavailable(f"Milvus at {self.uri} failed while {doing}: {exc.message}") from exc

    def _reading(self, collection: str, doing: str, read: Callable[[], Result]) -> Result:
        """read(), a call that reads the collection. When Milvus says the collection is not loaded, its
        generation is loaded again and read() tried once more, so that a restarted server serves the index
        without `rag index --rebuild`; MilvusUnavailable, in a line, when that does not help either."""
        from pymilvus.exceptions import MilvusException

        with self._calls(doing):
            try:
                return read()
            except MilvusException as exc:
                if exc.code not in NOT_LOADED:
                    raise
            self._load_again(collection)
            try:
                return read()
            except MilvusException as exc:
                if exc.code not in NOT_LOADED:
                    raise
                raise MilvusUnavailable(
                    f"Milvus at {self.uri} failed while {doing}: {collection} is not loaded, and loading it again did not help "
                    f"({exc.message}); see the server's log"
                ) from exc

    def _load_again(self, collection: str) -> None:
        """Load the three collections of the collection's generation: after a restart none of them is loaded."""
        generation = collection.rsplit("_", 1)[0]
        log.warning("the index %s in Milvus at %s was not loaded (has the server restarted?): loading it again", generation, self.uri)
        for suffix in ("chunks", "sentences", "records"):
            self.client.load_collection(f"{generation}_{suffix}")

    # ---- the served generation ------------------------------------------------------------------

    def exists(self) -> bool:
        with self._calls("looking for the index"):
            return self.name in self.client.list_aliases().get("aliases", [])

    def live_generation(self) -> str:
        with self._calls("looking for the index"):
            client = self.client
            if not self.exists():
                if client.has_collection(self.name):
                    raise IndexCorrupt(
                        f"Milvus at {self.uri} has a collection named {self.name} that is not a rag index; "
                        "choose another name with --milvus-collection (RAG_MILVUS_COLLECTION)"
                    )
                raise IndexMissing(f"no index in Milvus at {self.uri} under {self.name}: run `rag index --backend milvus` first")
            target = client.describe_alias(self.name)["collection_name"]
        if not self._generation_part(target, "chunks"):
            raise IndexCorrupt(f"the alias {self.name} in Milvus at {self.uri} points to {target}, which is not a rag index; run `rag index --rebuild`")
        return target.removesuffix("_chunks")

    def _generation_part(self, collection: str, part: str = "chunks|sentences|records") -> bool:
        """Whether the collection is one of this index's generations (never another index's whose name
        begins with this one's)."""
        return re.fullmatch(rf"{re.escape(self.name)}_g\d{{8}}T\d{{12}}_[0-9a-f]{{6}}_(?:{part})", collection) is not None

    def read_manifest(self, generation: str | None = None) -> Manifest:
        generation = generation or self.live_generation()
        raw = self._record(generation, "manifest")
        if raw is None:
            raise IndexCorrupt(f"index {generation} in Milvus at {self.uri} has no manifest; run `rag index --rebuild`")
        try:
            return Manifest.parse(raw, f"{generation} in Milvus at {self.uri}")
        except ValueError as exc:  # pydantic's ValidationError
            raise IndexCorrupt(f"the manifest of {generation} in Milvus at {self.uri} is damaged ({exc}); run `rag index --rebuild`") from exc

    def _checked_manifest(self, generation: str, settings: Settings | None) -> Manifest:
        manifest = self.read_manifest(generation)
        manifest.check_fits(settings, f"{generation} in Milvus at {self.uri}")
        return manifest

    def open(self, settings: Settings) -> MilvusIndex:
        generation = self.live_generation()
        manifest = self._checked_manifest(generation, settings)
        articles = self._articles(generation)
        frequencies = self._record(generation, "terms") or {}
        if not isinstance(frequencies, dict):
            raise IndexCorrupt(f"the term statistics of {generation} in Milvus at {self.uri} are damaged; run `rag index --rebuild`")
        return MilvusIndex(self, generation, manifest, articles, frequencies)

    def load(self, settings: Settings | None = None) -> IndexContents:
        """The whole live generation in memory, for an update to reuse its vectors."""
        generation = self.live_generation()
        manifest = self._checked_manifest(generation, settings)
        articles = self._articles(generation)
        chunks: list[Chunk | None] = [None] * manifest.chunks
        chunk_vectors = np.zeros((manifest.chunks, manifest.dimension), np.float32)
        for row in self._iterate(f"{generation}_chunks", "row >= 0", ["row", "article", "chunk", "vector"]):
            chunks[row["row"]] = _chunk(row, articles)
            chunk_vectors[row["row"]] = row["vector"]
        sentence_rows = sorted(self._iterate(f"{generation}_sentences", "id >= 0", ["id", "vector"]), key=lambda r: r["id"])
        if any(c is None for c in chunks) or len(sentence_rows) != sum(len(c.sentences) for c in chunks if c is not None):
            raise IndexCorrupt(f"index {generation} in Milvus at {self.uri} is incomplete; run `rag index --rebuild`")
        sentence_vectors = np.array([r["vector"] for r in sentence_rows], dtype=SENTENCE_VECTOR_DTYPE).reshape(-1, manifest.dimension)
        return IndexContents(manifest=manifest, articles=articles, chunks=chunks, chunk_vectors=chunk_vectors, sentence_vectors=sentence_vectors)

    # ---- writing a generation -------------------------------------------------------------------

    def prepare(self, contents: IndexContents, settings: Settings) -> IndexContents:
        kind = "HNSW" if contents.manifest.chunks > settings.exact_search_max_chunks else "FLAT"
        return contents.model_copy(update={"manifest": contents.manifest.model_copy(update={"dense_index": f"Milvus {kind}"})})

    def save(self, contents: IndexContents) -> str:
        """Write the contents as a new generation, then switch the alias to it."""
        generation = f"{self.name}_g{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}_{uuid.uuid4().hex[:6]}"
        try:
            with self._calls(f"writing the index {generation}"):
                self._write(generation, contents)
                if self.exists():
                    self.client.alter_alias(f"{generation}_chunks", self.name)
                else:
                    self.client.create_alias(f"{generation}_chunks", self.name)
        except BaseException as exc:
            self._drop(generation)
            if isinstance(exc, MilvusUnavailable):
                raise IndexUnwritable(f"{exc}; the served index is kept", str(exc)) from exc
            raise
        self.remove_stale()
        return generation

    def _write(self, generation: str, contents: IndexContents) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        client, manifest, dim = self.client, contents.manifest, contents.manifest.dimension
        dense_index = ("HNSW", {**HNSW}) if manifest.dense_index.endswith("HNSW") else ("FLAT", {})

        chunks = MilvusClient.create_schema(auto_id=False)
        chunks.add_field("row", DataType.INT64, is_primary=True)
        chunks.add_field("article", DataType.VARCHAR, max_length=64)
        chunks.add_field("published", DataType.INT64)
        chunks.add_field("source_key", DataType.VARCHAR, max_length=VARCHAR_MAX)
        chunks.add_field("chunk", DataType.VARCHAR, max_length=VARCHAR_MAX)
        # "standard": lower case, split at non-word characters; our terms already are lower-case words
        chunks.add_field("terms", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True, analyzer_params={"tokenizer": "standard"})
        chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        chunks.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        chunks.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]))
        chunk_index = client.prepare_index_params()
        chunk_index.add_index("vector", index_type=dense_index[0], metric_type="IP", params=dense_index[1])
        # bm25s's defaults (rag/index/lexical.py), so that both stores weigh terms alike
        chunk_index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": 1.5, "bm25_b": 0.75})
        for field in ("article", "published"):  # what filters test: without an index each filter scans every row
            chunk_index.add_index(field, index_type="INVERTED")
        client.create_collection(f"{generation}_chunks", schema=chunks, index_params=chunk_index, consistency_level="Strong")

        sentences = MilvusClient.create_schema(auto_id=False)
        sentences.add_field("id", DataType.INT64, is_primary=True)
        sentences.add_field("row", DataType.INT64)
        sentences.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        sentence_index = client.prepare_index_params()
        sentence_index.add_index("vector", index_type="FLAT", metric_type="IP")  # never searched: fetched by row
        sentence_index.add_index("row", index_type="INVERTED")  # a question's candidates' sentences, found without a scan
        client.create_collection(f"{generation}_sentences", schema=sentences, index_params=sentence_index, consistency_level="Strong")

        records = MilvusClient.create_schema(auto_id=False)
        records.add_field("key", DataType.VARCHAR, is_primary=True, max_length=128)
        records.add_field("kind", DataType.VARCHAR, max_length=16)
        records.add_field("item", DataType.INT64)
        records.add_field("part", DataType.INT64)
        records.add_field("value", DataType.VARCHAR, max_length=VARCHAR_MAX)
        records.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        record_index = client.prepare_index_params()
        record_index.add_index("placeholder", index_type="FLAT", metric_type="L2")
        client.create_collection(f"{generation}_records", schema=records, index_params=record_index, consistency_level="Strong")

        articles = contents.articles
        frequencies: Counter[str] = Counter()
        chunk_rows, sentence_rows, sentence_id = [], [], 0
        for row, chunk in enumerate(contents.chunks):
            article = articles[chunk.article_id]
            words = lexical_terms(article, chunk, manifest.title_in_chunks)
            frequencies.update(set(words))
            chunk_rows.append(
                {
                    "row": row,
                    "article": article.id,
                    "published": _day(article.published),
                    "source_key": source_key(article)[:PART_CHARS],
                    "chunk": json.dumps({"id": chunk.id, "start": chunk.start, "end": chunk.end, "sentences": chunk.sentences}),
                    "terms": _terms_text(words),
                    "vector": contents.chunk_vectors[row].tolist(),
                }
            )
            for vector in contents.sentences.of_chunk(row):
                # what the embedded store keeps (float16), so that both compute the same cosines
                sentence_rows.append({"id": sentence_id, "row": row, "vector": vector.astype(SENTENCE_VECTOR_DTYPE).astype(np.float32).tolist()})
                sentence_id += 1
            if len(chunk_rows) >= INSERT_BATCH:
                client.insert(f"{generation}_chunks", chunk_rows)
                chunk_rows = []
            if len(sentence_rows) >= 4 * INSERT_BATCH:
                client.insert(f"{generation}_sentences", sentence_rows)
                sentence_rows = []
        for name, rows in ((f"{generation}_chunks", chunk_rows), (f"{generation}_sentences", sentence_rows)):
            if rows:
                client.insert(name, rows)
        values = [("manifest", 0, manifest.model_dump_json()), ("terms", 0, json.dumps(dict(frequencies)))]
        values += [("article", n, article.model_dump_json()) for n, article in enumerate(articles.values())]
        record_rows = [
            {"key": f"{kind}:{item}:{part}", "kind": kind, "item": item, "part": part, "value": text, "placeholder": [0.0, 0.0]}
            for kind, item, value in values
            for part, text in enumerate(_parts(value))
        ]
        for start in range(0, len(record_rows), 64):  # 64 parts of up to 64 KB: 4 MB a call
            client.insert(f"{generation}_records", record_rows[start : start + 64])
        for suffix in ("chunks", "sentences", "records"):
            client.flush(f"{generation}_{suffix}")

    def _drop(self, generation: str) -> None:
        """Best effort: what a failed save wrote (the server may be the reason it failed)."""
        try:
            for suffix in ("chunks", "sentences", "records"):
                self.client.drop_collection(f"{generation}_{suffix}")
        except Exception:  # noqa: BLE001 - the next save's remove_stale drops what is left
            pass

    def remove_stale(self) -> None:
        """Drop the generations the alias does not point to (older ones, and what killed runs left)."""
        try:
            live = self.live_generation()
        except IndexMissing:
            live = None
        with self._calls("dropping old index generations"):
            for name in self.client.list_collections():
                if self._generation_part(name) and not name.startswith(f"{live}_"):
                    self.client.drop_collection(name)

    def lock(self) -> AbstractContextManager[None]:
        """One writer at a time from this machine: the embedded store's lock on the local index folder (the
        owner's pid in its message); the alias switch keeps readers safe whatever writes."""
        return IndexStore(self.path).lock()

    # ---- reading --------------------------------------------------------------------------------

    def _iterate(self, collection: str, expression: str, fields: list[str]) -> Iterator[dict]:
        doing = f"reading {collection}"
        cursor = self._reading(
            collection, doing, lambda: self.client.query_iterator(collection, batch_size=QUERY_BATCH, filter=expression, output_fields=fields)
        )
        with self._calls(doing):
            try:
                while batch := cursor.next():
                    yield from batch
            finally:
                cursor.close()

    def _records(self, generation: str, kind: str) -> Iterator[object]:
        parts: dict[int, dict[int, str]] = defaultdict(dict)
        for row in self._iterate(f"{generation}_records", f'kind == "{kind}"', ["item", "part", "value"]):
            parts[row["item"]][row["part"]] = row["value"]
        for item in sorted(parts):
            text = "".join(parts[item][n] for n in sorted(parts[item]))
            try:
                yield json.loads(text)
            except ValueError as exc:
                raise IndexCorrupt(f"a {kind} record of {generation} in Milvus at {self.uri} is damaged ({exc}); run `rag index --rebuild`") from exc

    def _articles(self, generation: str) -> dict[str, Article]:
        return {a.id: a for a in (Article.model_validate(raw) for raw in self._records(generation, "article"))}

    def _record(self, generation: str, kind: str) -> object | None:
        with self._calls("reading the index"):
            if not self.client.has_collection(f"{generation}_records"):
                return None
        return next(iter(self._records(generation, kind)), None)

    def query(self, collection: str, expression: str, fields: list[str]) -> list[dict]:
        return self._reading(collection, "answering", lambda: self.client.query(collection, filter=expression, output_fields=fields))

    def search(self, collection: str, data: list, field: str, limit: int, expression: str, params: dict) -> list[tuple[int, float]]:
        hits = self._reading(
            collection,
            "answering",
            lambda: self.client.search(collection, data=data, anns_field=field, limit=limit, filter=expression, output_fields=["row"], search_params=params),
        )
        return [(int(hit["row"]), float(hit["distance"])) for hit in hits[0]]


def _chunk(row: dict, articles: dict[str, Article]) -> Chunk:
    """A chunk from its Milvus row: the offsets are stored, the text is its article's."""
    stored = json.loads(row["chunk"])
    article = articles[row["article"]]
    return Chunk(
        id=stored["id"],
        article_id=article.id,
        text=article.text[stored["start"] : stored["end"]],
        start=stored["start"],
        end=stored["end"],
        sentences=[tuple(s) for s in stored["sentences"]],
    )


def _id_list(values: Iterable[object]) -> str:
    return json.dumps(sorted(values))


Fetched = TypeVar("Fetched")


class _RowCache(Generic[Fetched]):
    """What was fetched for a chunk row, kept while used (a generation never changes): a question's candidates
    are fetched once, then their vectors, text and sentences are read from here by fusion and the reader."""

    def __init__(self, size: int):
        self._rows: OrderedDict[int, Fetched] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def get(self, rows: Sequence[int], fetch: Callable[[list[int]], dict[int, Fetched]]) -> dict[int, Fetched]:
        with self._lock:
            found = {row: self._rows[row] for row in rows if row in self._rows}
            for row in found:
                self._rows.move_to_end(row)
        missing = sorted(set(rows) - set(found))
        if missing:
            fetched = fetch(missing)
            found |= fetched
            with self._lock:
                self._rows.update(fetched)
                while len(self._rows) > self._size:
                    self._rows.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


class MilvusIndex:
    """One generation in Milvus, searched there: the SearchIndex (rag/index/backend.py) of the Milvus store. The
    manifest, the articles and the term statistics are held here; chunks and vectors are fetched by row."""

    def __init__(self, store: MilvusStore, generation: str, manifest: Manifest, articles: dict[str, Article], frequencies: dict[str, int]):
        self.store, self.generation, self.manifest, self.articles = store, generation, manifest, articles
        self._frequencies = frequencies
        self._chunks, self._sentences = f"{generation}_chunks", f"{generation}_sentences"
        self._chunk_rows: _RowCache[tuple[Chunk, np.ndarray]] = _RowCache(CACHED_ROWS)
        self._sentence_rows: _RowCache[np.ndarray] = _RowCache(CACHED_ROWS)

    @property
    def size(self) -> int:
        return self.manifest.chunks

    @property
    def documents(self) -> int:
        return self.manifest.chunks

    def clear_cache(self) -> None:
        """Forget the fetched rows (a benchmark times a question as the first to fetch its candidates)."""
        self._chunk_rows.clear()
        self._sentence_rows.clear()

    def expression(self, filters: Filters) -> str | None:
        """The filters as a Milvus filter expression ("" for none); None when no article can match."""
        parts = []
        if filters.articles is not None:
            if not filters.articles:
                return None
            parts.append(f"article in {_id_list(filters.articles)}")
        if filters.since:
            parts.append(f"published >= {_day(filters.since)}")
        if filters.until:
            parts.append(f"published >= 0 and published <= {_day(filters.until)}")
        if filters.source:
            needle = filters.source.lower()
            if _PLAIN_SOURCE.fullmatch(needle):
                parts.append(f'source_key like "%{needle}%"')
            else:
                admitted = [a.id for a in self.articles.values() if filters.admits(a)]
                if not admitted:
                    return None
                parts.append(f"article in {_id_list(admitted)}")
        return " and ".join(f"({p})" for p in parts)

    def dense_search(self, vector: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        expression = self.expression(filters)
        if expression is None or k <= 0 or not self.size:
            return []
        params = {"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, k)}}
        return self.store.search(self._chunks, [np.asarray(vector, np.float32).tolist()], "vector", min(k, self.size), expression, params)

    def lexical_search(self, query_terms: Sequence[str], k: int, filters: Filters, rescore: Sequence[int] = ()) -> LexicalHits:
        expression = self.expression(filters)
        known = [t for t in dict.fromkeys(query_terms) if t in self._frequencies]  # each term once, as bm25s counts it
        if expression is None or not known or k <= 0:
            return LexicalHits(top=[], scores={int(row): 0.0 for row in rescore})
        query, params = [" ".join(known)], {"metric_type": "BM25"}
        # Milvus Lite's BM25 scores are negative, Milvus's positive: their size is the score
        top = [(row, abs(score)) for row, score in self.store.search(self._chunks, query, "sparse", k, expression, params)]
        top.sort(key=lambda hit: (-hit[1], hit[0]))
        scores = dict(top)
        missing = sorted({int(row) for row in rescore} - set(scores))
        if missing:
            within = f"row in {_id_list(missing)}" + (f" and ({expression})" if expression else "")
            scores |= {row: abs(score) for row, score in self.store.search(self._chunks, query, "sparse", len(missing), within, params)}
        return LexicalHits(top=top, scores={**{row: 0.0 for row in missing}, **scores})

    def _fetch_chunks(self, rows: list[int]) -> dict[int, tuple[Chunk, np.ndarray]]:
        fetched = self.store.query(self._chunks, f"row in {_id_list(rows)}", ["row", "article", "chunk", "vector"])
        return {r["row"]: (_chunk(r, self.articles), np.asarray(r["vector"], np.float32)) for r in fetched}

    def _fetch_sentences(self, rows: list[int]) -> dict[int, np.ndarray]:
        fetched = sorted(self.store.query(self._sentences, f"row in {_id_list(rows)}", ["id", "row", "vector"]), key=lambda r: r["id"])
        grouped: dict[int, list] = {row: [] for row in rows}
        for sentence in fetched:
            grouped[sentence["row"]].append(sentence["vector"])
        return {row: np.array(vectors, dtype=np.float32).reshape(-1, self.manifest.dimension) for row, vectors in grouped.items()}

    def chunks_at(self, rows: Rows) -> list[Chunk]:
        rows = [int(r) for r in rows]
        found = self._chunk_rows.get(rows, self._fetch_chunks)
        return [found[row][0] for row in rows]

    def chunk_vectors_at(self, rows: Rows) -> np.ndarray:
        rows = [int(r) for r in rows]
        found = self._chunk_rows.get(rows, self._fetch_chunks)
        return np.array([found[row][1] for row in rows], dtype=np.float32).reshape(len(rows), self.manifest.dimension)

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        return self._sentence_rows.get([int(row)], self._fetch_sentences)[int(row)]

    def best_sentence_cosines(self, rows: Rows, vector: np.ndarray) -> np.ndarray:
        rows = [int(r) for r in rows]
        vectors = self._sentence_rows.get(rows, self._fetch_sentences)
        return np.array([float(np.max(vectors[row] @ vector)) if len(vectors[row]) else 0.0 for row in rows])

    def document_frequency(self, term: str) -> int:
        return int(self._frequencies.get(term, 0))

    def idf(self, term: str) -> float:
        return bm25_idf(self.documents, self.document_frequency(term))
