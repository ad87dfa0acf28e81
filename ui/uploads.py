"""Articles uploaded from the page: checked, copied into CORPUS/uploads/, then indexed incrementally.

A file that yields no article is not copied, so it is not reported again on every later index;
the user gets its reason instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from rag.indexing import IndexReport
from rag.pipeline import Pipeline

UPLOAD_DIR = "uploads"


class UploadOutcome(BaseModel):
    name: str
    stored: str | None = None  # path in the corpus folder; None when the file was not added
    problems: list[str] = []  # why the file, or some records in it, were left out
    notes: list[str] = []


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
        articles, skipped, _ = pipeline.loader.load_file(path, name)
        if not articles:
            outcomes.append(UploadOutcome(name=name, problems=[s.reason for s in skipped] or ["no article found"]))
            continue
        folder.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        target, existing = _free_name(folder, name, data)
        if not existing:
            target.write_bytes(data)
        stored = target.relative_to(pipeline.corpus).as_posix()
        outcomes.append(UploadOutcome(name=name, stored=stored, notes=["the same file was already there"] if existing else []))
    if not any(o.stored for o in outcomes):
        return outcomes, None
    step("indexing")
    report = pipeline.index(progress=True)
    for outcome in outcomes:
        if outcome.stored:
            # A record's entry reads "path:record" (a duplicate) or carries a line number (bad JSONL line).
            outcome.problems = [str(s) for s in report.skipped if s.path.split(":")[0] == outcome.stored]
            outcome.notes += [s.reason for s in report.notes if s.path == outcome.stored]
    return outcomes, report
