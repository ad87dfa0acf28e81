"""The eval runner: gold questions through the real pipeline, scored, as the `rag eval` report."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError
from tqdm.auto import tqdm

from eval.metrics import contains_answer, dedupe, exact_match, f1_score, first_relevant_rank, ndcg_at, percentile, recall_at, reciprocal_rank
from rag.config import RetrieverMode, Settings
from rag.index.index_keeper import IndexStatus
from rag.pipeline import QuestionError
from rag.query.request import AskRequest
from rag.schema import LISTING_KINDS, Answer, Article, Passage

RECALL_KS = (1, 5, 10)
WARM_UP_QUESTION = "What does the first article say?"  # asked before the gold: no gold question is asked twice


class GoldError(ValueError):
    """A gold file that does not follow the contract; the message names file and line."""


class GoldItem(BaseModel):
    id: str
    question: str
    answers: list[str]
    doc: str | None
    # Not in gold files: graded relevance of several docs (BEIR qrels); None means `doc` alone is relevant.
    relevance: dict[str, int] | None = None
    kind: str | None = Field(None, description="optional: what the question tests (article, time, source, listing, …); the report adds by_kind")

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read_gold(path: Path) -> list[GoldItem]:
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
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


# The answer kinds (Answer.kind) a gold `kind` must be routed to: a question about an article's own
# fields to its field, a list to a list, the rest to the reader (a source's statements quoted as "more").
ROUTES_OF_KIND: dict[str, frozenset[str]] = {
    "metadata": frozenset({"article_field"}),
    "article": frozenset({"article_field"}),
    "listing": frozenset({"article_list"}),
    "factoid": frozenset({"read"}),
    "content": frozenset({"read"}),
    "time": frozenset({"read"}),
    "unanswerable": frozenset({"read"}),
    "source": frozenset({"read", "more"}),
}


class QuestionResult(BaseModel):
    id: str
    question: str
    gold_answers: list[str]
    gold_doc: str | None
    relevance: dict[str, int]  # the relevant docs and their grades (empty for an unanswerable question)
    ranked_docs: list[str]  # retrieved docs, best first, each once: a gold doc under its gold name
    found: bool  # answered at the runner's threshold
    answer: str | None  # the reader's best sentence, shown or not (None when nothing was read)
    span: str | None
    score: float
    first_cited_doc: str | None
    answer_contains: float  # the best sentence holds a gold answer, whether or not it was shown
    exact_match: float
    f1: float
    contains_answer: float
    latency_ms: float
    kind: str | None = None
    answer_kind: str | None = None  # the kind of answer the product gave (Answer.kind): how the question was routed

    @property
    def gold_rank(self) -> int | None:
        """1-based rank of the first relevant doc, None when it was not retrieved."""
        return first_relevant_rank(self.ranked_docs, set(self.relevance))


class EvalReport(BaseModel):
    """Keys exactly as DESIGN.md's `rag eval` contract; `answer` is absent for retrieval-only benchmarks (BEIR)."""

    questions: int
    answerable: int
    unanswerable: int
    retrieval: dict[str, float]
    answer: dict[str, float] | None = None
    latency_ms: dict[str, float]
    index: dict[str, float | int]
    by_kind: dict[str, dict[str, float | int]] | None = None  # extension: the answer figures per gold `kind`
    # Loading the index and the models and a first question, before the first timed one (EvalRunner.start_up):
    # printed and in report.md, not in the JSON, whose keys other tools read as the contract fixes them.
    cold_start_ms: float | None = Field(None, exclude=True)

    def contract(self) -> dict:
        return self.model_dump(exclude_none=True)


def doc_matches(article: Article, doc: str) -> bool:
    return doc in (article.id, article.path, Path(article.path).name)


def _stands_for(passage: Passage, relevant: Iterable[str]) -> str:
    """The gold doc a passage is, itself or as a wire copy of it that the product showed in its place
    (issue 11: a copy of the gold article counts as the gold article)."""
    return next((doc for doc in relevant for article in (passage.article, *passage.copies) if doc_matches(article, doc)), passage.article.id)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


class QuestionAnswerer(Protocol):
    """What the evaluator asks its questions of: `rag.pipeline.Pipeline`, or any system that answers as it
    does (an Answer quoting its passages) and can search deeper for the ranking metrics."""

    @property
    def threshold(self) -> float:
        """The confidence below which it says "not found"."""
        ...

    def ask(self, request: AskRequest | str, **fields: Any) -> Answer: ...

    def search(self, question: str, k: int | None = None, retriever: RetrieverMode | None = None) -> list[Passage]: ...

    def load_models(self) -> None:
        """Load whatever the first question would wait for."""
        ...

    def status(self) -> IndexStatus: ...


_DEFAULTS = Settings.model_fields


class EvalRunner:
    """Asks every gold question of one answerer (the product's Pipeline: `rag eval`) and scores the answers.

    Questions go through its `ask`, as `rag ask` sends them. `threshold` (default: the answerer's)
    decides found / not found from the answer's score; under the reader's own threshold the answer it
    withheld stands in, so every result keeps the sentence the reader would have shown and the report
    can sweep thresholds: the decisions are the ones `rag ask` makes at that threshold.
    """

    def __init__(
        self,
        answerer: QuestionAnswerer,
        threshold: float | None = None,
        k: int = _DEFAULTS["k"].default,
        doc_depth: int = 20,
        chunk_depth: int = _DEFAULTS["candidates"].default,
        read: bool = True,
    ):
        self.answerer = answerer
        self.threshold = answerer.threshold if threshold is None else threshold
        self.k = k
        self.doc_depth = max(doc_depth, max(RECALL_KS))
        # Retrieval as the pipeline does it (`candidates` rows from each retriever), deeper only when asked.
        self.chunk_depth = max(chunk_depth, k)
        self.read = read
        self.cold_start_ms: float | None = None

    def ask_all(self, gold: Iterable[GoldItem], retriever: RetrieverMode | None = None, progress: bool = False) -> list[QuestionResult]:
        gold = list(gold)
        if gold and self.cold_start_ms is None:
            self.cold_start_ms = self.start_up()
        bar = tqdm(gold, desc=f"asking ({retriever or 'the default retriever'})", unit="q", disable=not progress, mininterval=1.0)
        return [self.ask(item, retriever) for item in bar]

    def start_up(self) -> float:
        """Loading the index and the models, then a first question, in milliseconds: the cold start,
        reported on its own and kept out of every question's latency."""
        started = time.perf_counter()
        self.answerer.load_models()
        if self.read:
            self._answer(WARM_UP_QUESTION, self.k, None)
        else:
            self._search(WARM_UP_QUESTION, self.chunk_depth, None)
        return round((time.perf_counter() - started) * 1000, 1)

    def ask(self, item: GoldItem, retriever: RetrieverMode | None = None) -> QuestionResult:
        started = time.perf_counter()
        answer = self._answer(item.question, self.k, retriever) if self.read else None
        answered = time.perf_counter()
        passages = self._search(item.question, self.chunk_depth, retriever)
        # end to end through `ask`; a run that reads nothing times its search
        latency = ((answered if self.read else time.perf_counter()) - started) * 1000
        relevance = item.relevance or ({item.doc: 1} if item.doc is not None else {})
        ranked_docs = dedupe(_stands_for(p, relevance) for p in passages)[: self.doc_depth]
        # The answer decided at the runner's threshold: under the reader's own, the one it withheld.
        read = (answer if answer.found else answer.withheld) if answer is not None else None
        found = read is not None and read.score >= self.threshold
        cited_doc = None
        if read is not None and read.citations:
            cited = read.citations[0]
            cited_doc = _stands_for(next(p for p in read.passages if p.article.id == cited.article_id), relevance)
        shown = shown_text(read) if read is not None else ""
        prediction = (read.span or shown) if read is not None else ""
        answer_contains = contains_answer(shown, item.answers) if item.answerable else 0.0
        return QuestionResult(
            id=item.id,
            question=item.question,
            gold_answers=item.answers,
            gold_doc=item.doc,
            relevance=relevance,
            ranked_docs=ranked_docs,
            found=found,
            answer=read.answer if read is not None else None,
            span=read.span if read is not None else None,
            score=answer.score if answer is not None else 0.0,
            first_cited_doc=cited_doc,
            answer_contains=answer_contains,
            exact_match=exact_match(prediction, item.answers) if item.answerable and found else 0.0,
            f1=f1_score(prediction, item.answers) if item.answerable and found else 0.0,
            contains_answer=answer_contains if found else 0.0,
            latency_ms=latency,
            kind=item.kind,
            answer_kind=answer.kind if answer is not None else None,
        )

    def _answer(self, question: str, k: int, retriever: RetrieverMode | None) -> Answer:
        """The product's own path: question cleaning, the time and source the question names, lists of
        articles, questions about an article itself; a question the product refuses is not found."""
        try:
            return self.answerer.ask(question, k=k, retriever=retriever)
        except QuestionError:
            return Answer(question=question, found=False, score=0.0)

    def _search(self, question: str, depth: int, retriever: RetrieverMode | None) -> list[Passage]:
        """The same search as `ask`'s, deeper, for the ranking metrics."""
        try:
            return self.answerer.search(question, k=depth, retriever=retriever)
        except QuestionError:
            return []

    def report(self, results: list[QuestionResult], graded: bool = False) -> EvalReport:
        """The contract's report; `graded` (BEIR) adds ndcg@10 and recall@100 and leaves `answer` out."""
        answerable = [r for r in results if r.gold_answers]
        unanswerable = [r for r in results if not r.gold_answers]
        judged = [r for r in results if r.relevance and (graded or r.gold_answers)]
        retrieval = {f"recall@{k}": _mean([recall_at(r.ranked_docs, set(r.relevance), k) for r in judged]) for k in RECALL_KS}
        retrieval["mrr@10"] = _mean([reciprocal_rank(r.ranked_docs, set(r.relevance), 10) for r in judged])
        if graded:
            retrieval["ndcg@10"] = _mean([ndcg_at(r.ranked_docs, r.relevance, 10) for r in judged])
            retrieval["recall@100"] = _mean([recall_at(r.ranked_docs, set(r.relevance), 100) for r in judged])
        answer = answer_scores(results) if self.read else None
        kinds = sorted({r.kind for r in results if r.kind})
        by_kind = None
        if self.read and kinds:
            by_kind = {kind: {"questions": sum(r.kind == kind for r in results), **answer_scores([r for r in results if r.kind == kind])} for kind in kinds}
            for kind, scores in by_kind.items():
                if kind in ROUTES_OF_KIND:  # routing accuracy: the share answered by the kind of answer the gold kind needs
                    of_kind = [r for r in results if r.kind == kind]
                    scores["routed_right"] = _mean([float(r.answer_kind in ROUTES_OF_KIND[kind]) for r in of_kind])
        latencies = [r.latency_ms for r in results]
        status = self.answerer.status()
        return EvalReport(
            questions=len(results),
            answerable=len(answerable),
            unanswerable=len(unanswerable),
            retrieval=retrieval,
            answer=answer,
            latency_ms={"p50": round(percentile(latencies, 50), 2), "p95": round(percentile(latencies, 95), 2)},
            index={"articles": status.articles, "chunks": status.chunks, "seconds": status.build_seconds},
            by_kind=by_kind,
            cold_start_ms=self.cold_start_ms,
        )


def shown_text(answer: Answer) -> str:
    """What the user reads as the answer: the quoted sentence, or for a list of articles the line that
    counts them and each listed article's sentence that names the topic."""
    if answer.kind not in LISTING_KINDS:
        return answer.answer or ""
    return " ".join([answer.answer or "", *(citation.listed()["sentence"] for citation in answer.citations)])


def answer_scores(results: list[QuestionResult]) -> dict[str, float]:
    """The contract's `answer` figures of some results: over the answerable ones, and abstention over the rest."""
    answerable = [r for r in results if r.gold_answers]
    unanswerable = [r for r in results if not r.gold_answers]
    return {
        "exact_match": _mean([r.exact_match for r in answerable]),
        "f1": _mean([r.f1 for r in answerable]),
        "contains_answer": _mean([r.contains_answer for r in answerable]),
        "citation_accuracy": _mean([float(r.found and r.first_cited_doc == r.gold_doc) for r in answerable]),
        "abstain_accuracy": _mean([float(not r.found) for r in unanswerable]),
        "false_abstain_rate": _mean([float(not r.found) for r in answerable]),
    }


def format_table(report: EvalReport, title: str = "") -> str:
    rows = [("questions", f"{report.questions} ({report.answerable} answerable, {report.unanswerable} not)")]
    rows += [(name, f"{value:.3f}") for name, value in report.retrieval.items()]
    rows += [(name, f"{value:.3f}") for name, value in (report.answer or {}).items()]
    rows += [(f"latency {name}", f"{value:.1f} ms") for name, value in report.latency_ms.items()]
    if report.cold_start_ms is not None:
        rows.append(("cold start", f"{report.cold_start_ms:.0f} ms (index and models loaded, a first question; not in the latencies)"))
    rows.append(("index", f"{report.index['articles']} articles, {report.index['chunks']} chunks, built in {report.index['seconds']:.1f}s"))
    for kind, scores in (report.by_kind or {}).items():
        rows.append(
            (
                f"kind {kind}",
                f"{scores['questions']} q: contains {scores['contains_answer']:.3f}, EM {scores['exact_match']:.3f}, "
                f"cited {scores['citation_accuracy']:.3f}, abstain {scores['abstain_accuracy']:.3f}, false abstain {scores['false_abstain_rate']:.3f}"
                + (f", routed right {scores['routed_right']:.3f}" if "routed_right" in scores else ""),
            )
        )
    width = max(len(name) for name, _ in rows)
    lines = [title] if title else []
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)


def write_report(reports: dict[str, EvalReport], out: Path) -> None:
    """One report as the contract's object; several retrievers as {"runs": {name: report}}."""
    if len(reports) == 1:
        data = next(iter(reports.values())).contract()
    else:
        data = {"runs": {name: report.contract() for name, report in reports.items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
