"""End to end through the command line, as a user types it."""

import contextlib
import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import ui.app
from rag.cli import main
from rag.index.ingest import normalize_text
from rag.index.store import MARKER, IndexStore
from tests.helpers import ROOT, SEED_FILE, SEEDS, make_corpus, write_bank_stories

RAG = str(Path(sys.executable).parent / "rag")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder holding a copy of seeds/, as the current directory (the CLI's defaults are relative)."""
    shutil.copytree(SEEDS, tmp_path / "seeds", ignore=shutil.ignore_patterns(".rag-index"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args, cwd):
    return subprocess.run([RAG, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_ask_json_follows_the_contract(workdir):
    result = run("ask", "Who is the Foreign Ministry spokesperson?", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["found"] is True and "Hua Chunying" in data["answer"] and data["span"] == "Hua Chunying"
    first = data["citations"][0]
    # No folder named: the library, outside the checkout and the working folder, holds the seeds' copy.
    library = Path(os.environ["RAG_DATA_DIR"]) / "library"
    assert first["path"] == str(library / "seeds" / SEED_FILE) and first["published"] == "2020-02-05"
    assert first["title"] == "China calls for open, equitable environment for 5G technology"
    text = (workdir / "seeds" / SEED_FILE).read_text(encoding="utf-8")
    body = normalize_text(text[text.index("BEIJING") :])  # offsets are into the text as loaded: NFKC, no zero-width characters
    assert body[first["start"] : first["end"]] == data["answer"]
    assert (library / ".rag-index" / "CURRENT").is_file() and not (workdir / "seeds" / ".rag-index").exists()


def test_index_twice_embeds_nothing_the_second_time(workdir, capsys):
    assert main(["index", "seeds"]) == 0
    assert "chunks embedded" in capsys.readouterr().out
    assert main(["index", "seeds"]) == 0
    assert "nothing changed, nothing embedded" in capsys.readouterr().out


def test_not_found_is_exit_zero_with_related_passages(workdir, capsys):
    assert main(["ask", "Who won the 2022 World Cup?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["found"] is False and data["answer"] is None and data["related"]


def test_human_output_marks_the_span_and_cites(workdir, capsys):
    assert main(["ask", "Who is the Foreign Ministry spokesperson?", "--k", "3", "--retriever", "bm25"]) == 0
    out = capsys.readouterr().out
    assert "**Hua Chunying**" in out and "[1] China calls for open" in out and "2020-02-05" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", ""], "the question is empty"),
        (["ask", "x", "--corpus", "missing-folder"], "corpus folder not found: missing-folder"),
        (["ask", "Who?", "--since", "2021-01-01", "--until", "2020-01-01"], "is after --until"),
        (["eval", "--gold", "missing.jsonl", "--out", "r.json"], "gold file not found: missing.jsonl"),
        (["eval", "--gold", "missing.jsonl", "--out", "r.json", "--retriever", "tfidf"], "--retriever takes"),
    ],
)
def test_user_mistakes_are_one_line_errors(workdir, capsys, args, message):
    assert main(args) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_bug_is_one_line_that_says_so_and_debug_shows_the_trace(workdir, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug, not the user's mistake")

    monkeypatch.setattr("rag.pipeline.Pipeline.ask", broken)
    assert main(["ask", "Who is the Foreign Ministry spokesperson?", "--corpus", "seeds"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the indexing report
    assert last == "rag: error: unexpected ValueError: a bug, not the user's mistake (a bug: run again with --debug for the trace)"
    with pytest.raises(ValueError, match="a bug"):
        main(["ask", "Who is the Foreign Ministry spokesperson?", "--corpus", "seeds", "--debug"])


def test_bad_date_is_rejected_by_the_parser(workdir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "Who?", "--since", "05/02/2020"])
    assert exit_info.value.code == 2
    assert "not a date as YYYY-MM-DD" in capsys.readouterr().err


# Each reader's bar on the seed gold: the span reader's is issue 8's (its figures: eval/RESULTS.md,
# "Span reader"), the sentence reader's the one it met as the default before it.
SEED_FLOORS = {
    "span": {"exact_match": 0.6, "contains_answer": 0.9, "abstain_accuracy": 0.85, "false_abstain_rate": 0.1},
    "sentence": {"exact_match": 0.1, "contains_answer": 0.85, "abstain_accuracy": 0.8, "false_abstain_rate": 0.1},
}


@pytest.mark.parametrize("reader", ["span", "sentence"])
def test_eval_on_the_seed_gold_meets_the_bar(workdir, capsys, monkeypatch, reader):
    monkeypatch.setenv("RAG_READER", reader)
    out = workdir / "report.json"
    assert main(["eval", "--corpus", "seeds", "--gold", str(ROOT / "eval/gold/seeds.jsonl"), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report) == ["questions", "answerable", "unanswerable", "retrieval", "answer", "latency_ms", "index"]
    assert list(report["retrieval"]) == ["recall@1", "recall@5", "recall@10", "mrr@10"]
    assert list(report["answer"]) == ["exact_match", "f1", "contains_answer", "citation_accuracy", "abstain_accuracy", "false_abstain_rate"]
    for metric, floor in SEED_FLOORS[reader].items():
        worse = report["answer"][metric] > floor if metric == "false_abstain_rate" else report["answer"][metric] < floor
        assert not worse, (metric, report["answer"][metric])
    assert "contains_answer" in capsys.readouterr().out


def test_eval_several_retrievers_in_one_run(workdir):
    out = workdir / "runs.json"
    assert main(["eval", "--gold", str(ROOT / "eval/gold/seeds.jsonl"), "--out", str(out), "--retriever", "bm25,dense,hybrid"]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert list(runs) == ["bm25", "dense", "hybrid"]
    assert all(run["questions"] == 30 for run in runs.values())


def _refused(error: OSError):
    def write(path, contents):
        raise error

    return write


def test_a_removal_the_index_cannot_take_puts_the_file_back_and_says_so(workdir, capsys, monkeypatch):
    """On a full disk the file was moved aside and the message said only that the index was kept."""
    assert main(["index", "seeds"]) == 0
    (workdir / "seeds" / "new.txt").write_text("Bridge reopens\n\nThe old bridge reopened on Monday.", encoding="utf-8")
    assert main(["index", "seeds"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("rag.index.store._write", _refused(OSError(errno.ENOSPC, "No space left on device")))
    assert main(["remove", "new.txt", "--corpus", "seeds"]) == 1
    assert "rag: error: new.txt was not removed: the index could not be updated (disk full" in capsys.readouterr().err
    assert (workdir / "seeds" / "new.txt").is_file() and not (workdir / "seeds" / ".removed" / "new.txt").exists()


@pytest.mark.parametrize(
    "refusal, cause",
    [
        ("disk full", r"disk full: \d+\.\d\d MB free, \d+\.\d\d MB needed \(index folder {index}\)"),
        ("read-only", r"index folder {index} is read-only \(a read-only file system\)"),
        ("lock held", r"another `rag index` \(pid {pid}\) is updating {index}"),
    ],
)
def test_ask_and_serve_answer_from_the_index_when_it_cannot_be_updated(workdir, capsys, caplog, monkeypatch, refusal, cause):
    assert main(["index", "seeds"]) == 0
    (workdir / "seeds" / "new.txt").write_text("Bridge reopens\n\nThe old bridge reopened on Monday.", encoding="utf-8")
    index = Path("seeds", ".rag-index")  # named as the user gave it: the corpus is seeds/ in the working folder
    errors = {"disk full": OSError(errno.ENOSPC, "No space left on device"), "read-only": OSError(errno.EROFS, "Read-only file system")}
    served = []

    def serve(pipeline, host, port, update_index):  # the server's index update, run here before the question
        assert update_index
        ui.app._update_index(pipeline)
        served.append(pipeline.ask("Who is the Foreign Ministry spokesperson?").span)

    monkeypatch.setattr("ui.app.serve", serve)
    capsys.readouterr()
    with contextlib.ExitStack() as refusing:
        if refusal == "lock held":  # as a `rag index` in another process holds it
            refusing.enter_context(IndexStore(index).lock())
        else:  # tests run as root, where a read-only mode does not stop writes: the OS's refusal is simulated
            refusing.enter_context(monkeypatch.context()).setattr("rag.index.store._write", _refused(errors[refusal]))
        assert main(["ask", "Who is the Foreign Ministry spokesperson?", "--corpus", "seeds"]) == 0
        asked = capsys.readouterr()
        caplog.clear()
        assert main(["serve", "--corpus", "seeds"]) == 0
    warning = f"index left as it was: {cause.format(index=re.escape(str(index)), pid=os.getpid())}; answering from it until it can be updated"
    assert re.fullmatch(warning + "\n", asked.err), asked.err
    assert any(re.fullmatch(warning, r.getMessage()) for r in caplog.records), caplog.text
    assert "**Hua Chunying**" in asked.out and served == ["Hua Chunying"]
    assert main(["ask", "When did the old bridge reopen?", "--corpus", "seeds"]) == 0  # refused no more: the new file is indexed now
    assert "indexed 2 articles" in capsys.readouterr().err


def test_serve_on_a_busy_port_is_one_line(workdir, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "--port" in err


def test_a_time_in_the_question_is_shown_and_can_be_turned_off(tmp_path, capsys):
    corpus = tmp_path / "bank"
    corpus.mkdir()
    write_bank_stories(corpus)
    question = "What growth did the Bank of England forecast on March 3?"
    assert main(["ask", question, "--corpus", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("(searched articles of 1987-03-03 (“on March 3”); --no-time-filter searches every date)\n")
    assert "3.1 percent" in out
    assert main(["ask", question, "--corpus", str(corpus), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["time_filter"]["since"] == "1987-03-03" and data["time_filter"]["applied"] is True
    assert main(["ask", question, "--corpus", str(corpus), "--json", "--no-time-filter"]) == 0
    assert "time_filter" not in json.loads(capsys.readouterr().out)


def test_ask_only_about_chosen_articles(capsys, tmp_path):
    question = "What growth did the Bank of England forecast?"
    corpus = tmp_path / "bank"
    corpus.mkdir()
    write_bank_stories(corpus)
    assert main(["ask", question, "--corpus", str(corpus), "--json", "--article", "boe-0302.md"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {Path(c["path"]).name for c in data["citations"]} == {"boe-0302.md"} and data["span"] == "2.5 percent"
    assert main(["ask", question, "--corpus", str(corpus), "--article", "nowhere.md"]) == 1
    assert "no indexed article has the id or file 'nowhere.md'" in capsys.readouterr().err


def test_control_characters_of_titles_and_file_names_are_printed_as_escapes(capsys, tmp_path):
    """A title's escape code cleared the screen of whoever ran `rag ask`; a newline in a file name forged a line."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tram.json").write_text(json.dumps({"title": "\x1b[2JTram\nline", "text": "The new tram line to Eastfield opened on Friday."}), encoding="utf-8")
    (corpus / "bad\nskipped: all.txt").write_bytes(b"")
    assert main(["index", str(corpus)]) == 0
    report = capsys.readouterr()
    assert "bad\\nskipped: all.txt: empty file" in report.out + report.err and "\nskipped: all.txt" not in report.out + report.err
    assert main(["ask", "When did the tram line to Eastfield open?", "--corpus", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "[1] \\x1b[2JTram\\nline — undated — " in out and "**Friday**" in out


def test_tell_me_more_about_a_subject_quotes_sentences(workdir, capsys):
    assert main(["ask", "Tell me more about the 5G security report", "--corpus", "seeds"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("More on “the 5G security report”:\n“") and "[2]" in out
    assert main(["ask", "Tell me more", "--corpus", "seeds"]) == 1
    assert "ask a question first" in capsys.readouterr().err


def test_a_source_in_the_question_is_shown_and_can_be_turned_off(workdir, capsys):
    question = "What did Xinhua say about the 5G report?"
    assert main(["ask", question, "--corpus", "seeds"]) == 0
    assert "(searched articles from Xinhua (“did Xinhua”); --no-source-filter searches every source)\n" in capsys.readouterr().out
    assert main(["ask", question, "--corpus", "seeds", "--json", "--no-source-filter"]) == 0
    assert "source_filter" not in json.loads(capsys.readouterr().out)


def test_a_closed_pipe_ends_the_answer_quietly(workdir):
    """`rag ask … | head -1`: the reader stops reading; no 'unexpected BrokenPipeError (a bug)'. `true` reads
    nothing and is gone long before the answer is written, so the pipe is always closed by then."""
    command = f"'{RAG}' ask 'Who is the Foreign Ministry spokesperson?' | true; echo ${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", command], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert "BrokenPipe" not in result.stderr and "a bug" not in result.stderr and "Exception" not in result.stderr, result.stderr
    assert result.stdout.strip() == "141"


def _contents(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder below folder, with each file's bytes: what a refused run must leave as it was."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _link_into(corpus: Path) -> Path:
    (corpus / "sub").mkdir()
    (corpus.parent / "link").symlink_to(corpus / "sub")
    return corpus.parent / "link"


@pytest.mark.parametrize(
    "index_of, says",
    [
        (lambda corpus: corpus, "is the corpus folder"),
        (lambda corpus: corpus.parent, "holds the corpus folder {corpus}"),
        (_link_into, "is {corpus}/sub, inside the corpus folder {corpus}"),  # a folder the loader reads
    ],
    ids=["the corpus itself", "a folder holding the corpus", "a link into the corpus"],
)
def test_an_index_folder_that_is_or_holds_the_corpus_is_refused_and_nothing_is_deleted(tmp_path, capsys, index_of, says):
    corpus = make_corpus(tmp_path / "C", extra=False)
    (corpus / "gen-report.txt").write_text("Annual report\n\nThe harbour board met on Monday.", encoding="utf-8")  # named like a generation
    index = index_of(corpus)
    before = _contents(tmp_path)
    assert main(["index", str(corpus), "--index", str(index)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"rag: error: the index folder {index} {says.format(corpus=corpus)}") and err.count("\n") == 1
    assert "nothing was changed. Choose another folder with --index" in err
    assert _contents(tmp_path) == before


def test_a_folder_of_other_files_is_refused_as_the_index_and_left_as_it_was(tmp_path, capsys):
    corpus = make_corpus(tmp_path / "corpus", extra=False)
    folder = tmp_path / "papers"
    (folder / "gen-2020").mkdir(parents=True)  # each named like a generation or a save's leftover
    (folder / "gen-2020" / "notes.txt").write_text("minutes", encoding="utf-8")
    (folder / ".tmp-draft").write_text("draft", encoding="utf-8")
    (folder / "gen-report.txt").write_text("report", encoding="utf-8")
    before = _contents(folder)
    assert main(["index", str(corpus), "--index", str(folder)]) == 1
    assert capsys.readouterr().err == (
        f"rag: error: the index folder {folder} holds files but is not a rag index; nothing in it was changed. Choose an empty or new folder with --index\n"
    )
    assert _contents(folder) == before


@pytest.mark.parametrize("present", [True, False], ids=["an empty folder", "a missing folder"])
def test_an_empty_or_missing_folder_becomes_the_index(tmp_path, capsys, present):
    corpus = make_corpus(tmp_path / "corpus", extra=False)
    index = tmp_path / "index"
    if present:
        index.mkdir()
    assert main(["index", str(corpus), "--index", str(index)]) == 0
    assert main(["ask", "Who is the Foreign Ministry spokesperson?", "--corpus", str(corpus), "--index", str(index)]) == 0
    assert "**Hua Chunying**" in capsys.readouterr().out
    assert (index / MARKER).is_file()


def test_an_index_built_before_the_marker_still_opens_and_updates(tmp_path, capsys):
    corpus = make_corpus(tmp_path / "corpus", extra=False)
    assert main(["index", str(corpus)]) == 0
    index = corpus / ".rag-index"
    (index / MARKER).unlink()  # as an earlier version left it: CURRENT naming its generation
    assert main(["ask", "Who is the Foreign Ministry spokesperson?", "--corpus", str(corpus)]) == 0
    assert "**Hua Chunying**" in capsys.readouterr().out
    (corpus / "new.txt").write_text("Bridge reopens\n\nThe old bridge reopened on Monday.", encoding="utf-8")
    assert main(["index", str(corpus)]) == 0
    assert "indexed 2 articles" in capsys.readouterr().out
    assert (index / MARKER).is_file() and len(list(index.glob("gen-*"))) == 1  # claimed, and its old generation removed
