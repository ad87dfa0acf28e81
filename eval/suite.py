"""`rag eval`: questions from a gold file, a SQuAD file or a BEIR folder, asked of every retriever.

All retrievers run over one index in one process, so their figures compare like with like. The
pipeline asks with abstention off and the runner applies the threshold afterwards (see
EvalRunner): the answers are the same and the report can show every other threshold too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from eval.datasets import load_beir, load_squad, parse_articles, sample, squad_titles
from eval.runner import EvalReport, EvalRunner, GoldError, GoldItem, QuestionResult, format_table, read_gold, write_report
from rag.config import RetrieverMode, Settings
from rag.index.index_keeper import reader_threshold
from rag.pipeline import Pipeline

# BEIR is judged on 100 docs; chunks come several to a doc, so retrieval goes deeper than usual.
BEIR_CHUNK_DEPTH = 400


class EvalRequest(BaseModel):
    gold: Path | None = None
    squad: Path | None = None
    beir: Path | None = None
    corpus: Path | None = None
    index: Path | None = None
    out: Path
    retrievers: list[RetrieverMode] = ["hybrid"]
    limit: int | None = None
    seed: int = 0
    articles: str | None = None
    outside: Path | None = None  # SQuAD: leave out questions of the articles of this SQuAD file
    report: Path | None = None
    verbose: bool = False
    progress: bool = False

    def source(self) -> str:
        return str(self.gold or self.squad or self.beir)


class EvalRun(BaseModel):
    """What one `rag eval` measured: a report and the per-question results of each retriever."""

    source: str
    graded: bool
    threshold: float
    networks: str = ""  # where the encoder and the reader ran, e.g. "openvino, int8" (rag/runtime.py)
    index: str = ""  # where the index was: its folder, or the Milvus server and collection (rag/index/backend.py)
    reports: dict[str, EvalReport]
    results: dict[str, list[QuestionResult]]


def _questions_and_pipeline(request: EvalRequest, settings: Settings) -> tuple[list[GoldItem], Pipeline, bool]:
    # Each retriever's run pays for its own query encoding: the encoder keeps only the question being asked.
    asking = settings.model_copy(update={"query_cache": 1})
    if request.gold is not None:
        items = sample(read_gold(request.gold), request.limit, request.seed)
        pipeline = Pipeline(asking, corpus=request.corpus, index_path=request.index)
        report = pipeline.ensure_index(progress=request.progress)
        for line in report.summary_lines() if report else []:
            print(line, file=sys.stderr)
        return items, pipeline, False
    if request.squad is not None:
        bench = load_squad(request.squad)
    elif request.beir is not None:
        bench = load_beir(request.beir)
    else:
        raise ValueError("an eval request names its questions: --gold, --squad or --beir")
    groups = parse_articles(request.articles) if request.articles else None
    excluded = squad_titles(request.outside) if request.outside is not None else frozenset()
    items = bench.select(groups, request.limit, request.seed, excluded)
    if not items:
        asked = " ".join(f"--{name} {value}" for name, value in (("articles", request.articles), ("outside", request.outside)) if value)
        raise GoldError(f"no questions in {request.source()} for {asked}")
    return items, bench.pipeline(asking, index_path=request.index, progress=request.progress), bench.graded


def run_eval(request: EvalRequest, settings: Settings) -> EvalRun:
    items, pipeline, graded = _questions_and_pipeline(request, settings)
    threshold = reader_threshold(settings)
    runner = EvalRunner(
        pipeline,
        threshold=threshold,
        k=settings.k,
        chunk_depth=BEIR_CHUNK_DEPTH if graded else settings.candidates,
        doc_depth=100 if graded else 20,
        read=not graded,
    )
    runtime = settings.runtime_options()
    threads = "every core for each call" if runtime.threads is None else f"{runtime.threads} thread(s) a call"
    networks = f"{runtime.runtime}, {runtime.network_precision}, {threads}"
    run = EvalRun(source=request.source(), graded=graded, threshold=threshold, networks=networks, index=pipeline.store.location, reports={}, results={})
    print(f"index: {run.index}", file=sys.stderr)
    for retriever in request.retrievers:
        results = runner.ask_all(items, retriever=retriever, progress=request.progress)
        run.results[retriever] = results
        run.reports[retriever] = runner.report(results, graded=graded)
        print(format_table(run.reports[retriever], title=f"== {retriever} on {request.source()} =="))
        if request.verbose:
            for r in results:
                if (r.gold_answers and not r.contains_answer) or (not r.gold_answers and r.found):
                    print(f"  miss {r.id}: {r.question} -> {r.answer!r} (span {r.span!r}, score {r.score:.2f}); gold {r.gold_answers}")
    write_report(run.reports, request.out)
    print(f"report written to {request.out}")
    if request.report is not None:
        from eval.report import write_report_folder  # matplotlib only when a report is asked for

        page = write_report_folder(run, request.report)
        print(f"report with plots written to {page}")
    return run
