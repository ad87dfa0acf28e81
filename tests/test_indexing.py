def test_second_run_embeds_nothing(fresh_pipeline):
    pipeline = fresh_pipeline()
    first = pipeline.index()
    assert first.saved and first.embedded_chunks == first.chunks > 0
    again = pipeline.index()
    assert not again.saved and again.embedded_chunks == 0
    assert "nothing embedded" in again.summary_lines()[0]


def test_changed_added_and_deleted_files(fresh_pipeline):
    pipeline = fresh_pipeline()
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


def test_chunking_change_rebuilds_with_a_reason(fresh_pipeline, settings, encoder):
    from rag.pipeline import Pipeline

    pipeline = fresh_pipeline(extra=False)
    pipeline.index()
    smaller = Pipeline(settings.model_copy(update={"chunk_words": 60}), corpus=pipeline.corpus, encoder=encoder)
    report = smaller.index()
    assert "chunking settings changed" in report.rebuild_reason
    assert report.reused_chunks == 0 and report.chunks > 4


def test_bad_files_are_listed_in_the_summary(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False)
    (pipeline.corpus / "empty.txt").write_text("", encoding="utf-8")
    report = pipeline.index()
    assert report.articles == 1
    assert any("empty.txt: empty file" in line for line in report.summary_lines())
