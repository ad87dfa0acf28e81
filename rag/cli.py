"""`rag index | ask | serve | eval`: thin commands over the pipeline; user mistakes get one line, not a traceback."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import socket
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TextIO, get_args

from pydantic import ValidationError

from rag.config import MAX_K, RETRIEVER_MODES, BackendName, Settings
from rag.embedding import ModelLoadError
from rag.index.index_keeper import LOCAL_RAY
from rag.index.indexing import IndexReport
from rag.index.ingest import CorpusError
from rag.index.library import LibraryError
from rag.index.ray_embedding import RayUnavailable
from rag.index.removal import RemovalError
from rag.index.store import IndexStoreError
from rag.pipeline import Pipeline, QuestionError, clean_question
from rag.query.reader_model import ReaderModelError
from rag.query.request import CLI_LABELS, AskRequest, RequestError, iso_date
from rag.schema import Answer
from rag.text import first_line, spoken_date
from rag.trust import confidence_numbers, trust

# Mistakes a user can make and fix: one line, no trace. Anything else is a bug: one line that says so,
# and the trace with --debug.
_USER_ERRORS = (
    CorpusError,
    LibraryError,
    QuestionError,
    RemovalError,
    IndexStoreError,
    ModelLoadError,
    ReaderModelError,
    ValidationError,
    RayUnavailable,
)


class CliError(Exception):
    """An error whose message is the whole story for the user."""


def _iso_date(value: str) -> dt.date:
    try:
        return iso_date(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _whole_number(most: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to most (no upper bound when None)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"'{value}' is not a whole number") from exc
        if number < 1:
            raise argparse.ArgumentTypeError(f"{number} must be at least 1")
        if most is not None and number > most:
            raise argparse.ArgumentTypeError(f"{number} must be at most {most}")
        return number

    return parse


_CORPUS_HELP = "folder of articles (default: your library, outside the checkout: the shipped seeds/ and uploads; RAG_DATA_DIR moves it)"


def _add_corpus_options(parser: argparse.ArgumentParser, positional: bool = False) -> None:
    if positional:
        parser.add_argument("corpus", nargs="?", type=Path, default=None, help=_CORPUS_HELP)
    else:
        parser.add_argument("--corpus", type=Path, default=None, help=_CORPUS_HELP)
    parser.add_argument("--index", type=Path, default=None, help="index folder (default: CORPUS/.rag-index)")
    parser.add_argument("--backend", choices=get_args(BackendName), default=None, help="where the index lives: embedded (default, a folder) or milvus")
    parser.add_argument("--milvus-uri", default=None, help="the Milvus server or cluster, e.g. http://127.0.0.1:19530 (sets --backend milvus)")
    parser.add_argument("--milvus-collection", default=None, help="the name the index is served under in Milvus (default: after the corpus folder)")


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's error format: one line, no usage block (subcommand parsers inherit it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"rag: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rag", description="Ask questions of a folder of news articles; answers are quoted and cited.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{index,ask,remove,serve,eval}")
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", help="on an unexpected error, print its whole trace; log what each stage does")

    index = commands.add_parser("index", parents=[common], help="build or update the index of a folder of articles")
    _add_corpus_options(index, positional=True)
    index.add_argument("--rebuild", action="store_true", help="re-embed everything instead of updating")
    index.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL_RAY,
        default=None,
        metavar="ADDRESS",
        help="embed on Ray: a cluster's address (ray://HOST:10001 or HOST:6379), or a local Ray without one",
    )

    remove = commands.add_parser("remove", parents=[common], help="take a file's articles out of the index (the file is kept in CORPUS/.removed/)")
    remove.add_argument("file", help="the file's path in the corpus, as the chat's library lists it")
    _add_corpus_options(remove)
    restore = commands.add_parser("restore", parents=[common], help="undo `rag remove`: move a removed file back from CORPUS/.removed/ and index it")
    restore.add_argument("file", help="the file's path in the corpus, as `rag remove` was given it")
    _add_corpus_options(restore)

    ask = commands.add_parser("ask", parents=[common], help="answer a question from the articles")
    ask.add_argument("question")
    _add_corpus_options(ask)
    ask.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    ask.add_argument("--k", type=_whole_number(MAX_K), default=None, help=f"passages to read (default 5, at most {MAX_K})")
    ask.add_argument("--retriever", choices=RETRIEVER_MODES, default=None)
    ask.add_argument("--since", type=_iso_date, default=None, help="only articles published on or after YYYY-MM-DD")
    ask.add_argument("--until", type=_iso_date, default=None, help="only articles published on or before YYYY-MM-DD")
    ask.add_argument("--source", default=None, help="only articles whose source, byline or path contains this")
    ask.add_argument(
        "--article",
        dest="articles",
        action="append",
        default=None,
        metavar="ID_OR_FILE",
        help="ask only about this article: its id, or its file's path in the corpus (repeat for several)",
    )
    ask.add_argument(
        "--no-time-filter",
        dest="time_filter",
        action="store_false",
        help='search every date even when the question names one ("in February 2020", "last week")',
    )
    ask.add_argument(
        "--no-source-filter",
        dest="source_filter",
        action="store_false",
        help='search every source even when the question names one ("What did Xinhua say …")',
    )

    serve = commands.add_parser("serve", parents=[common], help="serve the chat on http://127.0.0.1:7860")
    _add_corpus_options(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_whole_number(), default=7860)
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="serve on a --host other machines reach without RAG_API_TOKEN: anyone who reaches the port can add and remove articles",
    )

    evaluate = commands.add_parser("eval", parents=[common], help="score answers against a gold file or a public benchmark")
    _add_corpus_options(evaluate)
    questions = evaluate.add_mutually_exclusive_group(required=True)
    questions.add_argument("--gold", type=Path, help="gold questions (JSON Lines) about the --corpus folder")
    questions.add_argument("--squad", type=Path, help="a SQuAD v1.1/v2.0 JSON file: its paragraphs are the corpus")
    questions.add_argument("--beir", type=Path, help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
    evaluate.add_argument("--out", type=Path, required=True, help="where to write the JSON report")
    evaluate.add_argument("--retriever", default=None, help="one of hybrid,dense,bm25, or several joined by commas")
    evaluate.add_argument("--limit", type=_whole_number(), default=None, help="ask a fixed random sample of N questions")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the --limit sample (default 0)")
    evaluate.add_argument("--articles", default=None, help="SQuAD: only questions of the file's articles START:END (0-based); the corpus keeps every paragraph")
    evaluate.add_argument(
        "--outside",
        type=Path,
        default=None,
        help="SQuAD: leave out questions of the articles of this SQuAD file (e.g. the ones tuned on); the corpus keeps every paragraph",
    )
    evaluate.add_argument("--report", type=Path, default=None, help="also write a markdown report with plots into this folder")
    evaluate.add_argument("--verbose", action="store_true", help="list every question that was not answered right")
    return parser


def _settings(args: argparse.Namespace, settings: Settings | None = None) -> Settings:
    """The settings with the store the options name (--backend, --milvus-uri, --milvus-collection)."""
    settings = settings or Settings()
    backend = args.backend or ("milvus" if args.milvus_uri else None)
    chosen = {k: v for k, v in (("backend", backend), ("milvus_uri", args.milvus_uri), ("milvus_collection", args.milvus_collection)) if v is not None}
    return Settings.model_validate(settings.model_dump() | chosen) if chosen else settings  # validated again: milvus needs a URI


def _pipeline(args: argparse.Namespace, settings: Settings | None = None) -> Pipeline:
    return Pipeline(_settings(args, settings), corpus=args.corpus, index_path=args.index)


def _print_index_report(report: IndexReport, stream: TextIO) -> None:
    for line in report.summary_lines():
        print(_terminal_line(line), file=stream)


def _ensure_index(pipeline: Pipeline) -> None:
    """Index the corpus first when it has no index or its files changed; the summary goes to stderr."""
    report = pipeline.ensure_index(progress=sys.stderr.isatty())
    if report is not None:
        _print_index_report(report, sys.stderr)


def cmd_index(args: argparse.Namespace) -> int:
    pipeline = _pipeline(args)
    report = pipeline.index(rebuild=args.rebuild, progress=sys.stderr.isatty(), ray=args.ray)
    _print_index_report(report, sys.stdout)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    pipeline = _pipeline(args)
    _ensure_index(pipeline)
    print(pipeline.remove(args.file).summary() + f" (`rag restore {args.file}`)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    pipeline = _pipeline(args)
    _ensure_index(pipeline)
    print(pipeline.restore(args.file).summary())
    return 0


# Where _highlight puts the bold: private-use characters, turned into the terminal's codes (or **) only
# after _terminal_line has written the article's own control characters as escapes.
_BOLD, _PLAIN = "\ue000", "\ue001"
_UNSAFE = {"Cc", "Zl", "Zp"}  # control characters, line and paragraph separators


def _highlight(text: str, span: tuple[int, int] | None, offset: int) -> str:
    """The text with the span (offsets of a text that starts at `offset`) marked bold."""
    if span is None:
        return text
    start, end = span[0] - offset, span[1] - offset
    return text[:start] + _BOLD + text[start:end] + _PLAIN + text[end:]


def _terminal_line(line: str) -> str:
    """One line of output with the control characters an article, title or file name may hold written as
    escapes ("\\x1b", "\\n"): an escape code in a title cannot clear the screen, a newline in a file name
    cannot forge a line of the report. Then the bold _highlight marked."""
    safe = "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _UNSAFE else ch for ch in line)
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("**", "**")
    return safe.replace(_BOLD, bold).replace(_PLAIN, plain)


def format_answer(answer: Answer) -> str:
    lines = []
    if answer.time_scope is not None:
        undo = "; --no-time-filter searches every date" if answer.time_scope.filters_dates and answer.time_scope.applied else ""
        lines.append(f"({answer.time_scope.label()}{undo})")
    if answer.source_scope is not None:
        undo = "; --no-source-filter searches every source" if answer.source_scope.applied else ""
        lines.append(f"({answer.source_scope.label()}{undo})")
    if answer.read_as is not None:
        lines.append(f"({answer.read_as.label()})")
    if answer.kind == "article_list" or (answer.kind == "newest" and answer.found):
        lines.append(answer.answer if answer.found and answer.answer else f"No article mentions “{answer.listing}”.")
        sources = answer.citations
    elif answer.kind in ("more", "summary") and answer.found:
        lines.append(f"More on “{answer.more}”:")
        lines += [f"“{c.passage[c.start - c.passage_start : c.end - c.passage_start]}” [{c.n}]" for c in answer.citations]
        sources = answer.citations
    elif answer.found:
        first = answer.citations[0]
        quote = _highlight(answer.answer or "", first.span, first.start)
        quote = " ".join(quote.split())  # wire copy's hard wraps: one line, as the passages below
        lines.append(f"“{quote}”" if answer.quotes_text else quote)
        day = f" ({spoken_date(answer.span_date)})" if answer.span_date else ""
        span = " ".join(answer.span.split()) if answer.span else "(the sentence above)"
        lines.append(f"answer: {span}{day}   {trust(answer.score).words} ({confidence_numbers(answer.score, None)})")
        sources = answer.citations
    elif answer.reason:  # known why: "this article names no author"
        lines.append(f"{answer.reason[:1].upper()}{answer.reason[1:]}.")
        sources = answer.related
    else:
        lines.append(f"Not found in the articles (best {confidence_numbers(answer.score, None)}).")
        if answer.related:
            lines.append("Nearest passages:")
        sources = answer.related
    for c in sources:
        date = c.published.isoformat() if c.published else "undated"
        where = f" (characters {c.start}-{c.end})" if c.end > c.start else ""
        lines.append(f"[{c.n}] {c.title} — {date} — {c.path}{where}")
        lines.append("    " + " ".join(_highlight(c.passage, c.span, c.passage_start).split()))
        if c.also_in:
            lines.append("    also in: " + "; ".join(c.also_in))
    return "\n".join(_terminal_line(line) for line in lines)


def cmd_ask(args: argparse.Namespace) -> int:
    try:
        request = AskRequest.of(
            CLI_LABELS,
            question=args.question,
            k=args.k,
            retriever=args.retriever,
            since=args.since,
            until=args.until,
            source=args.source,
            articles=args.articles,
            time_filter=args.time_filter,
            source_filter=args.source_filter,
        )
    except RequestError as exc:
        raise CliError(str(exc)) from exc
    pipeline = _pipeline(args)
    clean_question(args.question, pipeline.settings.max_question_chars)  # a bad question fails before any indexing
    _ensure_index(pipeline)
    answer = pipeline.ask(request)
    print(json.dumps(answer.contract(), ensure_ascii=False) if args.json else format_answer(answer))
    return 0


def _check_port_free(host: str, port: int) -> None:
    """A busy port is one line before any indexing, not the web server's traceback after it. Busy: another
    socket listens on it; the TIME-WAIT connections a stopped or crashed server leaves for a minute do not
    stop uvicorn (it sets SO_REUSEADDR), so they do not stop this probe either."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CliError(f"cannot serve on {host}:{port} ({exc.strerror}): is another `rag serve` running? Stop it, or pass --port N") from exc


# rag serve answers many questions at once: one thread per network call, as many calls as cores, beat
# every call on all cores (p95 of 50 questions at once 4.5 against 4.8 s on a quiet machine, 6.3
# against 8.3-10.0 s with the cores busy elsewhere; eval/RESULTS.md "Threads and concurrency").
SERVE_THREADS_PER_CALL = 1


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.guard import is_loopback  # the web server's own rule (and its imports) only when serving

    settings = Settings()
    # Beyond this machine, the JSON API (ui/api.py) would let anyone who reaches the port add and remove articles.
    if not is_loopback(args.host) and settings.api_token is None and not args.no_auth:
        raise CliError(
            f"--host {args.host} lets other machines reach the server: set RAG_API_TOKEN (the API's library changes then need it), "
            "or pass --no-auth to serve without a token"
        )
    _check_port_free(args.host, args.port)
    if settings.runtime_threads is None:
        settings = settings.model_copy(update={"runtime_threads": SERVE_THREADS_PER_CALL})
    pipeline = _pipeline(args, settings)
    from ui.app import serve

    # The page is up at once; the index is brought up to date behind it, its progress shown there.
    serve(pipeline, host=args.host, port=args.port, update_index=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.runner import GoldError
    from eval.suite import EvalRequest, run_eval

    retrievers = [r.strip() for r in (args.retriever or "hybrid").split(",") if r.strip()]
    unknown = [r for r in retrievers if r not in RETRIEVER_MODES]
    if unknown or not retrievers:
        raise CliError(f"--retriever takes {', '.join(RETRIEVER_MODES)} (comma-separated); got {args.retriever!r}")
    if (args.articles or args.outside) and not args.squad:
        raise CliError("--articles and --outside apply to --squad only")
    request = EvalRequest(
        gold=args.gold,
        squad=args.squad,
        beir=args.beir,
        corpus=args.corpus,
        index=args.index,
        out=args.out,
        retrievers=retrievers,
        limit=args.limit,
        seed=args.seed,
        articles=args.articles,
        outside=args.outside,
        report=args.report,
        verbose=args.verbose,
        progress=sys.stderr.isatty(),
    )
    try:
        run_eval(request, _settings(args))
    except GoldError as exc:
        raise CliError(str(exc)) from exc
    return 0


COMMANDS = {"index": cmd_index, "ask": cmd_ask, "remove": cmd_remove, "restore": cmd_restore, "serve": cmd_serve, "eval": cmd_eval}


def _configure_logging(command: str, debug: bool) -> None:
    """Ours at INFO (a server's log: each question with its outcome and time, refused requests, a newer
    index taken up; any command: a network converted once), at DEBUG with --debug; the libraries' only
    from WARNING: their lines would drown ours."""
    served = command == "serve"
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s" if served else "rag: %(message)s")
    for ours in ("rag", "ui"):
        logging.getLogger(ours).setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.command, args.debug)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`rag ask … | head -3`): end quietly, as other command-line tools do. Python
        # would report the pipe again while flushing stdout at exit, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's status for a writer whose pipe closed
    except CliError as exc:
        print(_terminal_line(f"rag: error: {exc}"), file=sys.stderr)
        return 2
    except _USER_ERRORS as exc:
        message = first_line(exc)
        if isinstance(exc, ValidationError):
            problem = exc.errors()[0]
            message = f"setting {'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
        print(_terminal_line(f"rag: error: {message}"), file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            raise
        print(f"rag: error: unexpected {type(exc).__name__}: {first_line(exc)} (a bug: run again with --debug for the trace)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
