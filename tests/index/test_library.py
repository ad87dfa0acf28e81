"""The library outside the checkout (rag/index/library.py): the shipped articles copied, uploads beside them."""

from __future__ import annotations

import os

import pytest

from rag.index.library import SHIPPED_SEEDS, Library, LibraryError
from tests.helpers import SEED_FILE
from ui.uploads import add_uploads


def snapshot(folder):
    """Every path below folder with its size and modification time."""
    return {
        (os.path.relpath(os.path.join(root, name), folder), os.stat(os.path.join(root, name)).st_size, os.stat(os.path.join(root, name)).st_mtime_ns)
        for root, _, names in os.walk(folder)
        for name in names
    }


def test_refresh_copies_new_and_changed_articles_and_drops_removed_ones(tmp_path):
    seeds = tmp_path / "seeds"
    (seeds / "world").mkdir(parents=True)
    (seeds / "a.txt").write_text("Title A\n\nBody A.", encoding="utf-8")
    (seeds / "world" / "b.md").write_text("# B\n\nBody B.", encoding="utf-8")
    (seeds / ".rag-index").mkdir()
    (seeds / ".rag-index" / "CURRENT").write_text("gen-1", encoding="utf-8")
    library = Library(tmp_path / "data", seeds)
    library.refresh()
    copies = library.folder / "seeds"
    assert sorted(p.relative_to(copies).as_posix() for p in copies.rglob("*") if p.is_file()) == ["a.txt", "world/b.md"]
    (library.folder / "uploads").mkdir()
    (library.folder / "uploads" / "mine.txt").write_text("Mine\n\nMy upload.", encoding="utf-8")

    (seeds / "world" / "b.md").write_text("# B\n\nBody B, corrected.", encoding="utf-8")
    (seeds / "a.txt").unlink()
    (seeds / "c.txt").write_text("Title C\n\nBody C.", encoding="utf-8")
    library.refresh()
    assert sorted(p.relative_to(copies).as_posix() for p in copies.rglob("*") if p.is_file()) == ["c.txt", "world/b.md"]
    assert (copies / "world" / "b.md").read_text(encoding="utf-8").endswith("corrected.")
    assert (library.folder / "uploads" / "mine.txt").is_file()
    unchanged = (copies / "c.txt").stat()
    library.refresh()
    assert ((copies / "c.txt").stat().st_ino, (copies / "c.txt").stat().st_mtime_ns) == (unchanged.st_ino, unchanged.st_mtime_ns)
    assert not list(library.folder.rglob(".*.partial"))


def test_an_unwritable_data_folder_is_one_line_naming_it_and_the_setting(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(LibraryError, match=r"cannot prepare the article library in .*not-a-folder/library .*RAG_DATA_DIR"):
        Library(blocker).refresh()


def test_the_default_corpus_is_the_library_and_uploads_never_touch_the_checkout(tmp_path, settings, encoder):
    from rag.pipeline import Pipeline

    before = snapshot(SHIPPED_SEEDS)
    pipeline = Pipeline(settings.model_copy(update={"data_dir": tmp_path / "data"}), encoder=encoder)
    assert pipeline.corpus == tmp_path / "data" / "library"
    pipeline.ensure_index()
    assert pipeline.status().articles == 1
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday after repairs.", encoding="utf-8")
    outcomes, _ = add_uploads(pipeline, [incoming / "harbour.txt"])
    assert outcomes[0].stored == "uploads/harbour.txt" and (pipeline.corpus / "uploads" / "harbour.txt").is_file()
    assert pipeline.status().articles == 2
    answer = pipeline.ask("Who is the Foreign Ministry spokesperson?")
    assert answer.found and answer.citations[0].path.endswith(f"library/seeds/{SEED_FILE}")
    assert snapshot(SHIPPED_SEEDS) == before


def test_removing_a_file_takes_its_articles_out_keeps_the_file_and_a_shipped_one_stays_out(tmp_path, settings, encoder):
    from rag.pipeline import Pipeline

    before = snapshot(SHIPPED_SEEDS)
    pipeline = Pipeline(settings.model_copy(update={"data_dir": tmp_path / "data"}), encoder=encoder)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "harbour.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday after repairs.", encoding="utf-8")
    pipeline.ensure_index()
    add_uploads(pipeline, [incoming / "harbour.txt"])
    assert pipeline.status().articles == 2

    removal = pipeline.remove("uploads/harbour.txt")
    assert removal.titles == ["Harbour reopens"] and pipeline.status().articles == 1
    assert (pipeline.corpus / ".removed" / "uploads" / "harbour.txt").is_file() and "can be restored" in removal.summary()
    assert not pipeline.ask("When did the harbour reopen?").found or "harbour" not in pipeline.ask("When did the harbour reopen?").answer

    restored = pipeline.restore("uploads/harbour.txt")  # the undo: the file back, its article indexed again
    assert restored.restored and restored.titles == ["Harbour reopens"] and pipeline.status().articles == 2
    assert restored.summary() == "restored uploads/harbour.txt (“Harbour reopens”) to the index"
    assert "Monday" in (pipeline.ask("When did the harbour reopen?").answer or "")
    pipeline.remove("uploads/harbour.txt")

    pipeline.remove(f"seeds/{SEED_FILE}")
    assert pipeline.status().articles == 0
    pipeline.index()  # refreshing the library does not bring a removed shipped article back
    assert pipeline.status().articles == 0 and not (pipeline.corpus / "seeds" / SEED_FILE).exists()
    assert snapshot(SHIPPED_SEEDS) == before


@pytest.mark.parametrize("path, message", [("nowhere.txt", "no indexed article comes from the file 'nowhere.txt'"), ("../etc/passwd", "no indexed article")])
def test_removing_what_is_not_an_indexed_file_is_one_line_naming_it(news_pipeline, path, message):
    from rag.index.removal import RemovalError

    with pytest.raises(RemovalError, match=message):
        news_pipeline.remove(path)


def test_restoring_is_refused_where_nothing_was_removed_or_a_new_file_took_the_name(tmp_path):
    from rag.index.removal import RemovalError, remove_file, restore_file

    (tmp_path / "a.txt").write_text("Old.", encoding="utf-8")
    with pytest.raises(RemovalError, match="no removed file 'a.txt' is kept"):
        restore_file(tmp_path, "a.txt")
    remove_file(tmp_path, "a.txt")
    (tmp_path / "a.txt").write_text("New.", encoding="utf-8")
    with pytest.raises(RemovalError, match="a file 'a.txt' is in the corpus again"):
        restore_file(tmp_path, "a.txt")
    assert (tmp_path / "a.txt").read_text() == "New." and (tmp_path / ".removed" / "a.txt").read_text() == "Old."
    with pytest.raises(RemovalError, match="is not a file of the corpus"):
        restore_file(tmp_path, "../a.txt")


@pytest.mark.parametrize("relative", ["../outside.txt", "/etc/passwd", ".removed/a.txt", "", "missing.txt"])
def test_remove_file_moves_only_files_of_the_corpus(tmp_path, relative):
    from rag.index.removal import RemovalError, remove_file

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "outside.txt").write_text("x", encoding="utf-8")
    with pytest.raises(RemovalError):
        remove_file(corpus, relative)
    assert (tmp_path / "outside.txt").is_file()
