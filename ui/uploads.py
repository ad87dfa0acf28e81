"""Articles uploaded from the page: checked, copied into CORPUS/uploads/ (the library's, outside the
checkout, when no folder was named), then indexed incrementally.

A file that yields no article is not copied, so it is not reported again on every later index;
the user gets its reason instead. A copy that fails (disk full, read-only corpus) leaves nothing behind.
While another process holds the index lock, stored uploads are queued: indexed as soon as it frees.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from rag.index.indexing import IndexReport
from rag.index.store import IndexLocked, IndexStoreError
from rag.pipeline import Pipeline

UPLOAD_DIR = "uploads"
# Room for "-N" and a suffix within the 255 bytes most file systems allow in a name.
_MAX_STEM_BYTES = 200
QUEUE_POLL_S = 2.0  # how often a queued index run tries the lock again
QUEUED = "queued: another `rag index` is updating the index; this file is indexed as soon as it finishes"
_waiting: set[Path] = set()  # index folders with a queued run waiting for the lock; it indexes every upload
_waiting_lock = threading.Lock()


class UploadOutcome(BaseModel):
    name: str
    stored: str | None = None  # path in the corpus folder; None when the file was not added
    problems: list[str] = []  # why the file, or some records in it, were left out
    notes: list[str] = []


def safe_name(name: str) -> str:
    """The client's file name as one the indexer reads: its last path part, without the leading dots that
    would hide it or control characters, short enough for any file system ("upload" when nothing is left)."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if ch.isprintable())
    # The suffix first: "..txt" or " .txt" is a .txt whose stem is only dots or spaces ("upload.txt").
    stem, suffix = os.path.splitext("x" + base)
    stem = stem[1:].lstrip(". ").encode("utf-8")[:_MAX_STEM_BYTES].decode("utf-8", errors="ignore").strip()
    return (stem or "upload") + suffix


def _store(folder: Path, name: str, data: bytes) -> tuple[Path, bool]:
    """Copy data into folder under a free name: (where, whether an identical file was already there).
    It is written under a hidden name first and renamed, so a failed copy is never half an article."""
    folder.mkdir(parents=True, exist_ok=True)
    target, existing = _free_name(folder, name, data)
    if existing:
        return target, True
    partial = folder / f".upload-{uuid.uuid4().hex}.part"  # hidden: the indexer never reads it
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target, False


def _free_name(folder: Path, name: str, data: bytes) -> tuple[Path, bool]:
    """(where to store the upload, whether an identical file is already there)."""
    base = Path(name)
    target, n = folder / name, 1
    while target.exists():
        if target.read_bytes() == data:
            return target, True
        n += 1
        target = folder / f"{base.stem}-{n}{base.suffix}"
    return target, False


def add_uploads(
    pipeline: Pipeline, files: Sequence[str | Path], step: Callable[[str], None] = lambda _: None
) -> tuple[list[UploadOutcome], IndexReport | None]:
    """Check each file with the pipeline's own loader, copy the good ones into the corpus, index."""
    folder = pipeline.corpus / UPLOAD_DIR
    outcomes: list[UploadOutcome] = []
    for file in files:
        path = Path(file)
        name = path.name  # the client's file name, never a path
        step(f"reading {name}")
        loaded = pipeline.loader.load_file(path, name)
        if not loaded.articles:
            outcomes.append(UploadOutcome(name=name, problems=[s.reason for s in loaded.skipped] or ["no article found"]))
            continue
        try:
            target, existing = _store(folder, safe_name(name), path.read_bytes())
        except OSError as exc:
            outcomes.append(UploadOutcome(name=name, problems=[f"could not be stored in {folder}: {exc.strerror or exc}"]))
            continue
        stored = target.relative_to(pipeline.corpus).as_posix()
        outcomes.append(UploadOutcome(name=name, stored=stored, notes=["the same file was already there"] if existing else []))
    if not any(o.stored for o in outcomes):
        return outcomes, None
    step("indexing")
    try:
        report = pipeline.index(progress=True)
    except IndexLocked:
        _index_when_free(pipeline)
        return _noted(outcomes, QUEUED), None
    except IndexStoreError as exc:  # disk full, read-only index: the stored files wait for the next index run
        return _noted(outcomes, f"stored, not indexed yet: {exc}"), None
    for outcome in outcomes:
        if outcome.stored:
            # A record's entry reads "path:record" (a duplicate) or carries a line number (bad JSONL line).
            outcome.problems = [str(s) for s in report.skipped if s.path.split(":")[0] == outcome.stored]
            outcome.notes += [s.reason for s in report.notes if s.path == outcome.stored]
    return outcomes, report


def _noted(outcomes: list[UploadOutcome], note: str) -> list[UploadOutcome]:
    for outcome in outcomes:
        if outcome.stored:
            outcome.notes.append(note)
    return outcomes


def _index_when_free(pipeline: Pipeline) -> None:
    """Index the corpus in the background once the lock frees; one waiting run per index folder."""
    index = pipeline.store.path
    with _waiting_lock:
        if index in _waiting:
            return
        _waiting.add(index)

    def wait_and_index() -> None:
        while True:
            time.sleep(QUEUE_POLL_S)
            with _waiting_lock:
                _waiting.discard(index)  # from here on, an upload this run may miss queues a run of its own
            try:
                pipeline.index()
                return
            except IndexLocked:
                with _waiting_lock:
                    if index in _waiting:
                        return  # a newer upload's run waits instead
                    _waiting.add(index)
            except Exception as exc:  # a thread has no caller to tell: the server's log gets the one line
                print(f"rag: queued uploads not indexed: {exc}", file=sys.stderr)
                return

    threading.Thread(target=wait_and_index, name="queued-upload-index", daemon=True).start()
