import os
import threading

import pytest

from rag.store import CURRENT, IndexCorrupt, IndexLocked, IndexMissing, IndexStore


def test_missing_index_says_run_rag_index(tmp_path):
    with pytest.raises(IndexMissing, match="rag index"):
        IndexStore(tmp_path / "idx").load()


def test_round_trip_keeps_everything(news_pipeline):
    data = news_pipeline.store.load()
    assert data.manifest.articles == len(data.articles) == 3
    assert data.chunk_vectors.shape == (len(data.chunks), 384)
    assert data.dense.ntotal == len(data.chunks)
    assert data.manifest.model_path.endswith("model")
    assert (news_pipeline.store.path / CURRENT).read_text().startswith("gen-")


def test_save_is_a_new_generation_and_leaves_no_temporary_files(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    first = pipeline.store.current_generation()
    (pipeline.store.path / ".tmp-leftover").mkdir()  # as a killed save would leave it
    pipeline.index(rebuild=True)
    second = pipeline.store.current_generation()
    assert first != second and not first.exists()
    names = sorted(p.name for p in pipeline.store.path.iterdir())
    assert names == sorted([CURRENT, "lock", second.name])


@pytest.mark.parametrize("damaged", ["chunk_vectors.npy", "dense.faiss", "chunks.jsonl", "manifest.json"])
def test_a_damaged_file_is_named_with_the_fix(fresh_pipeline, damaged):
    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    target = pipeline.store.current_generation() / damaged
    target.write_bytes(target.read_bytes()[: max(1, target.stat().st_size // 3)])
    with pytest.raises(IndexCorrupt) as error:
        pipeline.store.load()
    assert "rag index --rebuild" in str(error.value)
    assert damaged in str(error.value) or "inconsistent" in str(error.value)


def test_a_second_writer_is_refused_with_the_owner_pid(tmp_path):
    store = IndexStore(tmp_path / "idx")
    inside = threading.Event()
    release = threading.Event()

    def hold():
        with store.lock():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(5)
    try:
        # flock locks belong to open files: a second open in this process conflicts like another process would
        with pytest.raises(IndexLocked, match=f"pid {os.getpid()}"):
            with store.lock():
                pass
    finally:
        release.set()
        holder.join()
    with store.lock():  # released: the next writer gets it
        pass
