"""Both stores behind rag/index/backend.py: the embedded folder and Milvus (a Milvus Lite server, conftest.milvus_uri)."""

import datetime as dt
import os
import re
import subprocess
import uuid

import pytest
from pymilvus import MilvusClient

from eval.crash_test import RAG
from rag.index.backend import Filters
from rag.index.milvus_store import MilvusStore, MilvusUnavailable
from rag.index.store import IndexCorrupt, IndexMissing
from rag.pipeline import Pipeline
from tests.helpers import SEED_FILE, start_milvus_lite
from ui.app import ask, chat_turn

QUESTIONS = [
    "Who published the 5G security report?",
    "What interest rate did the central bank keep?",
    "How many coastal roads did the storm close?",
    "What did Governor Maria Lopez say about inflation?",
    "Who called for an open environment for 5G?",
]


def _pipelines(fresh_pipeline, milvus_uri, collection):
    embedded = fresh_pipeline()
    embedded.index()
    milvus = Pipeline(
        embedded.settings.model_copy(update={"backend": "milvus", "milvus_uri": milvus_uri, "milvus_collection": collection}),
        corpus=embedded.corpus,
        encoder=embedded.encoder,
    )
    milvus.index()
    return embedded, milvus


def test_both_stores_rank_and_answer_alike(fresh_pipeline, milvus_uri):
    embedded, milvus = _pipelines(fresh_pipeline, milvus_uri, "test_alike")
    for question in QUESTIONS:
        for mode in ("hybrid", "dense", "bm25"):
            ours, theirs = embedded.search(question, k=8, retriever=mode), milvus.search(question, k=8, retriever=mode)
            assert [p.row for p in ours] == [p.row for p in theirs], (question, mode)
            assert [p.chunk for p in ours] == [p.chunk for p in theirs]
            if mode == "bm25":  # each store's own BM25 scale (Milvus multiplies by k1 + 1): only the ratios agree
                assert [p.score / theirs[0].score for p in theirs] == pytest.approx([p.score / ours[0].score for p in ours], abs=1e-5)
            else:
                assert [p.score for p in theirs] == pytest.approx([p.score for p in ours], abs=1e-5)
        a, b = embedded.ask(question), milvus.ask(question)
        assert (a.found, a.answer, a.span) == (b.found, b.answer, b.span)
        assert a.score == pytest.approx(b.score, abs=1e-4)
        assert [c.model_dump() for c in a.citations] == [c.model_dump() for c in b.citations]
    seed = milvus.ask(QUESTIONS[0])
    assert seed.found and "Promotion Group" in seed.answer and seed.citations[0].path.endswith(SEED_FILE)


def test_filters_admit_the_same_articles_on_both_stores(fresh_pipeline, backend):
    pipeline = fresh_pipeline(**backend)
    pipeline.index()
    titles = {a.id: a.title for a in pipeline.articles()}

    def found(**filters) -> set[str]:
        return {titles[p.article.id] for p in pipeline.retrieve("storm rain bank rate 5G report", k=10, filters=Filters(**filters))}

    assert found(since=dt.date(2022, 1, 1)) == {"Storm closes coastal roads"}
    assert found(until=dt.date(2020, 12, 31)) == {"China calls for open, equitable environment for 5G technology"}
    assert found(since=dt.date(2021, 1, 1), until=dt.date(2021, 12, 31)) == {"Central bank holds rates steady"}
    assert found(source="example wire") == {"Central bank holds rates steady"}
    assert found(source="COAST") == {"Storm closes coastal roads"}  # case-insensitive, a part of the source
    assert found(source="markets.md") == {"Central bank holds rates steady"}  # or of the path
    assert found(source="50% off") == set()  # no LIKE wildcard gets through
    storm = next(i for i, t in titles.items() if t.startswith("Storm"))
    assert found(articles=frozenset({storm})) == {"Storm closes coastal roads"}
    assert found(articles=frozenset()) == set()
    assert found(since=dt.date(2030, 1, 1)) == set()


def test_removing_a_file_takes_its_articles_out_of_either_store(fresh_pipeline, backend):
    pipeline = fresh_pipeline(**backend)
    pipeline.index()
    removal = pipeline.remove("markets.md")
    assert removal.report.removed == ["markets.md"]
    assert "Central bank holds rates steady" not in {a.title for a in pipeline.articles()}
    assert all(p.article.path != "markets.md" for p in pipeline.retrieve("central bank interest rate", k=10))


def _generations(store: MilvusStore) -> set[str]:
    return {name.rsplit("_", 1)[0] for name in store.client.list_collections() if re.fullmatch(rf"{store.name}_g\d{{8}}T\d+_\w{{6}}_\w+", name)}


def test_a_failed_milvus_update_leaves_the_served_collection_as_it_was(fresh_pipeline, milvus_uri, monkeypatch):
    pipeline = fresh_pipeline(backend="milvus", milvus_uri=milvus_uri, milvus_collection="test_failed_update")
    pipeline.index()
    store: MilvusStore = pipeline.store
    served = store.live_generation()
    before = pipeline.ask(QUESTIONS[0])
    (pipeline.corpus / "new.txt").write_text("New story\n\nThe mayor opened a bridge on Friday.", encoding="utf-8")

    inserts = 0
    real_insert = store.client.insert

    def dies_part_way(collection, rows, **kwargs):
        nonlocal inserts
        inserts += 1
        if inserts == 2:  # the chunks are in; the process dies before the sentences are
            raise KeyboardInterrupt
        return real_insert(collection, rows, **kwargs)

    monkeypatch.setattr(store.client, "insert", dies_part_way)
    with pytest.raises(KeyboardInterrupt):
        pipeline.index()
    monkeypatch.undo()
    assert store.live_generation() == served and _generations(store) == {served}  # what it wrote is dropped
    assert pipeline.ask(QUESTIONS[0]).answer == before.answer

    # A run killed outright leaves its collections behind: the next save drops them, and nothing of
    # another index whose name begins with this one's.
    store.client.create_collection(f"{store.name}_g20200101T000000000000_abcdef_chunks", dimension=4)
    neighbour = f"{store.name}_gx_g20200101T000000000000_abcdef_chunks"
    store.client.create_collection(neighbour, dimension=4)
    assert pipeline.index().saved
    assert _generations(store) == {store.live_generation()} != {served}
    assert store.client.has_collection(neighbour)
    store.client.drop_collection(neighbour)
    assert "New story" in {a.title for a in pipeline.articles()}


def _rag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RAG, *args], capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_an_unreachable_milvus_is_one_clear_line(tmp_path):
    (tmp_path / "a.txt").write_text("Title\n\nSome text about a harbour.", encoding="utf-8")
    result = _rag("ask", "What about the harbour?", "--corpus", str(tmp_path), "--milvus-uri", "http://127.0.0.1:9")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "cannot reach Milvus at http://127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_a_collection_that_is_no_rag_index_is_refused_by_name(tmp_path, milvus_uri):
    store = MilvusStore(milvus_uri, "someone_elses", tmp_path)
    if not store.client.has_collection("someone_elses"):
        store.client.create_collection("someone_elses", dimension=4)
    with pytest.raises(IndexCorrupt, match="someone_elses that is not a rag index"):
        store.live_generation()
    with pytest.raises(IndexMissing, match="run `rag index --backend milvus`"):
        MilvusStore(milvus_uri, "nothing_here", tmp_path).live_generation()


def test_a_milvus_that_dies_mid_question_is_one_clear_error(tmp_path, fresh_pipeline):
    server, uri = start_milvus_lite(tmp_path / "milvus")
    try:
        pipeline = fresh_pipeline(backend="milvus", milvus_uri=uri, milvus_collection="test_dies")
        pipeline.index()
        assert pipeline.ask(QUESTIONS[0]).found
    finally:
        server.kill()
        server.wait(timeout=30)
    with pytest.raises(MilvusUnavailable, match=f"^Milvus at {uri} failed while [^\n]*server unavailable$"):
        pipeline.ask(QUESTIONS[1])


def _release(uri: str, generation: str) -> None:
    """What a restarted Milvus (Lite) leaves: every collection of the index there, none loaded."""
    client = MilvusClient(uri=uri)
    for suffix in ("chunks", "sentences", "records"):
        client.release_collection(f"{generation}_{suffix}")


def test_after_milvus_restarts_the_index_is_loaded_again_and_answers(fresh_pipeline, milvus_uri, caplog):
    pipeline = fresh_pipeline(backend="milvus", milvus_uri=milvus_uri, milvus_collection=f"test_released_{uuid.uuid4().hex[:8]}")
    pipeline.index()
    before = pipeline.ask(QUESTIONS[0])
    generation = pipeline.store.live_generation()
    _release(milvus_uri, generation)
    pipeline.loaded().data.clear_cache()  # the chunks and sentences are fetched again, not read from the cache
    caplog.set_level("INFO", logger="rag.index.milvus_store")
    again = pipeline.ask(QUESTIONS[0])
    assert (again.found, again.answer, again.span, again.score) == (before.found, before.answer, before.span, before.score)
    reloads = [r.getMessage() for r in caplog.records if r.name == "rag.index.milvus_store"]
    assert reloads == [f"the index {generation} in Milvus at {milvus_uri} was not loaded (has the server restarted?): loading it again"]
    _release(milvus_uri, generation)  # and a server started after the restart opens it (its records are read first)
    started = Pipeline(pipeline.settings, corpus=pipeline.corpus, encoder=pipeline.encoder)
    assert started.ask(QUESTIONS[0]).answer == before.answer


def test_a_collection_that_will_not_load_is_one_clear_error_and_one_log_line_a_question(fresh_pipeline, milvus_uri, monkeypatch, caplog):
    pipeline = fresh_pipeline(backend="milvus", milvus_uri=milvus_uri, milvus_collection=f"test_unloadable_{uuid.uuid4().hex[:8]}")
    pipeline.index()
    pipeline.loaded()
    generation = pipeline.store.live_generation()
    _release(milvus_uri, generation)
    monkeypatch.setattr(pipeline.store.client, "load_collection", lambda name, **kwargs: None)  # as a server that cannot load it
    said = f"^Milvus at {milvus_uri} failed while answering: {generation}_chunks is not loaded, and loading it again did not help"
    with pytest.raises(MilvusUnavailable, match=said):
        pipeline.ask(QUESTIONS[0])
    caplog.set_level("INFO", logger="ui.app")
    _, chat, _, _ = list(chat_turn(pipeline, QUESTIONS[0], [], [], 5, "hybrid", None, None, ""))[-1]
    assert "loading it again did not help" in chat[-1]["content"]
    with pytest.raises(MilvusUnavailable):
        ask(pipeline, QUESTIONS[1])
    failed = [r for r in caplog.records if r.name == "ui.app"]
    assert [r.getMessage().split(": ", 1)[0] for r in failed] == [f"failed {QUESTIONS[0]!r}", f"failed {QUESTIONS[1]!r}"]
    assert all(r.levelname == "ERROR" and r.exc_info is None and "\n" not in r.getMessage() for r in failed)


@pytest.mark.skipif(not os.environ.get("RAG_MILVUS_TEST_URI"), reason="set RAG_MILVUS_TEST_URI to a Milvus server (Standalone or cluster) to run")
def test_a_real_milvus_server_ranks_and_answers_as_the_embedded_store(fresh_pipeline):
    test_both_stores_rank_and_answer_alike(fresh_pipeline, os.environ["RAG_MILVUS_TEST_URI"])
