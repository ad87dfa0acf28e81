"""Hybrid fusion, tuned on a benchmark: every variant scored on the same candidates.

Each question's candidates (both retrievers' top rows with BM25, chunk and best-sentence scores)
are collected once through the real Retriever; each fusion setting then re-ranks them in memory.
With --articles A:B C:D the table has a column per metric and per range of SQuAD articles
(tune on the first, report the second as held out).

    python -m eval.tune_retrieval --squad ../shared/data/squad-v1.1-dev/dev-v1.1.json --articles 0:24 24:48 --limit 1000
    python -m eval.tune_retrieval --beir ../shared/data/beir-scifact --beir-split train
"""

from __future__ import annotations

import argparse
import itertools
import os

import numpy as np

from eval.datasets import Benchmark, load_beir, load_squad, parse_articles
from eval.metrics import dedupe, ndcg_at, recall_at, reciprocal_rank
from eval.runner import GoldItem
from rag.config import Settings
from rag.query.retrieve import Candidates, fuse

# (label, settings overrides): the baselines, then the grids that were searched.
VARIANTS: list[tuple[str, dict]] = [
    ("bm25 only", dict(fusion="score", bm25_weight=1.0, dense_weight=0.0, sentence_weight=0.0)),
    ("dense only", dict(fusion="score", bm25_weight=0.0, dense_weight=1.0, sentence_weight=0.0)),
    ("rrf k=60 (plain)", dict(fusion="rrf", rrf_k=60, bm25_weight=1.0, dense_weight=1.0)),
    *[(f"rrf k={k} bm25 x{w}", dict(fusion="rrf", rrf_k=k, bm25_weight=w, dense_weight=1.0)) for k, w in itertools.product((5, 20, 60), (1.5, 2.0, 3.0))],
    *[(f"bm25/max + {d} cos", dict(fusion="score", bm25_weight=1.0, dense_weight=d, sentence_weight=0.0)) for d in (0.5, 1.0, 1.5, 2.0)],
    *[
        (f"bm25/max + {d} cos + {s} sentence", dict(fusion="score", bm25_weight=1.0, dense_weight=d, sentence_weight=s))
        for d, s in itertools.product((0.0, 0.25, 0.5, 1.0), (0.5, 1.0, 1.5, 2.0, 2.5, 3.0))
    ],
]


def collect(bench: Benchmark, items: list[GoldItem], settings: Settings, depth: int) -> list[tuple[GoldItem, Candidates, np.ndarray]]:
    """Candidates of every question, with each candidate's article id."""
    pipeline = bench.pipeline(settings, progress=True)
    retriever = pipeline.loaded().retriever
    rows = []
    for item in items:
        found = retriever.candidates(item.question, depth)
        rows.append((item, found, np.array([chunk.article_id for chunk in retriever.index.chunks_at(found.rows)])))
    return rows


def score(rows, settings: Settings, graded: bool) -> dict[str, float]:
    totals = {"recall@1": 0.0, "mrr@10": 0.0, "recall@20": 0.0, "ndcg@10": 0.0}
    for item, found, docs in rows:
        fused = fuse(found, settings)
        ranked = dedupe(docs[np.lexsort((found.rows, -fused))].tolist())
        relevance = item.relevance or {item.doc: 1}
        totals["recall@1"] += recall_at(ranked, set(relevance), 1)
        totals["mrr@10"] += reciprocal_rank(ranked, set(relevance), 10)
        totals["recall@20"] += recall_at(ranked, set(relevance), 20)
        totals["ndcg@10"] += ndcg_at(ranked, relevance, 10)
    metrics = {k: v / max(len(rows), 1) for k, v in totals.items()}
    return {k: v for k, v in metrics.items() if graded or k != "ndcg@10"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--squad")
    source.add_argument("--beir")
    parser.add_argument("--beir-split", default="test", help="qrels file to judge by (tune on train, report test)")
    parser.add_argument("--articles", nargs="*", default=[], help="START:END ranges of SQuAD articles, one column each")
    parser.add_argument("--limit", type=int, default=None, help="questions sampled from each split")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    bench = load_squad(args.squad) if args.squad else load_beir(args.beir, args.beir_split)
    settings = Settings()
    splits: dict[str, tuple[int, int] | None] = {span: parse_articles(span) for span in args.articles} or {"all": None}
    depth = max(settings.candidates, 100 if bench.graded else 0)
    collected = {}
    for name, groups in splits.items():
        items = [i for i in bench.select(groups, args.limit, args.seed) if i.doc is not None]
        collected[name] = collect(bench, items, settings, depth)
        print(f"{name}: {len(collected[name])} questions, load {os.getloadavg()}", flush=True)
    header = None
    for label, overrides in VARIANTS:
        variant = settings.model_copy(update=overrides)
        cells = {f"{k} ({split})": v for split, rows in collected.items() for k, v in score(rows, variant, bench.graded).items()}
        if header is None:
            header = list(cells)
            print(f"| {'fusion':34s} | " + " | ".join(header) + " |")
            print("|" + "---|" * (len(header) + 1))
        print(f"| {label:34s} | " + " | ".join(f"{cells[h]:.4f}" for h in header) + " |", flush=True)


if __name__ == "__main__":
    main()
