"""The library `rag` reads when no folder is named: the shipped articles and the user's uploads, kept
in a data folder outside the checkout.

The shipped seeds/ is read, never written: the library holds a copy of it (refreshed whenever the
library is indexed, so a new or edited seed article appears and a removed one goes), the uploads
beside it, and its index. Running the chat, uploading and testing leave the checkout as it was.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

from rag.index.ingest import ArticleLoader
from rag.index.removal import is_removed

SHIPPED_SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SEEDS_DIR = "seeds"


class LibraryError(Exception):
    """The library folder cannot be written; the message names it and the setting that moves it."""


class Library:
    """DATA_DIR/library: a refreshed copy of the shipped articles in seeds/, uploads in uploads/."""

    def __init__(self, data_dir: Path, seeds: Path = SHIPPED_SEEDS):
        self.folder = Path(data_dir) / "library"
        self.seeds = Path(seeds)

    def refresh(self) -> None:
        """Copy new and changed shipped articles into the library and drop copies of removed ones.

        A copy keeps its source's modification time, so an unchanged article compares equal by its
        stat and is neither copied nor re-indexed. Hidden files (an old index inside seeds/) are left out.
        """
        target = self.folder / SEEDS_DIR
        files = ArticleLoader().iter_files  # the files an index would read: hidden ones left out
        try:
            shipped = {path.relative_to(self.seeds) for path in files(self.seeds)}
            for relative in sorted(shipped):
                if is_removed(self.folder, f"{SEEDS_DIR}/{relative.as_posix()}"):
                    continue  # the user removed it from the library (rag/index/removal.py)
                source, copy = self.seeds / relative, target / relative
                if copy.is_file() and filecmp.cmp(source, copy, shallow=True):
                    continue
                copy.parent.mkdir(parents=True, exist_ok=True)
                partial = copy.with_name(f".{copy.name}.partial")
                shutil.copy2(source, partial)
                os.replace(partial, copy)  # the indexer never sees half a file
            for path in files(target) if target.is_dir() else []:
                if path.relative_to(target) not in shipped:
                    path.unlink()
        except OSError as exc:
            raise LibraryError(
                f"cannot prepare the article library in {self.folder} ({exc.strerror or exc}); "
                "set RAG_DATA_DIR to a folder you can write, or name a folder of articles"
            ) from exc
