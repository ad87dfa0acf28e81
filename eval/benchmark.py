"""Speed and scale benchmarks (figures and their commands in eval/RESULTS.md). Not tests.

    python -m eval.benchmark throughput --paragraphs 300   # index build with torch vs OpenVINO, same chunks, same run
    python -m eval.benchmark sentences --limit 1000        # reader/fusion with pooled vs separately encoded sentence vectors
    python -m eval.benchmark latency --sizes 1000 10000 100000 --questions 200 --haystack-sizes 1000 10000
    python -m eval.benchmark reader --paragraphs 300 --questions 200   # per-stage answer time: span vs sentence reader vs Haystack's ExtractiveReader

Each command prints a JSON record with the machine's facts (CPU, cores, torch threads, the load
average before and after: the machine may be shared) and appends it to --out (default
eval/.cache/benchmarks.jsonl). Corpora are built from the public benchmarks in ../shared/data:
real vectors up to what is cached (SQuAD v1.1 dev and SciFact, ~16k chunks); above that, copies
of those chunks whose vectors are the originals plus Gaussian noise, renormalised (said in the record).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import CACHE_DIR, Benchmark, load_beir, load_squad
from eval.metrics import percentile
from eval.runner import EvalRunner
from rag.config import Settings, packaged_model_path
from rag.embedding import Encoder
from rag.index.backend import Filters, SearchIndex, lexical_terms
from rag.index.dense import DenseIndex
from rag.index.index_keeper import make_reader
from rag.index.indexing import embedded_text
from rag.index.lexical import LexicalIndex
from rag.index.store import SENTENCE_VECTOR_DTYPE, IndexContents, IndexData, IndexStore
from rag.pipeline import Pipeline
from rag.query.retrieve import RetrievalRequest, Retriever, fuse
from rag.text import terms

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SQUAD = DATA / "squad-v1.1-dev" / "dev-v1.1.json"
SCIFACT = DATA / "beir-scifact"
HNSW_COMPARED_MAX = 200_000  # latency: above it the HNSW-against-exact comparison is left out
SYNTHETIC_NOISE = 0.02  # per-dimension sigma of the noise added to copied vectors (before renormalising)


def machine() -> dict:
    import faiss
    import openvino
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "0")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(memory) / 2**20, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "openvino": openvino.__version__,
        "faiss": faiss.__version__,
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def process_memory_mb(pid: int) -> dict[str, float]:
    """Another process's resident memory now and at its peak (Linux /proc)."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: round(int(status[key].split()[0]) / 1024, 1) for name, key in (("rss", "VmRSS"), ("peak_rss", "VmHWM"))}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def emit(record: dict, out: Path) -> None:
    record["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=2))


def stats(values_ms: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values_ms, 50), 2), "p95": round(percentile(values_ms, 95), 2)}


def cached_index(bench: Benchmark, settings: Settings, encoder: Encoder) -> IndexData:
    bench.pipeline(settings, encoder=encoder, progress=True)  # embeds only when not cached yet
    return IndexStore(bench.cache_dir(settings)).load(settings)


# ---- indexing throughput ------------------------------------------------------------------------


# What the networks can run on (rag/runtime.py): torch as it ran before OpenVINO came (batches of 32:
# the baseline every ratio is taken against), torch, OpenVINO in f32 (the same vectors) and OpenVINO
# int8, the last three with the configured batch size.
BASELINE = "torch-before"
VARIANTS: dict[str, dict[str, Any]] = {
    BASELINE: {"runtime": "torch", "embed_batch_size": 32},
    "torch": {"runtime": "torch"},
    "openvino-f32": {"runtime": "openvino", "precision": "f32"},
    "openvino-int8": {"runtime": "openvino", "precision": "int8"},
}


def variant_settings(settings: Settings) -> dict[str, Settings]:
    return {name: settings.model_copy(update=update) for name, update in VARIANTS.items()}


def variant_encoders(settings: Settings) -> dict[str, Encoder]:
    """One encoder per variant, loaded (and converted, the first time) before anything is timed."""
    encoders = {}
    for name, variant in variant_settings(settings).items():
        encoders[name] = Encoder.from_settings(variant)
        encoders[name].encode_texts(["A warm-up sentence, so the first batch timed is not the first run."] * variant.embed_batch_size)
    return encoders


def cmd_throughput(args, settings: Settings, encoder: Encoder) -> dict:
    """The whole index build (chunk, encode with pooled sentence vectors, BM25, FAISS, save) of the same
    articles with each variant, alternated over --rounds rounds so load drift hits all alike; and how
    far each variant's vectors are from torch's."""
    bench = load_squad(SQUAD)
    bench = bench.model_copy(update={"articles": bench.articles[: args.paragraphs]})
    encoders, variants = variant_encoders(settings), variant_settings(settings)
    rounds, vectors = [], {}
    for _ in range(args.rounds):
        row = {}
        for name, variant_encoder in encoders.items():
            with tempfile.TemporaryDirectory() as folder:
                pipeline = Pipeline(variants[name], corpus=Path(folder), index_path=Path(folder) / "index", encoder=variant_encoder)
                started = time.perf_counter()
                report = pipeline.index_articles(bench.corpus_load(), rebuild=True)
                row[f"{name}_chunks_per_s"] = round(report.chunks / (time.perf_counter() - started), 2)
                data = embedded_index(pipeline)
                vectors[name] = (data.chunk_vectors.astype(np.float32), data.sentence_vectors.astype(np.float32))
        for name in encoders:
            row[f"ratio_{name}_over_{BASELINE}"] = round(row[f"{name}_chunks_per_s"] / row[f"{BASELINE}_chunks_per_s"], 3)
        rounds.append(row)
    agreement = {
        name: {kind: np.sum(vectors[name][i] * vectors[BASELINE][i], axis=1) for i, kind in enumerate(("chunk_vectors", "sentence_vectors"))}
        for name in encoders
    }
    return {
        "benchmark": "throughput",
        "paragraphs": len(bench.articles),
        "chunks": report.chunks,
        "batch_size": {name: variant.embed_batch_size for name, variant in variants.items()},
        "threads": settings.runtime_threads or "one per core",
        "rounds": rounds,
        f"cosine_to_{BASELINE}": {
            name: {kind: {"min": round(float(v.min()), 6), "mean": round(float(v.mean()), 6)} for kind, v in kinds.items()} for name, kinds in agreement.items()
        },
        "note": "sentence vectors are stored as float16 in the index: their cosines include that rounding",
    }


# ---- pooled vs separately encoded sentence vectors ------------------------------------------------


def cmd_sentences(args, settings: Settings, encoder: Encoder) -> dict:
    """Answer quality with the pooled sentence vectors (index default) and with each sentence encoded on its own."""
    bench = load_squad(SQUAD)
    pipeline = bench.pipeline(settings, encoder=encoder, progress=True)
    data = embedded_index(pipeline)
    separate_path = bench.cache_dir(settings) / "separate_sentence_vectors.npy"
    if separate_path.is_file() and len(np.load(separate_path, mmap_mode="r")) == len(data.sentence_vectors):
        separate = np.load(separate_path)
    else:
        texts = [c.text[s - c.start : e - c.start] for c in data.chunks for s, e in c.sentences]
        separate = encoder.encode_texts(texts)
        np.save(separate_path, separate)
    pooled = data.sentence_vectors
    items = [i for i in bench.select(None, args.limit, args.seed) if i.answers]
    agreement = np.sum(pooled.astype(np.float32) * separate, axis=1)
    return {
        "benchmark": "sentences",
        "questions": len(items),
        "sample": f"SQuAD v1.1 dev, --limit {args.limit} --seed {args.seed}, answerable",
        "cosine_pooled_vs_separate": {"mean": round(float(agreement.mean()), 4), "p5": round(float(np.percentile(agreement, 5)), 4)},
        "runs": answers_with_sentence_vectors(bench, settings, encoder, items, {"pooled": pooled, "separate": separate}),
    }


def cmd_sentence_dtype(args, settings: Settings, encoder: Encoder) -> dict:
    """Retrieval and answers with the pooled sentence vectors in float32 and rounded to float16 (how the index
    stores them since the big-JSONL work): the same questions, the same index, only the rounding differs."""
    bench = load_squad(SQUAD)
    data = embedded_index(bench.pipeline(settings, encoder=encoder, progress=True))
    if data.sentence_vectors.dtype != np.float32:
        sys.exit(f"{bench.cache_dir(settings)} holds {data.sentence_vectors.dtype} sentence vectors; this needs an index built with float32 ones")
    full = data.sentence_vectors
    rounded = full.astype(np.float16)
    items = [i for i in bench.select(None, args.limit, args.seed) if i.answers]
    cosine_shift = np.abs(rounded.astype(np.float32) @ full[:1000].T - full @ full[:1000].T) if len(full) <= 20000 else None
    return {
        "benchmark": "sentence-dtype",
        "questions": len(items),
        "sample": f"SQuAD v1.1 dev, --limit {args.limit} --seed {args.seed}, answerable",
        "sentence_vectors": len(full),
        "memory_mb": {"float32": round(full.nbytes / 2**20, 1), "float16": round(rounded.nbytes / 2**20, 1)},
        "max_cosine_shift": round(float(cosine_shift.max()), 6) if cosine_shift is not None else None,
        "runs": answers_with_sentence_vectors(bench, settings, encoder, items, {"float32": full, "float16": rounded}),
    }


def answers_with_sentence_vectors(bench: Benchmark, settings: Settings, encoder: Encoder, items: list, variants: dict[str, np.ndarray]) -> dict:
    """The eval report's retrieval and answer figures over copies of the benchmark's index, each with its own
    set of sentence vectors (saved and loaded as the product does: nothing is changed in a loaded index)."""
    cached = IndexStore(bench.cache_dir(settings)).load(settings)
    runs = {}
    for name, vectors in variants.items():
        with tempfile.TemporaryDirectory() as folder:
            variant = IndexContents(
                manifest=cached.manifest, articles=cached.articles, chunks=cached.chunks, chunk_vectors=cached.chunk_vectors, sentence_vectors=vectors
            )
            IndexStore(Path(folder)).save(IndexData.searchable(variant, settings.exact_search_max_chunks))
            runner = EvalRunner(bench.pipeline(settings, index_path=Path(folder), encoder=encoder), k=settings.k, chunk_depth=settings.candidates)
            report = runner.report(runner.ask_all(items, retriever="hybrid", progress=True))
            runs[name] = {"retrieval": report.retrieval, "answer": report.answer}
    return runs


def embedded_index(pipeline: Pipeline) -> IndexData:
    """The pipeline's index as the embedded store holds it: these benchmarks read its vectors whole."""
    data = pipeline.loaded().data
    if not isinstance(data, IndexData):
        sys.exit("this benchmark reads the embedded store's index: run it without RAG_BACKEND=milvus")
    return data


# ---- latency at scale ------------------------------------------------------------------------------


def scaled_index(sources: list[IndexData], size: int, rng: np.random.Generator, exact_search_max_chunks: int) -> tuple[IndexData, int]:
    """`size` chunks: the sources' real chunks in order, then noisy copies of them; also how many are real.
    The vectors are written into matrices made once (sentence vectors in float16, as the store keeps them),
    and a copy shares its source's text and terms: a million chunks fit in memory as the product holds them."""
    pool = [(data, row) for data in sources for row in range(len(data.chunks))]
    real = min(size, len(pool))
    picks = [pool[i % len(pool)] for i in range(size)]
    dimension = sources[0].manifest.dimension
    chunk_vectors = np.empty((size, dimension), np.float32)
    sentence_vectors = np.empty((sum(len(data.chunks[row].sentences) for data, row in picks), dimension), SENTENCE_VECTOR_DTYPE)
    settings = Settings()
    articles, chunks, token_lists, terms_of = {}, [], [], {}
    sentence_row = 0
    for n, (data, row) in enumerate(picks):
        copy = n // len(pool)
        chunk = data.chunks[row]
        article = data.articles[chunk.article_id]
        key = (id(data), row)
        if key not in terms_of:
            terms_of[key] = lexical_terms(article, chunk, settings.title_in_chunks)
        vector = data.chunk_vectors[row]
        sentences = data.sentences.of_chunk(row).astype(np.float32)
        if copy:
            article = article.model_copy(update={"id": f"{article.id}~{copy}", "path": f"{article.path}~{copy}"})
            chunk = chunk.model_copy(update={"id": f"{chunk.id}~{copy}", "article_id": article.id})
            vector = vector + rng.normal(0, SYNTHETIC_NOISE, vector.shape).astype(np.float32)
            vector = vector / np.linalg.norm(vector)
            sentences = sentences + rng.normal(0, SYNTHETIC_NOISE, sentences.shape).astype(np.float32)
            sentences = sentences / np.linalg.norm(sentences, axis=1, keepdims=True)
        articles[article.id] = article
        chunks.append(chunk)
        token_lists.append(terms_of[key])
        chunk_vectors[n] = vector
        sentence_vectors[sentence_row : sentence_row + len(sentences)] = sentences
        sentence_row += len(sentences)
    del terms_of
    manifest = sources[0].manifest.model_copy(update={"articles": len(articles), "chunks": len(chunks)})
    dense = DenseIndex.build(chunk_vectors, exact_search_max_chunks)
    index = IndexData(
        manifest=manifest.model_copy(update={"dense_index": dense.kind}),
        articles=articles,
        chunks=chunks,
        chunk_vectors=dense.vectors(),  # held once, by FAISS
        sentence_vectors=sentence_vectors,
        dense=dense,
        lexical=LexicalIndex.build(token_lists),
    )
    return index, real


def time_questions(index: SearchIndex, encoder: Encoder, settings: Settings, questions: list[str]) -> dict:
    """Per question: each stage timed alone, then the whole (retrieve + read) as the pipeline runs it,
    with the reader the settings name (the span reader by default)."""
    retriever = Retriever(index, encoder, settings)
    reader = make_reader(settings, index, encoder)
    depth = max(settings.candidates, settings.k)
    stages: dict[str, list[float]] = {name: [] for name in ("encode", "dense", "bm25", "fusion", "reader", "total")}
    for warm in questions[:5]:
        reader.read(warm, retriever.run(RetrievalRequest(query=warm, k=settings.k)))
    for question in questions:
        encoder.encode_query.cache_clear()
        t0 = time.perf_counter()
        vector = encoder.encode_query(question)
        t1 = time.perf_counter()
        dense = retriever.dense_ranking(vector, depth, Filters())
        t2 = time.perf_counter()
        lexical = index.lexical_search(terms(question), depth, Filters(), rescore=dense)
        t3 = time.perf_counter()
        candidates = retriever.combine(vector, dense, lexical)
        np.argsort(-fuse(candidates, settings))
        t4 = time.perf_counter()
        passages = retriever.run(RetrievalRequest(query=question, k=settings.k))
        t5 = time.perf_counter()
        reader.read(question, passages)
        t6 = time.perf_counter()
        encoder.encode_query.cache_clear()
        if hasattr(index, "clear_cache"):  # Milvus keeps the rows it fetched: the whole question fetches its own
            index.clear_cache()
        t7 = time.perf_counter()
        reader.read(question, retriever.run(RetrievalRequest(query=question, k=settings.k)))
        t8 = time.perf_counter()
        for name, seconds in (("encode", t1 - t0), ("dense", t2 - t1), ("bm25", t3 - t2), ("fusion", t4 - t3), ("reader", t6 - t5), ("total", t8 - t7)):
            stages[name].append(seconds * 1000)
    return {name: stats(values) for name, values in stages.items()}


def hnsw_against_exact(index: IndexData, encoder: Encoder, questions: list[str], depth: int) -> dict:
    """Recall of an HNSW index (the store's parameters) against exact search, and both search times."""
    vectors = np.stack([encoder.encode_query(q) for q in questions])
    exact = DenseIndex.build(index.chunk_vectors, exact_max=len(index.chunk_vectors))
    started = time.perf_counter()
    hnsw = DenseIndex.build(index.chunk_vectors, exact_max=0)
    build_seconds = time.perf_counter() - started
    found, times = {}, {}
    for name, dense in (("exact", exact), ("hnsw", hnsw)):
        rows, ms = [], []
        for vector in vectors:
            t = time.perf_counter()
            top = [row for row, _ in dense.search(vector, depth)]
            ms.append((time.perf_counter() - t) * 1000)
            rows.append(top)
        found[name], times[name] = rows, stats(ms)
    recall = {k: round(float(np.mean([len(set(h[:k]) & set(e[:k])) / k for h, e in zip(found["hnsw"], found["exact"])])), 4) for k in (1, 10, depth)}
    return {"hnsw_recall_vs_exact": recall, "search_ms": times, "hnsw_build_seconds": round(build_seconds, 2)}


def time_haystack(index: IndexData, encoder: Encoder, questions: list[str], gold: list[str | None], depth: int, k: int) -> dict:
    """The same questions through a Haystack 2.x pipeline: in-memory store, the same local model and
    the same chunk vectors, BM25 and embedding retrievers joined by reciprocal rank fusion, then its
    ExtractiveReader with our reader's weights on the k passages (as ours reads them)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from haystack import Document
    from haystack import Pipeline as HaystackPipeline
    from haystack.components.embedders import SentenceTransformersTextEmbedder
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    store = InMemoryDocumentStore()
    started = time.perf_counter()
    store.write_documents(
        [
            Document(
                id=c.id,
                content=embedded_text(index.articles[c.article_id], c, True),
                embedding=index.chunk_vectors[row].tolist(),
                meta={"article": c.article_id},
            )
            for row, c in enumerate(index.chunks)
        ]
    )
    write_seconds = time.perf_counter() - started
    pipeline = HaystackPipeline()
    embedder = SentenceTransformersTextEmbedder(model=str(packaged_model_path()), local_files_only=True, progress_bar=False, normalize_embeddings=True)
    pipeline.add_component("embedder", embedder)
    pipeline.add_component("bm25", InMemoryBM25Retriever(store, top_k=depth))
    pipeline.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=depth))
    pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=k))
    pipeline.connect("embedder.embedding", "dense.query_embedding")
    pipeline.connect("bm25", "joiner")
    pipeline.connect("dense", "joiner")
    with tempfile.TemporaryDirectory() as folder:  # the reader's weights, written out whole for Haystack
        pipeline.add_component("reader", haystack_extractive_reader(Path(folder)))
        pipeline.connect("joiner.documents", "reader.documents")
        pipeline.warm_up()

        def ask(question: str) -> dict:
            inputs = {"embedder": {"text": question}, "bm25": {"query": question}, "reader": {"query": question}}
            return pipeline.run(inputs, include_outputs_from={"joiner"})

        for warm in questions[:3]:
            ask(warm)
        ms, hits = [], []
        for question, doc in zip(questions, gold):
            t = time.perf_counter()
            result = ask(question)
            ms.append((time.perf_counter() - t) * 1000)
            documents = result["joiner"]["documents"]
            hits.append(float(bool(documents) and documents[0].meta["article"] == doc))
    return {"total": stats(ms), "recall@1": round(float(np.mean(hits)), 4), "write_seconds": round(write_seconds, 2), "questions": len(questions)}


def cmd_latency_size(args, settings: Settings, encoder: Encoder) -> dict:
    """One corpus size, in its own process so its peak RSS is its own."""
    squad = load_squad(SQUAD)
    sources = [cached_index(squad, settings, encoder), cached_index(load_beir(SCIFACT), settings, encoder)]
    rng = np.random.default_rng(args.seed)
    loaded_rss = peak_rss_mb()
    started = time.perf_counter()
    if args.exact_search:
        settings = settings.model_copy(update={"exact_search_max_chunks": max(args.size, settings.exact_search_max_chunks)})
    index, real = scaled_index(sources, args.size, rng, settings.exact_search_max_chunks)
    del sources  # the scaled index copied what it needs: their vectors are freed before the questions
    build_seconds = time.perf_counter() - started
    present = set(index.articles)
    items = [i for i in squad.select(None, None) if i.doc in present]
    items = [items[j] for j in sorted(rng.choice(len(items), min(args.questions, len(items)), replace=False))]
    questions = [i.question for i in items]
    encoders = variant_encoders(settings) if args.runtimes else {"configured": encoder}
    variants = variant_settings(settings) | {"configured": settings}
    record: dict[str, Any] = {
        "benchmark": "latency",
        "chunks": len(index.chunks),
        "real_vectors": real,
        "synthetic_vectors": len(index.chunks) - real,
        "synthetic": f"copies of real chunks, vectors + N(0, {SYNTHETIC_NOISE}) per dimension, renormalised" if len(index.chunks) > real else None,
        "dense_index": index.dense.kind,
        "exact_search_max_chunks": settings.exact_search_max_chunks,
        "questions": len(questions),
        "index_build_seconds_in_memory": round(build_seconds, 1),
        "reader": settings.reader,
        "k": settings.k,
        "read_passages": settings.read_passages,
        "stages_ms": {name: time_questions(index, variant_encoder, variants[name], questions) for name, variant_encoder in encoders.items()},
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_corpus_mb": loaded_rss,
    }
    if len(index.chunks) <= HNSW_COMPARED_MAX:  # building HNSW over a million vectors takes longer than the rest
        record["hnsw"] = hnsw_against_exact(index, encoder, questions[:100], settings.candidates)
    if args.milvus_uri:
        record["milvus"] = time_on_milvus(index, encoder, settings, questions, args.milvus_uri)
        if args.milvus_pid:
            record["milvus"]["server_memory_mb"] = process_memory_mb(args.milvus_pid)
    if args.haystack:
        record["haystack"] = time_haystack(index, encoder, questions[: args.haystack_questions], [i.doc for i in items], settings.candidates, settings.k)
        configured = next(n for n in encoders if (variants[n].runtime, variants[n].precision) == (settings.runtime, settings.precision))
        ours = record["stages_ms"][configured]["total"]["p50"]
        record["haystack"]["ratio_p50_haystack_over_ours"] = round(record["haystack"]["total"]["p50"] / ours, 2) if ours else None
        # Haystack's reader reads all k passages; ours, as configured, the best read_passages: the same work timed too
        every_passage = time_questions(index, encoder, settings.model_copy(update={"read_passages": settings.k}), questions)
        record["stages_ms"]["configured, every passage read"] = every_passage
        record["haystack"]["ratio_p50_haystack_over_ours_every_passage_read"] = round(record["haystack"]["total"]["p50"] / every_passage["total"]["p50"], 2)
    return record


def time_on_milvus(index: IndexData, encoder: Encoder, settings: Settings, questions: list[str], uri: str) -> dict:
    """The same corpus written into Milvus (rag/index/milvus_store.py) and the same questions asked of it, timed as
    time_questions times the embedded store; how often both put the same passage first. Dropped after."""
    from rag.index.milvus_store import MilvusStore

    with tempfile.TemporaryDirectory() as folder:
        store = MilvusStore(uri, f"bench_{len(index.chunks)}_{uuid.uuid4().hex[:8]}", Path(folder))
        try:
            started = time.perf_counter()
            store.save(store.prepare(index, settings))
            write_seconds = time.perf_counter() - started
            on_milvus = store.open(settings)
            stages = time_questions(on_milvus, encoder, settings, questions)
            ours, theirs = Retriever(index, encoder, settings), Retriever(on_milvus, encoder, settings)
            same = [ours.run(RetrievalRequest(query=q, k=1))[0].row == theirs.run(RetrievalRequest(query=q, k=1))[0].row for q in questions]
        finally:
            for name in store.client.list_collections():
                if name.startswith(f"{store.name}_"):
                    store.client.drop_collection(name)
    server = store.client.get_server_version()
    return {"server": f"{uri} ({server})", "write_seconds": round(write_seconds, 1), "stages_ms": stages, "same_top_passage": round(sum(same) / len(same), 3)}


def cmd_latency(args, settings: Settings, encoder: Encoder) -> list[dict]:
    """Each size in a child process (peak RSS per size); the child appends its own record."""
    for size in args.sizes:
        command = [sys.executable, "-m", "eval.benchmark", "latency-size", "--size", str(size), "--questions", str(args.questions)]
        command += ["--out", str(args.out), "--seed", str(args.seed)]
        command += ["--threads", str(args.threads)] if args.threads else []
        command += ["--reader", args.reader] + (["--runtimes"] if args.runtimes else [])
        command += ["--milvus-uri", args.milvus_uri] if args.milvus_uri and size <= args.milvus_max_size else []
        command += ["--milvus-pid", str(args.milvus_pid)] if args.milvus_pid else []
        command += ["--exact-search"] if args.exact_search else []
        if size in args.haystack_sizes:
            command += ["--haystack", "--haystack-questions", str(args.haystack_questions)]
        subprocess.run(command, check=True)
    return []


# ---- the span reader, stage by stage, against the sentence reader and Haystack's ExtractiveReader ----


def haystack_extractive_reader(folder: Path):
    """Haystack 2.x's ExtractiveReader on the very same weights (written out whole: it needs a plain folder)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from haystack.components.readers import ExtractiveReader

    from rag.query.reader_model import SHIPPED_READER, load_reader_model

    tokenizer, model = load_reader_model(SHIPPED_READER, packaged_model_path())
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    reader = ExtractiveReader(model=str(folder), top_k=1, no_answer=True, max_seq_length=256, stride=96, model_kwargs={"local_files_only": True})
    reader.warm_up()
    return reader


def cmd_reader(args, settings: Settings, encoder: Encoder) -> dict:
    """Per question over the first --paragraphs SQuAD v1.1 dev paragraphs: retrieval, then each reader on
    the same k passages, and the whole answer (retrieve + read) with each of our readers. Our span reader
    runs twice: as the product runs it (the best `read_passages` of the k) and on every one of the k, the
    work Haystack's reader does."""
    from haystack import Document

    from eval.metrics import f1_score

    squad = load_squad(SQUAD)
    bench = squad.model_copy(update={"name": f"squad-dev-{args.paragraphs}", "articles": squad.articles[: args.paragraphs]})
    present = {a.path for a in bench.articles}
    items = [i for i in squad.items if i.doc in present]
    rng = np.random.default_rng(args.seed)
    items = [items[j] for j in sorted(rng.choice(len(items), min(args.questions, len(items)), replace=False))]
    span_pipeline = bench.pipeline(settings.model_copy(update={"reader": "span"}), encoder=encoder, progress=True)
    every_passage_pipeline = bench.pipeline(settings.model_copy(update={"reader": "span", "read_passages": settings.k}), encoder=encoder)
    sentence_pipeline = bench.pipeline(settings.model_copy(update={"reader": "sentence"}), encoder=encoder)
    with tempfile.TemporaryDirectory() as folder:
        haystack = haystack_extractive_reader(Path(folder))
        for warm in items[:5]:
            passages = span_pipeline.retrieve(warm.question)
            for pipeline in (span_pipeline, every_passage_pipeline, sentence_pipeline):
                pipeline.answer(warm.question, passages)
        stage_names = ("retrieve", "span_reader", "span_reader_every_passage", "sentence_reader", "haystack_reader", "total_span", "total_sentence")
        stages: dict[str, list[float]] = {name: [] for name in stage_names}
        f1: dict[str, list[float]] = {"span_reader": [], "span_reader_every_passage": [], "haystack_reader": []}
        for item in items:
            encoder.encode_query.cache_clear()
            t0 = time.perf_counter()
            passages = span_pipeline.retrieve(item.question)
            t1 = time.perf_counter()
            ours = span_pipeline.answer(item.question, passages)
            t2 = time.perf_counter()
            sentence_pipeline.answer(item.question, passages)
            t3 = time.perf_counter()
            theirs = haystack.run(query=item.question, documents=[Document(content=p.chunk.text) for p in passages])["answers"]
            t4 = time.perf_counter()
            ours_every_passage = every_passage_pipeline.answer(item.question, passages)
            t5 = time.perf_counter()
            encoder.encode_query.cache_clear()
            t6 = time.perf_counter()
            sentence_pipeline.answer(item.question, sentence_pipeline.retrieve(item.question))
            t7 = time.perf_counter()
            laps = (
                ("retrieve", t1 - t0),
                ("span_reader", t2 - t1),
                ("sentence_reader", t3 - t2),
                ("haystack_reader", t4 - t3),
                ("span_reader_every_passage", t5 - t4),
                ("total_span", t2 - t0),
                ("total_sentence", t7 - t6),
            )
            for name, seconds in laps:
                stages[name].append(seconds * 1000)
            f1["span_reader"].append(f1_score(ours.span or "", item.answers))
            f1["span_reader_every_passage"].append(f1_score(ours_every_passage.span or "", item.answers))
            best = next((a for a in theirs if a.data), None)
            f1["haystack_reader"].append(f1_score(best.data if best else "", item.answers))
    timed = {name: stats(values) for name, values in stages.items()}
    return {
        "benchmark": "reader",
        "paragraphs": len(bench.articles),
        "questions": len(items),
        "k": settings.k,
        "read_passages": settings.read_passages,
        "stages_ms": timed,
        "ratio_p50_haystack_reader_over_span_reader": round(timed["haystack_reader"]["p50"] / timed["span_reader"]["p50"], 2),
        "ratio_p50_haystack_reader_over_span_reader_every_passage": round(timed["haystack_reader"]["p50"] / timed["span_reader_every_passage"]["p50"], 2),
        "span_f1_same_passages": {name: round(float(np.mean(v)), 4) for name, v in f1.items()},
        "note": "the span readers run the same weights on the same k passages (the product reads the best read_passages); f1 ignores abstention",
    }


COMMANDS = {
    "throughput": cmd_throughput,
    "sentences": cmd_sentences,
    "sentence-dtype": cmd_sentence_dtype,
    "latency": cmd_latency,
    "latency-size": cmd_latency_size,
    "reader": cmd_reader,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=list(COMMANDS))
    parser.add_argument("--out", type=Path, default=CACHE_DIR / "benchmarks.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paragraphs", type=int, default=300, help="throughput/reader: SQuAD paragraphs to chunk and embed")
    parser.add_argument("--limit", type=int, default=1000, help="sentences, sentence-dtype: questions")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="latency: corpus sizes in chunks")
    parser.add_argument("--size", type=int, default=1000, help="latency-size: one corpus size")
    parser.add_argument("--questions", type=int, default=200, help="latency/reader: questions (per size)")
    parser.add_argument("--haystack", action="store_true", help="latency-size: also time the Haystack pipeline")
    parser.add_argument("--runtimes", action="store_true", help="latency-size: time each variant (torch, OpenVINO f32, OpenVINO int8), not the configured one")
    parser.add_argument("--reader", choices=["span", "sentence"], default="span", help="latency: the reader timed")
    parser.add_argument("--haystack-sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--haystack-questions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="throughput: rounds, each runtime once a round")
    parser.add_argument("--threads", type=int, default=None, help="threads per network call (default: one per core)")
    parser.add_argument("--milvus-uri", default=None, help="latency: also write each corpus into this Milvus and time the same questions there")
    parser.add_argument("--milvus-max-size", type=int, default=100_000, help="latency: the largest corpus written into Milvus")
    parser.add_argument("--milvus-pid", type=int, default=None, help="latency: the local Milvus server's pid, to report its memory")
    parser.add_argument("--exact-search", action="store_true", help="latency: exact dense search at every size (HNSW above 200k is slow to build)")
    args = parser.parse_args()
    settings = Settings(runtime_threads=args.threads, reader=args.reader)
    encoder = Encoder.from_settings(settings)
    facts = machine()
    result = COMMANDS[args.command](args, settings, encoder)
    if isinstance(result, dict):
        emit({**result, "command": " ".join(["python -m eval.benchmark", *sys.argv[1:]]), "machine": facts}, args.out)


if __name__ == "__main__":
    main()
