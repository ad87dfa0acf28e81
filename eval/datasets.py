"""Public benchmarks as a corpus plus gold items: SQuAD-format files and BEIR folders.

Each SQuAD paragraph becomes one article, titled by its Wikipedia article, and each question a
gold item whose `doc` is that paragraph (SQuAD 2.0's impossible questions: no answers, no doc).
A BEIR folder gives one article per corpus record and one item per query of qrels/test.tsv,
with the graded relevance of every judged document. The articles are built in memory and
indexed like any corpus; nothing is copied into the repository.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

from pydantic import BaseModel

from eval.runner import GoldError, GoldItem
from rag.config import Settings
from rag.embedding import Encoder
from rag.index.indexing import embedded_text_hash
from rag.index.ingest import CorpusLoad
from rag.pipeline import Pipeline
from rag.schema import Article

# Benchmark indexes live here (git-ignored): embedding SQuAD takes minutes, a second run reuses it.
CACHE_DIR = Path(__file__).resolve().parent / ".cache"


class Benchmark(BaseModel):
    """A corpus and the questions asked of it."""

    name: str
    source: str  # the file or folder it was read from
    articles: list[Article]
    items: list[GoldItem]
    groups: list[int]  # per item: its SQuAD article's position in the file (BEIR: 0), for splits
    group_titles: list[str] = []  # SQuAD: each article's title, by position in the file
    graded: bool = False  # BEIR: retrieval is judged by graded relevance and the reader is not scored

    def corpus_load(self) -> CorpusLoad:
        """The articles as an indexable load; each article's text hash stands for a file hash."""
        hashes = {a.path: embedded_text_hash(a, title_in_chunks=True) for a in self.articles}
        return CorpusLoad(articles=self.articles, skipped=[], file_hashes=hashes)

    def cache_dir(self, settings: Settings) -> Path:
        """The index cache of this corpus under these chunking settings (one folder each, so tuning keeps them all)."""
        digest = hashlib.sha256("\n".join(sorted(self.corpus_load().file_hashes.values())).encode()).hexdigest()[:12]
        chunking = f"w{settings.chunk_words}o{settings.chunk_overlap_sentences}{'t' if settings.title_in_chunks else ''}"
        precision = settings.runtime_options().network_precision
        return CACHE_DIR / f"{self.name}-{digest}-{chunking}{'' if precision == 'f32' else '-' + precision}"

    def pipeline(self, settings: Settings, index_path: Path | None = None, encoder: Encoder | None = None, progress: bool = False) -> Pipeline:
        """A pipeline over this corpus, its index brought up to date (nothing re-embedded when cached)."""
        pipeline = Pipeline(settings, corpus=Path(self.source), index_path=index_path or self.cache_dir(settings), encoder=encoder)
        pipeline.index_articles(self.corpus_load(), progress=progress)
        return pipeline

    def select(
        self, groups: tuple[int, int] | None = None, limit: int | None = None, seed: int = 0, excluded_titles: frozenset[str] = frozenset()
    ) -> list[GoldItem]:
        """Items of SQuAD articles [first, last) when groups is given, none of an article titled in
        excluded_titles; then a fixed random sample of `limit`."""
        chosen = [
            item
            for item, group in zip(self.items, self.groups)
            if (groups is None or groups[0] <= group < groups[1]) and not (excluded_titles and self.group_titles[group] in excluded_titles)
        ]
        return sample(chosen, limit, seed)


def sample(items: list[GoldItem], limit: int | None, seed: int) -> list[GoldItem]:
    """A fixed random sample of `limit` items in their original order (all of them when limit is None)."""
    if limit is None or limit >= len(items):
        return items
    return [items[i] for i in sorted(random.Random(seed).sample(range(len(items)), limit))]


def parse_articles(span: str) -> tuple[int, int]:
    """ "START:END" (0-based, END excluded) as a pair; a ValueError names what is wrong."""
    try:
        first, last = (int(part) for part in span.split(":"))
    except ValueError as exc:
        raise GoldError(f"--articles takes START:END, two whole numbers; got {span!r}") from exc
    if not 0 <= first < last:
        raise GoldError(f"--articles {span}: START must be at least 0 and below END")
    return first, last


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise GoldError(f"benchmark file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GoldError(f"cannot read benchmark file {path}: {exc}") from exc


def _squad_articles(path: Path) -> list[dict]:
    """The article list of a SQuAD v1.1 or v2.0 JSON file."""
    data = _read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise GoldError(f'{path}: not a SQuAD file (no top-level "data" list)')
    return data["data"]


def load_squad(path: Path) -> Benchmark:
    """A SQuAD v1.1 or v2.0 JSON file."""
    wikis = _squad_articles(path)
    articles, items, groups = [], [], []
    for group, wiki in enumerate(wikis):
        title = wiki["title"].replace("_", " ")
        for number, paragraph in enumerate(wiki["paragraphs"]):
            # The path doubles as the gold `doc`: readable in citations and unique in the file.
            doc = f"{wiki['title']}/{number:03d}"
            articles.append(Article(id=doc, title=title, path=doc, text=paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                items.append(GoldItem(id=qa["id"], question=qa["question"], answers=answers, doc=doc if answers else None))
                groups.append(group)
    return Benchmark(name=Path(path).stem, source=str(path), articles=articles, items=items, groups=groups, group_titles=[wiki["title"] for wiki in wikis])


def squad_titles(path: Path) -> frozenset[str]:
    """The article titles of a SQuAD file."""
    return frozenset(wiki["title"] for wiki in _squad_articles(path))


def load_beir(folder: Path, split: str = "test") -> Benchmark:
    """A BEIR folder: corpus.jsonl, queries.jsonl and the judgements of qrels/SPLIT.tsv."""
    folder = Path(folder)
    for required in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / required).is_file():
            raise GoldError(f"{folder} is not a BEIR folder: {required} is missing")

    def records(name: str):
        for number, line in enumerate((folder / name).read_text(encoding="utf-8").split("\n"), start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise GoldError(f"{folder / name}:{number}: {exc.msg}") from exc

    articles = [Article(id=str(r["_id"]), title=r.get("title") or "", path=str(r["_id"]), text=r["text"]) for r in records("corpus.jsonl")]
    queries = {str(r["_id"]): r["text"] for r in records("queries.jsonl")}
    relevance: dict[str, dict[str, int]] = {}
    with open(folder / f"qrels/{split}.tsv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["score"]) > 0:
                relevance.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    items = [GoldItem(id=qid, question=queries[qid], answers=[], doc=next(iter(docs)), relevance=docs) for qid, docs in relevance.items() if qid in queries]
    return Benchmark(name=folder.name, source=str(folder), articles=articles, items=items, groups=[0] * len(items), graded=True)
