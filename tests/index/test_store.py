import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from eval.crash_test import RAG
from rag.config import INDEX_FORMAT_VERSION
from rag.index.dense import DenseIndex
from rag.index.lexical import LexicalIndex
from rag.index.store import (
    CURRENT,
    DATA_FILES,
    LOCK,
    MANIFEST,
    MARKER,
    IndexCorrupt,
    IndexData,
    IndexIncompatible,
    IndexLocked,
    IndexMissing,
    IndexStore,
    IndexUnwritable,
    Manifest,
    NotAnIndexFolder,
)
from rag.pipeline import Pipeline
from rag.schema import Article, Chunk
from tests.helpers import PERMISSIONS_TESTABLE, UNPRIVILEGED, make_corpus


def test_missing_index_says_run_rag_index(tmp_path):
    with pytest.raises(IndexMissing, match="rag index"):
        IndexStore(tmp_path / "idx").load()


def test_round_trip_keeps_everything(news_pipeline):
    data = news_pipeline.store.load()
    assert data.manifest.articles == len(data.articles) == 3
    assert data.chunk_vectors.shape == (len(data.chunks), 384)
    assert data.dense.size == len(data.chunks)
    assert data.manifest.model_path.endswith("model")
    assert (news_pipeline.store.path / CURRENT).read_text().startswith("gen-")


# Any text but lone surrogates (no file decodes to them), with the characters str.splitlines() breaks on made common.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
ANY_TEXT = st.text(st.one_of(st.sampled_from(LINE_BREAKS), st.characters(blacklist_categories=("Cs",))), min_size=1)


def one_article_index(article: Article) -> IndexData:
    """A whole index of one article in one chunk, with tiny vectors: what the store writes, without a model."""
    chunk = Chunk(id="c0", article_id=article.id, text=article.text, start=0, end=len(article.text), sentences=[(0, len(article.text))])
    vectors = np.ones((1, 4), dtype=np.float32) / 2
    manifest = Manifest(
        format_version=INDEX_FORMAT_VERSION,
        model="m",
        model_path="m",
        dimension=4,
        chunk_words=120,
        chunk_overlap_sentences=1,
        title_in_chunks=True,
        dense_index="flat",
        corpus="c",
        files={},
        article_hashes={},
        articles=1,
        chunks=1,
        built_at=dt.datetime.now(dt.UTC),
        build_seconds=0.0,
    )
    return IndexData(
        manifest=manifest,
        articles={article.id: article},
        chunks=[chunk],
        chunk_vectors=vectors,
        sentence_vectors=vectors,
        dense=DenseIndex.build(vectors, 10),
        lexical=LexicalIndex.build([["word"]]),
    )


@hypothesis_settings(max_examples=40, deadline=None)
@given(text=ANY_TEXT, title=ANY_TEXT, source=st.none() | ANY_TEXT)
def test_whatever_characters_an_article_holds_survive_a_save_and_a_load(text, title, source):
    article = Article(id="a0", title=title, path="a.txt", text=text, byline=source, source=source)
    with tempfile.TemporaryDirectory() as folder:
        store = IndexStore(Path(folder) / "index")
        saved = one_article_index(article)
        store.save(saved)
        loaded = store.load()
    assert loaded.articles == saved.articles and loaded.chunks == saved.chunks


ARTICLE = Article(id="a0", title="Harbour", path="a.txt", text="The harbour reopened on Monday.")


def _locked(store: IndexStore) -> None:
    with store.lock():
        pass


def test_a_store_writes_into_no_folder_of_other_files_and_removes_nothing_there(tmp_path):
    folder = tmp_path / "papers"
    (folder / "gen-2020").mkdir(parents=True)  # named like a generation and like a save's leftover
    (folder / "gen-2020" / "notes.txt").write_text("minutes", encoding="utf-8")
    (folder / ".tmp-draft").write_text("draft", encoding="utf-8")
    store = IndexStore(folder)
    for write in (lambda: store.save(one_article_index(ARTICLE)), store.remove_stale, lambda: _locked(store)):
        with pytest.raises(NotAnIndexFolder, match=f"^the index folder {re.escape(str(folder))} holds files but is not a rag index; nothing in it was changed"):
            write()
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [".tmp-draft", "gen-2020", "gen-2020/notes.txt"]
    (tmp_path / "a-file").write_text("text", encoding="utf-8")
    with pytest.raises(NotAnIndexFolder, match="is a file, not a folder"):
        IndexStore(tmp_path / "a-file").save(one_article_index(ARTICLE))


def test_an_index_saved_before_the_marker_existed_is_claimed_and_updated(tmp_path):
    store = IndexStore(tmp_path / "index")
    first = store.save(one_article_index(ARTICLE))
    (store.path / MARKER).unlink()  # as an earlier version left it
    assert store.load().articles == {"a0": ARTICLE}
    second = store.save(one_article_index(ARTICLE.model_copy(update={"text": "The harbour closed on Tuesday."})))
    assert sorted(p.name for p in store.path.iterdir()) == sorted([CURRENT, MARKER, second]) and first != second
    assert store.load().articles["a0"].text == "The harbour closed on Tuesday."


@pytest.mark.parametrize("lock, ours", [(b"4242\n", True), (b"my notes", False)], ids=["an earlier writer's lock", "a file named lock"])
def test_a_folder_of_an_earlier_writers_lock_and_progress_only_is_claimed(tmp_path, lock, ours):
    """All a Milvus index keeps in its folder, or what a first run that never saved left: no CURRENT to tell it by."""
    folder = tmp_path / "index"
    (folder / ".partial-0123456789abcdef").mkdir(parents=True)
    (folder / LOCK).write_bytes(lock)
    if ours:
        _locked(IndexStore(folder))
        assert (folder / MARKER).is_file()
    else:
        with pytest.raises(NotAnIndexFolder, match="holds files but is not a rag index"):
            _locked(IndexStore(folder))
        assert sorted(p.name for p in folder.iterdir()) == [".partial-0123456789abcdef", LOCK] and (folder / LOCK).read_bytes() == lock


def test_save_is_a_new_generation_and_leaves_no_temporary_files(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    first = pipeline.store.current_generation()
    (pipeline.store.path / ".tmp-leftover").mkdir()  # as a killed save would leave it
    pipeline.index(rebuild=True)
    second = pipeline.store.current_generation()
    assert first != second and not first.exists()
    names = sorted(p.name for p in pipeline.store.path.iterdir())
    assert names == sorted([CURRENT, MARKER, "lock", second.name])


@pytest.fixture(scope="module")
def built_index(tmp_path_factory, settings, encoder):
    """An index of the seed article, built once; tests damage copies of it."""
    pipeline = Pipeline(settings, corpus=make_corpus(tmp_path_factory.mktemp("built"), extra=False), encoder=encoder)
    pipeline.index()
    return pipeline.store.path


def copy_of(index: Path, tmp_path: Path) -> IndexStore:
    shutil.copytree(index, tmp_path / "index")
    return IndexStore(tmp_path / "index")


def _flip_middle_byte(raw: bytes) -> bytes:
    middle = len(raw) // 2
    return raw[:middle] + bytes([raw[middle] ^ 0x01]) + raw[middle + 1 :]


DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "one byte flipped": _flip_middle_byte,
    "emptied": lambda raw: b"",
}


@pytest.mark.parametrize("damage", [*DAMAGE, "deleted"])
def test_every_damaged_or_missing_index_file_is_named_with_the_fix(built_index, tmp_path, settings, damage):
    generation = IndexStore(built_index).current_generation()
    names = sorted(p.relative_to(generation).as_posix() for p in generation.rglob("*") if p.is_file())
    assert len(names) >= len(DATA_FILES) + 3  # the manifest and at least two bm25 files
    for name in names:
        if name == MANIFEST and damage == "one byte flipped":
            continue  # the manifest is checked by parsing it: a flipped byte in a date or a count is not damage it can see
        store = copy_of(built_index, tmp_path / name.replace("/", "_"))
        target = store.current_generation() / name
        if damage == "deleted":
            target.unlink()
        else:
            target.write_bytes(DAMAGE[damage](target.read_bytes()))
        with pytest.raises(IndexCorrupt) as error:
            store.load(settings)
        expected = "is missing;" if damage == "deleted" else "is damaged ("
        assert str(error.value).startswith(f"index file {target} {expected}"), (name, str(error.value))
        assert str(error.value).endswith("run `rag index --rebuild`") and "\n" not in str(error.value)


def _edit_manifest(store: IndexStore, **fields) -> None:
    path = store.current_generation() / MANIFEST
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


@pytest.mark.parametrize(
    "change, error, message",
    [
        (
            lambda store: _edit_manifest(store, format_version=1),
            IndexIncompatible,
            "was written by another version of rag (format 1; this version reads format {version}); run `rag index --rebuild`",
        ),
        (
            lambda store: _edit_manifest(store, model_path="/models/other-model"),
            IndexIncompatible,
            "does not fit the current settings: embedding model changed (/models/other-model -> {model}); run `rag index --rebuild`",
        ),
        (
            lambda store: _edit_manifest(store, chunk_words=60),
            IndexIncompatible,
            "does not fit the current settings: chunking settings changed (words, overlap, title: (60, 1, True) -> (120, 1, True))",
        ),
        (
            lambda store: _edit_manifest(store, precision="f32"),
            IndexIncompatible,
            "does not fit the current settings: embedding precision changed (f32 -> int8)",
        ),
        (
            lambda store: (store.path / CURRENT).write_text("gen-gone"),
            IndexCorrupt,
            "names no index folder ('gen-gone'); run `rag index --rebuild`",
        ),
    ],
    ids=["another version", "another model", "other chunking", "other precision", "pointer to nothing"],
)
def test_an_index_from_another_version_or_model_says_what_and_the_fix(built_index, tmp_path, settings, change, error, message):
    store = copy_of(built_index, tmp_path)
    change(store)
    with pytest.raises(error) as raised:
        store.load(settings)
    assert message.format(version=INDEX_FORMAT_VERSION, model=settings.resolved_model_path()) in str(raised.value)


def test_rag_ask_on_a_damaged_index_is_one_line_and_rag_index_rebuilds_it(built_index, tmp_path, settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(built_index.parent, corpus)
    damaged = IndexStore(corpus / ".rag-index").current_generation() / "dense.faiss"
    damaged.write_bytes(_flip_middle_byte(damaged.read_bytes()))
    ask = subprocess.run([RAG, "ask", "Who is the spokesperson?", "--corpus", str(corpus)], capture_output=True, text=True, timeout=300)
    assert ask.returncode == 1
    assert ask.stderr.strip() == (f"rag: error: index file {damaged} is damaged (its checksum does not match the manifest); run `rag index --rebuild`")
    index = subprocess.run([RAG, "index", str(corpus)], capture_output=True, text=True, timeout=300)
    assert index.returncode == 0, index.stderr
    assert index.stdout.startswith(f"rebuilding the whole index: the previous index is unusable: index file {damaged} is damaged")
    assert IndexStore(corpus / ".rag-index").load(settings).manifest.articles == 1


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


@pytest.mark.skipif(not PERMISSIONS_TESTABLE, reason="running as root without setpriv: every folder is writable")
def test_a_save_that_cannot_write_keeps_the_previous_index(built_index, tmp_path, settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(built_index.parent, corpus)
    (corpus / "new.txt").write_text("Bridge reopens\n\nThe old bridge reopened on Monday.", encoding="utf-8")
    index = corpus / ".rag-index"
    index.chmod(0o555)  # the new generation cannot be written beside the old one
    try:
        result = subprocess.run([*UNPRIVILEGED, RAG, "index", str(corpus)], capture_output=True, text=True, timeout=300)
    finally:
        index.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr.strip() == f"rag: error: index folder {index} is read-only (permission denied); the previous index is kept"
    assert IndexStore(index).load(settings).manifest.articles == 1


@pytest.mark.skipif(not PERMISSIONS_TESTABLE, reason="running as root without setpriv: every folder is writable")
def test_rag_ask_on_a_read_only_index_answers_from_it_with_a_warning(built_index, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(built_index.parent, corpus)
    (corpus / "new.txt").write_text("Bridge reopens\n\nThe old bridge reopened on Monday.", encoding="utf-8")
    index = corpus / ".rag-index"
    index.chmod(0o555)
    try:
        result = subprocess.run(
            [*UNPRIVILEGED, RAG, "ask", "Who is the Foreign Ministry spokesperson?", "--corpus", str(corpus)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        index.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (f"index left as it was: index folder {index} is read-only (permission denied); answering from it until it can be updated\n")
    assert "Hua Chunying" in result.stdout


def test_a_full_disk_is_named_with_the_space_free_and_needed(built_index, tmp_path, settings, monkeypatch):
    store = copy_of(built_index, tmp_path)
    generation = store.current_generation()
    on_disk = sum(p.stat().st_size for p in generation.rglob("*") if p.is_file())

    def numpy_out_of_space(path, contents):
        raise OSError("2507520 requested and 540640 written")  # numpy's words for a full disk, without an errno

    monkeypatch.setattr("rag.index.store._write", numpy_out_of_space)
    monkeypatch.setattr("rag.index.store.shutil.disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 10_000, 10_000))
    with pytest.raises(IndexUnwritable) as raised:
        store.save(store.load(settings))
    free, needed = re.fullmatch(rf"disk full: (\S+) MB free, (\S+) MB needed \(index folder {re.escape(str(store.path))}\)", raised.value.cause).groups()
    assert free == "0.01" and 0.5 < float(needed) * 1e6 / on_disk < 2  # the estimate is near what a generation takes
    assert str(raised.value) == f"{raised.value.cause}; the previous index is kept"
    assert store.current_generation() == generation and [p.name for p in store.path.iterdir() if p.name.startswith(".tmp-")] == []
