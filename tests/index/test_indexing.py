import hashlib
import subprocess
import sys
import time

import numpy as np
import pytest

from eval.crash_test import MAYORS, QUESTION, RAG, write_corpus
from rag.pipeline import Pipeline


def test_second_run_embeds_nothing(fresh_pipeline, backend):
    pipeline = fresh_pipeline(**backend)
    first = pipeline.index()
    assert first.saved and first.embedded_chunks == first.chunks > 0
    again = pipeline.index()
    assert not again.saved and again.embedded_chunks == 0
    assert "nothing embedded" in again.summary_lines()[0]


def test_changed_added_and_deleted_files(fresh_pipeline, backend):
    pipeline = fresh_pipeline(**backend)
    before = pipeline.index()
    corpus = pipeline.corpus
    (corpus / "storm.json").write_text('{"title": "Storm", "text": "A new storm report. Winds reached 100 km/h."}', encoding="utf-8")
    (corpus / "markets.md").unlink()
    (corpus / "new.txt").write_text("New story\n\nThe mayor opened a bridge on Friday.", encoding="utf-8")
    report = pipeline.index()
    assert report.changed == ["storm.json"] and report.removed == ["markets.md"] and report.added == ["new.txt"]
    seed_chunks = before.chunks - 2  # the two small articles are one chunk each
    assert report.reused_chunks == seed_chunks
    assert report.embedded_chunks == 2
    titles = {a.title for a in pipeline.store.load().articles.values()}
    assert titles == {"China calls for open, equitable environment for 5G technology", "Storm", "New story"}


def test_chunking_change_rebuilds_with_a_reason(fresh_pipeline, settings, encoder, backend):
    pipeline = fresh_pipeline(extra=False, **backend)
    pipeline.index()
    smaller = Pipeline(settings.model_copy(update={"chunk_words": 60, **backend}), corpus=pipeline.corpus, encoder=encoder)
    report = smaller.index()
    assert "chunking settings changed" in report.rebuild_reason
    assert report.reused_chunks == 0 and report.chunks > 4


def test_bad_files_are_listed_in_the_summary(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False)
    (pipeline.corpus / "empty.txt").write_text("", encoding="utf-8")
    report = pipeline.index()
    assert report.articles == 1
    assert any("empty.txt: empty file" in line for line in report.summary_lines())


def test_questions_during_a_reindex_are_answered_from_the_old_index_until_the_switch(tmp_path, settings, encoder):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, articles=40, version=0)
    serving = Pipeline(settings, corpus=corpus, encoder=encoder)
    serving.index()
    old = serving.store.current_generation().name
    write_corpus(corpus, articles=40, version=1)
    indexer = subprocess.Popen([RAG, "index", str(corpus)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    asked = []  # (CURRENT before, answer, CURRENT after, indexer still running)
    while True:
        running = indexer.poll() is None
        before = serving.store.current_generation().name
        answer = serving.ask(QUESTION)
        asked.append((before, answer.span, serving.store.current_generation().name, running))
        if not running:
            break
        time.sleep(0.05)  # a visitor's pace; leaves the CPU to the indexer
    assert indexer.returncode == 0, indexer.stderr.read()
    new = serving.store.current_generation().name
    assert new != old
    for before, span, after, _ in asked:
        if before == after:
            assert span == MAYORS[before == new], asked
    assert any(running and before == old for before, _, _, running in asked)  # asked while the indexer ran
    spans = [span for _, span, _, _ in asked]
    switch = spans.index(MAYORS[1])
    assert set(spans[:switch]) == {MAYORS[0]} and set(spans[switch:]) == {MAYORS[1]}  # never back to the old one


def test_a_rebuild_reports_changes_against_the_index_it_replaces(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    report = pipeline.index(rebuild=True)
    assert report.rebuild_reason == "--rebuild asked for"
    assert (report.added, report.changed, report.removed) == ([], [], [])
    assert report.embedded_chunks == report.chunks


# Rewrites a file in place, over and over, with the same bytes: truncated, half written, then whole.
RACING_WRITER = """
import sys, time
path, content = sys.argv[1], open(sys.argv[2], "rb").read()
while True:
    with open(path, "wb") as handle:
        time.sleep(0.001)
        handle.write(content[: len(content) // 2])
        handle.flush()
        time.sleep(0.001)
        handle.write(content[len(content) // 2 :])
    time.sleep(0.001)
"""


def test_a_file_rewritten_while_it_is_indexed_is_never_recorded_as_current_with_other_content(fresh_pipeline, tmp_path):
    pipeline = fresh_pipeline()
    raced = pipeline.corpus / "zz_raced.txt"  # sorted last: read after the other files, well into each run
    content = ("Harbour report\n\n" + "".join(f"Boat {n} came into the harbour with {n * 3} crates of fish. " for n in range(60))).encode()
    raced.write_bytes(content)
    pipeline.index()
    # sha256 of each state the writer leaves the file in -> (its name, the article texts the loader makes of it)
    states = {}
    for name, state in (("empty", b""), ("half-written", content[: len(content) // 2]), ("whole", content)):
        sample = tmp_path / "sample"
        sample.mkdir(exist_ok=True)
        (sample / raced.name).write_bytes(state)
        states[hashlib.sha256(state).hexdigest()] = (name, [a.text for a in pipeline.loader.load_folder(sample).articles])
    source = tmp_path / "content.txt"
    source.write_bytes(content)
    writer = subprocess.Popen([sys.executable, "-c", RACING_WRITER, str(raced), str(source)])
    recorded = []
    try:
        for _ in range(40):
            pipeline.index()
            recorded_hash = pipeline.store.read_manifest().files[raced.name]
            indexed = [a.text for a in pipeline.loaded().data.articles.values() if a.path == raced.name]
            state, texts = states[recorded_hash]
            assert indexed == texts, (
                f"run {len(recorded) + 1}: the manifest records the file {state}, but the index holds "
                f"{[len(text) for text in indexed]} characters of it instead of {[len(text) for text in texts]}"
            )
            recorded.append(recorded_hash)
    finally:
        writer.kill()
        writer.wait()
    raced.write_bytes(content)
    assert len(set(recorded)) > 1, "the writer never caught the indexer mid-write; the race was not exercised"
    pipeline.ensure_index()  # a half-read file was recorded as such: it is read again now, whole
    assert [a.text for a in pipeline.loaded().data.articles.values() if a.path == raced.name] == states[hashlib.sha256(content).hexdigest()][1]


class EncoderThatDies:
    """The real encoder, until its `fail_on`-th batch of chunks: a run that dies part way (killed, out of memory)."""

    def __init__(self, encoder, fail_on: int):
        self.encoder, self.fail_on, self.calls = encoder, fail_on, 0

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode_chunks(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_on:
            raise MemoryError("killed part way")
        return self.encoder.encode_chunks(*args, **kwargs)


def die_part_way(pipeline: Pipeline, rebuild: bool = False) -> None:
    with pytest.raises(MemoryError):
        pipeline.index(rebuild=rebuild)


def saved_progress(corpus):
    return sorted((corpus / ".rag-index").glob(".partial-*/batch-*.npz"))


def test_a_run_that_dies_part_way_resumes_with_the_vectors_it_had_embedded(tmp_path, settings, encoder):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, articles=12, version=0)
    batched = settings.model_copy(update={"index_progress_chunks": 4})
    dying = Pipeline(batched, corpus=corpus, encoder=EncoderThatDies(encoder, fail_on=3))
    die_part_way(dying)
    assert not dying.store.exists()  # nothing half-built was saved as the index
    assert len(saved_progress(corpus)) == 2

    resumed_pipeline = Pipeline(batched, corpus=corpus, encoder=encoder)
    resumed = resumed_pipeline.index()
    assert resumed.saved and resumed.articles == 13
    assert resumed.resumed_chunks >= 8  # two whole batches of at least 4 chunks each
    assert resumed.embedded_chunks == resumed.chunks - resumed.resumed_chunks
    assert f"resumed: {resumed.resumed_chunks} chunks were embedded by an earlier run that did not finish" in resumed.summary_lines()
    assert saved_progress(corpus) == []  # removed once the index is saved

    whole = Pipeline(settings, corpus=corpus, index_path=tmp_path / "whole", encoder=encoder)
    whole.index()
    expected, got = whole.store.load(), resumed_pipeline.store.load()
    assert [c.id for c in got.chunks] == [c.id for c in expected.chunks]
    # The vectors of one uninterrupted run (batch padding moves only the last float bits; sentence vectors are float16).
    assert np.allclose(got.chunk_vectors, expected.chunk_vectors, atol=1e-5)
    assert np.allclose(got.sentence_vectors, expected.sentence_vectors, atol=1e-3)


def test_damaged_progress_or_progress_of_other_settings_is_never_reused(tmp_path, settings, encoder):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, articles=6, version=0)
    batched = settings.model_copy(update={"index_progress_chunks": 2})
    die_part_way(Pipeline(batched, corpus=corpus, encoder=EncoderThatDies(encoder, fail_on=3)))
    damaged, intact = saved_progress(corpus)
    damaged.write_bytes(damaged.read_bytes()[:100])  # cut short: its articles are embedded again
    with np.load(intact) as batch:
        intact_chunks = int(batch["chunk_counts"].sum())
    assert Pipeline(batched, corpus=corpus, encoder=encoder).index().resumed_chunks == intact_chunks

    die_part_way(Pipeline(batched, corpus=corpus, encoder=EncoderThatDies(encoder, fail_on=3)), rebuild=True)
    assert saved_progress(corpus)
    rechunked = Pipeline(batched.model_copy(update={"chunk_words": 60}), corpus=corpus, encoder=encoder).index()
    assert rechunked.saved and rechunked.resumed_chunks == 0
    assert saved_progress(corpus) == []
