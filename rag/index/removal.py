"""Removing a file's articles from a corpus without losing the file: it moves into CORPUS/.removed/.

The indexer reads no hidden folder, so the next index drops the file's articles, in one generation
swap as any update. Nothing is deleted: restore_file moves it back. The library's copy of a
shipped article stays removed too: Library.refresh does not copy back what is here.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

REMOVED_DIR = ".removed"


class RemovalError(ValueError):
    """The file cannot be removed; the one-line message names it and why."""


def removed_path(corpus: Path, relative: str) -> Path:
    """Where a removed file of the corpus is kept (its path below CORPUS/.removed/)."""
    return Path(corpus) / REMOVED_DIR / relative


def is_removed(corpus: Path, relative: str) -> bool:
    return removed_path(corpus, relative).is_file()


def _checked(corpus: Path, relative: str) -> None:
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or parts[0] == REMOVED_DIR:
        raise RemovalError(f"'{relative}' is not a file of the corpus {corpus}")


def remove_file(corpus: Path, relative: str) -> Path:
    """Move CORPUS/relative into CORPUS/.removed/ (an earlier removed file of that name is replaced);
    returns where it is kept. RemovalError when relative is not a file of the corpus."""
    _checked(corpus, relative)
    source = Path(corpus) / relative
    if not source.is_file():
        raise RemovalError(f"there is no file '{relative}' in the corpus {corpus} to remove")
    kept = removed_path(corpus, relative)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, kept)  # one rename: the file is in the corpus or kept, never half of each
    except OSError as exc:
        raise RemovalError(f"cannot move '{relative}' out of the corpus {corpus} ({exc.strerror or exc})") from exc
    return kept


def restore_file(corpus: Path, relative: str) -> Path:
    """Move a removed file back from CORPUS/.removed/ to where it was; returns its path. RemovalError when
    no such file was removed, or when a file of that name has been added since (it is not overwritten)."""
    _checked(corpus, relative)
    kept, back = removed_path(corpus, relative), Path(corpus) / relative
    if not kept.is_file():
        raise RemovalError(f"no removed file '{relative}' is kept in {Path(corpus) / REMOVED_DIR} to restore")
    if back.exists():
        raise RemovalError(f"a file '{relative}' is in the corpus again; the removed one stays in {kept} (rename it to restore it)")
    try:
        back.parent.mkdir(parents=True, exist_ok=True)
        os.replace(kept, back)
    except OSError as exc:
        raise RemovalError(f"cannot move '{relative}' back into the corpus {corpus} ({exc.strerror or exc})") from exc
    return back
