"""The eval runner: gold questions through the real pipeline, scored, as the `rag eval` report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ValidationError
from tqdm.auto import tqdm

from eval.metrics import contains_answer, exact_match, f1_score, percentile
from rag.config import RetrieverMode
from rag.pipeline import Pipeline
from rag.schema import Article

RECALL_KS = (1, 5, 10)


class GoldError(ValueError):
    """A gold file that does not follow the contract; the message names file and line."""


class GoldItem(BaseModel):
    id: str
    question: str
    answers: list[str]
    doc: str | None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read_gold(path: Path) -> list[GoldItem]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise GoldError(f"gold file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"cannot read gold file {path}: {exc}") from exc
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(GoldItem.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "line"
            raise GoldError(f"{path}:{number}: {where}: {problem['msg']}") from exc
    if not items:
        raise GoldError(f"gold file {path} holds no questions")
    return items


class QuestionResult(BaseModel):
    id: str
    question: str
    gold_answers: list[str]
    gold_doc: str | None
    found: bool
    answer: str | None
    span: str | None
    score: float
    first_cited_doc: str | None
    gold_rank: int | None  # rank of the first passage from the gold doc (1-based), None if not retrieved
    exact_match: float
    f1: float
    contains_answer: float
    latency_ms: float


class EvalReport(BaseModel):
    """Keys exactly as DESIGN.md's `rag eval` contract."""

    questions: int
    answerable: int
    unanswerable: int
    retrieval: dict[str, float]
    answer: dict[str, float]
    latency_ms: dict[str, float]
    index: dict[str, float | int]


def doc_matches(article: Article, doc: str) -> bool:
    return doc in (article.id, article.path, Path(article.path).name)


class EvalRunner:
    """Asks every gold question through one pipeline and scores the answers."""

    def __init__(self, pipeline: Pipeline, depth: int = 10):
        self.pipeline = pipeline
        self.depth = max(depth, max(RECALL_KS))

    def ask_all(self, gold: Iterable[GoldItem], retriever: RetrieverMode | None = None, progress: bool = False) -> list[QuestionResult]:
        gold = list(gold)
        k = self.pipeline.settings.k
        results = []
        for item in tqdm(gold, desc=f"asking ({retriever or self.pipeline.settings.retriever})", unit="q", disable=not progress):
            started = time.perf_counter()
            passages = self.pipeline.retrieve(item.question, k=max(self.depth, k), retriever=retriever)
            answer = self.pipeline.answer(item.question, passages[:k])
            latency = (time.perf_counter() - started) * 1000
            gold_rank = None
            if item.doc is not None:
                gold_rank = next((i for i, p in enumerate(passages, 1) if doc_matches(p.article, item.doc)), None)
            cited = answer.citations[0] if answer.citations else None
            cited_doc = None
            if cited is not None:
                cited_article = next(p.article for p in answer.passages if p.article.id == cited.article_id)
                cited_doc = item.doc if item.doc and doc_matches(cited_article, item.doc) else Path(cited_article.path).name
            prediction = (answer.span or answer.answer or "") if answer.found else ""
            shown = answer.answer or "" if answer.found else ""
            results.append(
                QuestionResult(
                    id=item.id,
                    question=item.question,
                    gold_answers=item.answers,
                    gold_doc=item.doc,
                    found=answer.found,
                    answer=answer.answer,
                    span=answer.span,
                    score=answer.score,
                    first_cited_doc=cited_doc,
                    gold_rank=gold_rank,
                    exact_match=exact_match(prediction, item.answers) if item.answerable else 0.0,
                    f1=f1_score(prediction, item.answers) if item.answerable else 0.0,
                    contains_answer=contains_answer(shown, item.answers) if item.answerable else 0.0,
                    latency_ms=latency,
                )
            )
        return results

    def report(self, results: list[QuestionResult]) -> EvalReport:
        answerable = [r for r in results if r.gold_answers]
        unanswerable = [r for r in results if not r.gold_answers]
        with_doc = [r for r in results if r.gold_doc is not None and r.gold_answers]

        def mean(values: list[float]) -> float:
            return round(sum(values) / len(values), 4) if values else 0.0

        retrieval = {f"recall@{k}": mean([float(r.gold_rank is not None and r.gold_rank <= k) for r in with_doc]) for k in RECALL_KS}
        retrieval["mrr@10"] = mean([1.0 / r.gold_rank if r.gold_rank and r.gold_rank <= 10 else 0.0 for r in with_doc])
        answer = {
            "exact_match": mean([r.exact_match for r in answerable]),
            "f1": mean([r.f1 for r in answerable]),
            "contains_answer": mean([r.contains_answer for r in answerable]),
            "citation_accuracy": mean([float(r.found and r.first_cited_doc == r.gold_doc) for r in answerable]),
            "abstain_accuracy": mean([float(not r.found) for r in unanswerable]),
            "false_abstain_rate": mean([float(not r.found) for r in answerable]),
        }
        latencies = [r.latency_ms for r in results]
        status = self.pipeline.status()
        manifest_seconds = self.pipeline.store.read_manifest().build_seconds
        return EvalReport(
            questions=len(results),
            answerable=len(answerable),
            unanswerable=len(unanswerable),
            retrieval=retrieval,
            answer=answer,
            latency_ms={"p50": round(percentile(latencies, 50), 2), "p95": round(percentile(latencies, 95), 2)},
            index={"articles": status.articles, "chunks": status.chunks, "seconds": manifest_seconds},
        )


def format_table(report: EvalReport, title: str = "") -> str:
    rows = [("questions", f"{report.questions} ({report.answerable} answerable, {report.unanswerable} not)")]
    rows += [(name, f"{value:.3f}") for name, value in report.retrieval.items()]
    rows += [(name, f"{value:.3f}") for name, value in report.answer.items()]
    rows += [(f"latency {name}", f"{value:.1f} ms") for name, value in report.latency_ms.items()]
    rows.append(("index", f"{report.index['articles']} articles, {report.index['chunks']} chunks, built in {report.index['seconds']:.1f}s"))
    width = max(len(name) for name, _ in rows)
    lines = [title] if title else []
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)


def write_report(report: dict | BaseModel, out: Path) -> None:
    data = report.model_dump() if isinstance(report, BaseModel) else report
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
