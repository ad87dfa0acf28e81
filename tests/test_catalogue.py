"""The bad-input catalogue: every kind of mistake a user makes, each with the one line they see.

File cases all sit in one corpus that already has a working index; a single `rag index` run over
it must report each bad file with its reason, index the good ones and keep what was indexed.
Command cases run `rag` on their own. Every `rag` here runs as a user without root's power to read
any file (when the tests run as root), so an unreadable file is really unreadable.
"""

from __future__ import annotations

import codecs
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from eval.bench_hostile_files import docx_with
from eval.crash_test import RAG
from rag.index.ingest import MAX_REASONS
from rag.pipeline import Pipeline
from tests.helpers import PERMISSIONS_TESTABLE, SEED_FILE, UNPRIVILEGED, make_corpus, make_pdf

GOOD_JSONL = '{"title": "Ferry strike ends", "text": "The ferry strike in Portmore ended on Sunday after nine days."}'
DEEP = "[" * 100_000 + "]" * 100_000
# issue 9's YAML alias bomb: each line repeats the one before nine times; author would be 9^8 "lol"s (310 MB).
ALIAS_BOMB = (
    "---\na0: &a0 ["
    + ", ".join(["lol"] * 9)
    + "]\n"
    + "".join(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]\n" for n in range(1, 8))
    + "author: *a7\ntitle: Laughs\n---\nA billion laughs.\n"
)


@dataclass(frozen=True)
class Case:
    kind: str  # what the user did
    # the line they see ({corpus} and {tmp} are filled in): a line of the output starts with it;
    # None for a file that is indexed without a word (the titles test finds it in the index)
    expected: str | None
    make: Callable[[Path], object] | None = None  # a file case: makes its file(s) in the corpus
    args: tuple[str, ...] = ()  # a command case: the `rag` arguments
    exit: int = 0
    needs_permissions: bool = False
    lines: int = 1  # the skipped lines a file case shows (a file of many bad records lists MAX_REASONS and a count)


def write(name: str, content: bytes | str) -> Callable[[Path], object]:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return lambda corpus: (corpus / name).write_bytes(raw)


def symlink(name: str, target: str) -> Callable[[Path], object]:
    return lambda corpus: (corpus / name).symlink_to(target)


def unreadable_file(corpus: Path) -> None:
    (corpus / "secret.txt").write_text("Secret memo\n\nThe board met in private.", encoding="utf-8")
    (corpus / "secret.txt").chmod(0o000)


def unreadable_folder(corpus: Path) -> None:
    (corpus / "locked").mkdir()
    (corpus / "locked" / "inside.txt").write_text("Hidden\n\nNobody can list this folder.", encoding="utf-8")
    (corpus / "locked").chmod(0o000)


def fifo(corpus: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")  # reading it would wait forever for a writer


def fifty_megabytes(corpus: Path) -> None:
    line = b"The council met on Monday and discussed the budget for roads and parks.\n"
    with open(corpus / "big.txt", "wb") as handle:
        for _ in range(50_000_000 // len(line) + 1):
            handle.write(line)


ASK = ("ask", "--corpus", "{corpus}")
CASES = [
    # --- files, all in one `rag index` run ---
    Case("empty file", "  empty.txt: empty file", write("empty.txt", b"")),
    Case("whitespace only", "  blank.txt: no text (whitespace only)", write("blank.txt", b"  \n\t \r\n")),
    Case(
        "a PNG renamed .txt",
        "  photo.txt: binary file, not text (e.g. an image or PDF renamed)",
        write("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"),
    ),
    Case("text with NUL bytes", "  nul.txt: binary file, not text (e.g. an image or PDF renamed)", write("nul.txt", b"Title\n\nok \xff\xfe\x00 bad")),
    Case(
        "invalid UTF-8 (not Latin-1 either)",
        "  broken.txt: not valid UTF-8 (bad byte 0x81 at offset 29) and not Latin-1 text; re-save the file as UTF-8",
        write("broken.txt", b"Budget news\n\nThe council met \x81\x8d on Monday."),
    ),
    Case(
        "Latin-1 text (indexed, with a note)",
        "note: latin1.txt: not UTF-8; decoded as Latin-1 (cp1252)",
        write("latin1.txt", "Café reopens in Zürich\n\nThe café on the Bahnhofstrasse reopened, its owner Jürgen Müller said.".encode("latin-1")),
    ),
    Case(
        "UTF-16 with BOM (indexed, with a note)",
        "note: utf16.txt: decoded as UTF-16 (byte-order mark)",
        write("utf16.txt", codecs.BOM_UTF16_LE + "Harbour wall repaired\n\nWorkers finished the harbour wall in Lowtown on Tuesday.".encode("utf-16-le")),
    ),
    Case(
        "a 50 MB text file (refused before it is read)",
        "  big.txt: file is 50.0 MB, over the 20 MB limit (raise RAG_MAX_FILE_BYTES or split the file)",
        fifty_megabytes,
    ),
    Case(
        "malformed JSON", "  bad.json:1: invalid JSON: Unterminated string starting at (column 28)", write("bad.json", b'{"title": "Storm", "text": "Rain fell')
    ),
    Case(
        "JSONL with one bad line (the others indexed)",
        "  feed.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        write("feed.jsonl", f"{GOOD_JSONL}\n{{broken\n{GOOD_JSONL.replace('Ferry', 'Bus').replace('ferry', 'bus')}\n"),
    ),
    Case("JSON without `text`", "  notext.json: missing field 'text' (or 'body')", write("notext.json", b'{"title": "No body here"}')),
    Case("JSON `text` not a string", "  number.json: field 'text' must be a string, not int", write("number.json", b'{"title": "x", "text": 42}')),
    Case("JSON neither an object nor a list", "  scalar.json: JSON must be an article object or a list of them", write("scalar.json", b"42")),
    Case(
        "Markdown with broken YAML front matter",
        "  front.md:3: invalid YAML front matter: mapping values are not allowed here",
        write("front.md", b"---\ntitle: Storm\ndate: : :\n---\nRain fell all day.\n"),
    ),
    Case(
        "HTML that is all script and style",
        "  script.html: no article text found in the HTML (only markup, scripts or styles)",
        write("script.html", b"<html><head><style>p{color:red}</style></head><body><script>var a=1;</script></body></html>"),
    ),
    Case("a symlink loop (a file linking to itself)", "  loop.txt: symbolic link loop; not followed", symlink("loop.txt", "loop.txt")),
    Case("a symlink loop (a folder linking to its parent)", "  again: symbolic link loop: points back to {corpus}; not followed", symlink("again", ".")),
    Case("a broken symlink", "  gone.txt: broken symbolic link (its target missing.txt does not exist)", symlink("gone.txt", "missing.txt")),
    Case("an unreadable file (no read permission)", "  secret.txt: cannot read: Permission denied", unreadable_file, needs_permissions=True),
    Case("an unreadable folder (no permission to list it)", "  locked: cannot read folder: Permission denied", unreadable_folder, needs_permissions=True),
    Case("a named pipe called .txt (would block a reader)", "  pipe.txt: not a regular file but a named pipe (FIFO)", fifo),
    Case(
        "a file type that is not supported",
        "  report.odt: unsupported file type '.odt' (supported: .txt .md .html .htm .json .jsonl .pdf .docx)",
        write("report.odt", b"PK\x03\x04"),
    ),
    Case(
        "a file without an extension",
        "  README: unsupported file type '(none)' (supported: .txt .md .html .htm .json .jsonl .pdf .docx)",
        write("README", b"notes"),
    ),
    Case(
        "an encrypted PDF",
        "  locked.pdf: encrypted PDF that needs a password: save an unprotected copy to index it",
        write("locked.pdf", make_pdf(["Budget talks", "", "The council met on Monday."], password="secret")),
    ),
    Case(
        "a scanned PDF (no text layer)", "  scan.pdf: no text layer in its 1 page (a scanned PDF?): run it through OCR first", write("scan.pdf", make_pdf([]))
    ),
    Case("a broken DOCX", "  broken.docx: not a readable DOCX file (BadZipFile: File is not a zip file)", write("broken.docx", b"this is not a zip")),
    # --- issue 32: each of these stopped the whole run, or was indexed when it should not be ---
    Case(
        "a DOCX whose document.xml is malformed",
        "  malformed.docx: not a readable DOCX file (XMLSyntaxError:",
        write("malformed.docx", docx_with(b"<w:document><w:body><w:p>cut off")),
    ),
    Case(
        "a DOCX entity bomb",
        "  entities.docx: DOCX not indexed: its part word/document.xml declares a DTD or entities, which Word never writes (an entity bomb?)",
        write("entities.docx", docx_with(b'<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><w:document>&b;</w:document>')),
    ),
    Case(
        "a lone surrogate escape in a JSONL record",
        "  surrogate.jsonl:1: field 'text' holds \\udc00 at character 2, an unpaired surrogate escape and not text",
        write("surrogate.jsonl", '{"title": "Odd", "text": "a \\udc00 b"}\n'),
    ),
    Case(
        "a JSON list of 5,000 numbers",
        "  zeros.json: and 4,900 more bad records (the first 100 are listed)",
        write("zeros.json", "[" + ",".join(["0"] * 5_000) + "]"),
        lines=MAX_REASONS + 1,
    ),
    Case(
        "a file name that is not UTF-8",
        "  junk\ufffd\ufffd.txt: its name is not valid UTF-8 (the bad bytes show as \ufffd): rename the file to index it",
        write(os.fsdecode(b"junk\xff\xfe.txt"), "Junk\n\nA file with a name in no encoding."),
    ),
    Case(
        "a link to a file outside the corpus",
        "  passwd.txt: symbolic link to a file outside the corpus folder (/etc/passwd); not followed",
        symlink("passwd.txt", "/etc/passwd"),
    ),
    Case(
        "line separators U+2028, U+2029, U+0085 in an article (indexed; the index stays loadable)",
        None,
        write("separators.txt", "Bird count\n\nWe saw 77 birds\u2028today at the lake\u2029in the\x85rain.\n"),
    ),
    Case(
        "a raw U+0085 inside a JSONL string (indexed)",
        None,
        write("nel.jsonl", '{"title": "Night ferry", "text": "The night\x85ferry to Portmore sails at ten."}\n'),
    ),
    Case(
        "zero-width spaces inside words (indexed and searchable)",
        None,
        write("zerowidth.txt", "Glacier report\n\nThe gla\u200bcier above Val\u200bdora lost 12 metres of ice this summer.\n"),
    ),
    Case(
        "JSON nested 100,000 deep", "  deep.json:1: JSON nested more than 100 levels deep (the limit)", write("deep.json", '{"text": "x", "y": ' + DEEP + "}")
    ),
    Case(
        "a JSONL line nested 100,000 deep (the other lines indexed)",
        "  deep.jsonl:2: JSON nested more than 100 levels deep (the limit)",
        write("deep.jsonl", '{"title": "Tram line opens", "text": "The new tram line to Eastfield opened on Friday."}\n{"text": "x", "y": ' + DEEP + "}\n"),
    ),
    Case(
        "YAML front matter nested 40,000 deep",
        "  deepfront.md:2: invalid YAML front matter: nested more than 100 levels deep (the limit)",
        write("deepfront.md", "---\ny: " + "[" * 40_000 + "]" * 40_000 + "\n---\nBody.\n"),  # within the front matter's size limit
    ),
    Case(
        "a YAML alias bomb in front matter",
        "  bomb.md:3: invalid YAML front matter: an alias (*a0) repeats another field; aliases are not allowed",
        write("bomb.md", ALIAS_BOMB),
    ),
    Case(
        "a metadata field over the size cap",
        "  longauthor.json: field 'author' is 5000 characters long; the limit is 2000",
        write("longauthor.json", '{"text": "The mayor spoke.", "author": "' + "x" * 5000 + '"}'),
    ),
    Case(
        "a 13th month in YAML front matter",
        "  month.md: invalid YAML front matter: month must be in 1..12",
        write("month.md", "---\ndate: 2020-13-01\n---\nBody.\n"),
    ),
    Case(
        "a JSON integer of 5,000 digits",
        "  digits.json:1: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits",
        write("digits.json", '{"text": "x", "count": ' + "7" * 5000 + "}"),
    ),
    Case(
        "two files with the same text",
        f"  zz-copy.txt: same text as {SEED_FILE}; indexed once",
        lambda corpus: shutil.copy(corpus / SEED_FILE, corpus / "zz-copy.txt"),
    ),
    # --- commands, one `rag` run each ---
    Case("a corpus folder that does not exist", "rag: error: corpus folder not found: {tmp}/no-such-folder", args=("index", "{tmp}/no-such-folder"), exit=1),
    Case("a corpus that is a file", "rag: error: corpus is not a folder: {corpus}/latin1.txt", args=("index", "{corpus}/latin1.txt"), exit=1),
    Case(
        "a folder with nothing readable, over a working index",
        "index left as it was: no article could be read from {tmp}/empty-folder (0 skipped); the index keeps its 9 articles "
        "(to empty it, run `rag index --rebuild`)",
        args=("index", "{tmp}/empty-folder", "--index", "{corpus}/.rag-index"),
    ),
    Case("an empty question", "rag: error: the question is empty", args=(*ASK, ""), exit=1),
    Case("a whitespace question", "rag: error: the question is empty", args=(*ASK, " \t\n "), exit=1),
    Case("a 10,000-character question", "rag: error: the question is 10000 characters long; the limit is 1000", args=(*ASK, "a" * 10_000), exit=1),
    Case(
        "control characters in a question (dropped, then answered)", "answer: Hua Chunying", args=(*ASK, "Who is the Foreign Ministry\x07 spokesperson?\x1b[2J")
    ),
    Case("a question of control characters only", "rag: error: the question is empty", args=(*ASK, "\x07\x1b\x7f"), exit=1),
    Case("a question of emoji only", "rag: error: the question has no words or numbers to search for", args=(*ASK, "🤔🙈"), exit=1),
    Case(
        "--since not as YYYY-MM-DD",
        "rag: error: argument --since: '05/02/2020' is not a date as YYYY-MM-DD (see `rag ask --help`)",
        args=(*ASK, "Who spoke?", "--since", "05/02/2020"),
        exit=2,
    ),
    Case(
        "--since after --until",
        "rag: error: --since 2021-01-01 is after --until 2020-01-01",
        args=(*ASK, "Who spoke?", "--since", "2021-01-01", "--until", "2020-01-01"),
        exit=2,
    ),
    Case("--k 0", "rag: error: argument --k: 0 must be at least 1 (see `rag ask --help`)", args=(*ASK, "Who spoke?", "--k", "0"), exit=2),
    Case(
        "--k 1000000000",
        "rag: error: argument --k: 1000000000 must be at most 100 (see `rag ask --help`)",
        args=(*ASK, "Who spoke?", "--k", "1000000000"),
        exit=2,
    ),
    Case(
        "--since without dashes",
        "rag: error: argument --since: '20200205' is not a date as YYYY-MM-DD (see `rag ask --help`)",
        args=(*ASK, "Who spoke?", "--since", "20200205"),
        exit=2,
    ),
]
FILE_CASES = [case for case in CASES if case.make]
REPORTED = [case for case in CASES if case.expected]


def rag(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*UNPRIVILEGED, RAG, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, settings, encoder):
    """(the `rag index` run over every bad file, the corpus, the temporary folder)."""
    tmp = tmp_path_factory.mktemp("catalogue")
    corpus = make_corpus(tmp / "corpus", extra=False)
    Pipeline(settings, corpus=corpus, encoder=encoder).index()  # the working index the bad files meet
    (tmp / "empty-folder").mkdir()
    for case in FILE_CASES:
        if PERMISSIONS_TESTABLE or not case.needs_permissions:
            case.make(corpus)
    return rag("index", str(corpus)), corpus, tmp


@pytest.mark.parametrize("case", REPORTED, ids=[case.kind for case in REPORTED])
def test_each_bad_input_gets_a_clear_one_line_reason(catalogue, case):
    if case.needs_permissions and not PERMISSIONS_TESTABLE:
        pytest.skip("running as root without setpriv: every file is readable, so a permission error cannot happen")
    index_run, corpus, tmp = catalogue
    result = index_run if case.make else rag(*(arg.format(corpus=corpus, tmp=tmp) for arg in case.args))
    expected = case.expected.format(corpus=corpus, tmp=tmp)
    assert result.returncode == case.exit, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert [line for line in lines if line.startswith(expected)], f"{expected!r} not in:\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr
    if case.exit:
        assert result.stderr.count("\n") == 1  # the error is the one line


def test_a_run_over_bad_inputs_indexes_the_good_ones_and_loses_nothing(catalogue, settings, encoder):
    index_run, corpus, _ = catalogue
    assert index_run.returncode == 0, index_run.stderr
    skipped = [line for line in index_run.stdout.splitlines() if line.startswith("  ")]
    assert index_run.stdout.splitlines()[0].startswith("indexed 9 articles")
    made = [case for case in FILE_CASES if PERMISSIONS_TESTABLE or not case.needs_permissions]
    assert f"skipped {len(skipped)}:" in index_run.stdout and len(skipped) == sum(c.lines for c in made if c.expected and c.expected.startswith("  "))
    pipeline = Pipeline(settings, corpus=corpus, encoder=encoder)
    titles = sorted(a.title for a in pipeline.store.load(settings).articles.values())
    assert titles == [
        "Bird count",
        "Bus strike ends",
        "Café reopens in Zürich",
        "China calls for open, equitable environment for 5G technology",
        "Ferry strike ends",
        "Glacier report",
        "Harbour wall repaired",
        "Night ferry",
        "Tram line opens",
    ]
    assert pipeline.ask("Who is the Foreign Ministry spokesperson?").span == "Hua Chunying"  # the earlier index still answers
    # zero-width spaces were taken out at load, so the words they split are found
    assert pipeline.retrieve("Valdora glacier", retriever="bm25")[0].article.path == "zerowidth.txt"
