"""Loading articles from a folder: one loader per format, every bad file reported, none fatal."""

from __future__ import annotations

import codecs
import datetime as dt
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dateutil import parser as date_parser
from pydantic import BaseModel

from rag.index.chunking import dateline, is_dateline, split_sentences
from rag.index.documents import DocumentError, docx_text, pdf_text
from rag.schema import Article
from rag.text import normalize_text

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".pdf", ".docx")
_BINARY_MAGIC = (b"\x89PNG", b"%PDF", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x7fELF")
_PUBLISHED_LINE = re.compile(r"^\s*Published:\s*(?P<published>.*?)\s*(?:\|\s*Updated:\s*(?P<updated>.*?)\s*)?$")
_BYLINE = re.compile(r"^\s*By\s+(?P<byline>\S.{0,120})$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_MD_HEADING = re.compile(r"^#\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)
_TITLE_MAX_WORDS = 25
TITLE_MAX_CHARS = 300  # a title line's, and a title made from the text's (a word without spaces can be megabytes)
# A title made from an untitled article's lead: its first words, from this much of its text.
TITLE_FROM_TEXT_WORDS = 12
_TITLE_FROM_TEXT_CHARS = 2_000
# Parser limits. json and the YAML composer recurse once per level of nesting: the limit keeps them far
# below Python's recursion limit, and far above what an article needs.
MAX_NESTING = 100
MAX_FILE_BYTES = 20_000_000  # a file's bytes, and the characters of text extracted from a PDF or DOCX (RAG_MAX_FILE_BYTES)
MAX_REASONS = 100  # bad records of one file listed one by one; the rest are counted
# trafilatura's time grows faster than the page (8 MB took 27 s, ~2.5 times more per doubling); a news
# page is well under a million characters
MAX_HTML_CHARS = 5_000_000
MAX_FRONT_MATTER_CHARS = 100_000  # a .md file's YAML header: its fields, each within MAX_FIELD_CHARS
MAX_FIELD_CHARS = 2_000  # a metadata field (title, author, date, source, url); the text is bounded by the file size
# A JSON string (skipped whole, brackets inside it are text) or a bracket (counted).
_JSON_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class IngestError(ValueError):
    """A file (or one record in it) that cannot become an article; the message says why."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line


class CorpusError(ValueError):
    """The corpus folder itself is unusable (missing, not a folder)."""


class SkippedFile(BaseModel):
    path: str
    line: int | None = None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


class CorpusLoad(BaseModel):
    """What one pass over a corpus folder found."""

    articles: list[Article]
    skipped: list[SkippedFile]
    notes: list[SkippedFile] = []  # loaded, with a caveat (e.g. decoded as Latin-1)
    file_hashes: dict[str, str]  # relative path -> fingerprint of every file seen (see ArticleLoader.fingerprint)


class FileLoad(BaseModel):
    """What one file gave, and the fingerprint of the very bytes it was made from."""

    articles: list[Article] = []
    skipped: list[SkippedFile] = []
    notes: list[SkippedFile] = []
    fingerprint: str


@dataclass(frozen=True)
class _FileBytes:
    """One look at a file: its bytes (when it is one to parse) or why not, and their fingerprint. The fingerprint
    comes from the same look, so a file edited meanwhile is recorded as what was read, and shows as changed later."""

    fingerprint: str
    raw: bytes = b""
    problem: IngestError | None = None


def article_id(rel_path: str, record: int | None = None) -> str:
    key = rel_path if record is None else f"{rel_path}#{record}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


# Two parser defaults that differ in every field (both in leap years, so "February 29" parses): a part of
# a date or time the text gives comes out the same under both, a part the parser made up does not.
_PROBES = (dt.datetime(1904, 1, 1, 0, 0, 0), dt.datetime(1908, 2, 2, 13, 31, 31))
_PLAUSIBLE_YEARS = range(1800, 2201)  # a PDF's CreationDate "D:99999999" is no year 9999


def _parsed_twice(value: object) -> tuple[dt.datetime, dt.datetime] | None:
    """The text parsed under each of the two defaults, or None when it is no date or time at all."""
    try:
        first, second = (date_parser.parse(str(value), fuzzy=True, default=probe) for probe in _PROBES)
    except (ValueError, OverflowError):
        return None
    return first, second


def parse_date(value: object) -> dt.date | None:
    """A date from whatever a header or field holds; None when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value if value.year in _PLAUSIBLE_YEARS else None
    parsed = _parsed_twice(value)
    # A date is only what the text itself gives: a year and a month at least, the day where it gives one.
    # "Version 3" is no 3rd of a month, "Route 66 closure" no 2066.
    if parsed is None or (parsed[0].year, parsed[0].month) != (parsed[1].year, parsed[1].month) or parsed[0].year not in _PLAUSIBLE_YEARS:
        return None
    first, second = parsed
    return first.date() if first.day == second.day else first.date().replace(day=1)


def parse_time(value: object) -> dt.time | None:
    """The time of day a header or field gives ("20:16, February 5, 2020"), None when it gives none."""
    if isinstance(value, dt.datetime):
        return value.time().replace(microsecond=0)
    if value is None or value == "" or isinstance(value, dt.date):
        return None
    parsed = _parsed_twice(value)
    if parsed is None or (parsed[0].hour, parsed[0].minute) != (parsed[1].hour, parsed[1].minute):
        return None
    first, second = parsed
    return dt.time(first.hour, first.minute, first.second if first.second == second.second else 0)


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """Bytes to text, with a note when it was not UTF-8. Raises IngestError for binary data."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), None
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16's: FF FE starts both
        try:
            return raw.decode("utf-32"), "decoded as UTF-32 (byte-order mark)"
        except UnicodeDecodeError as exc:
            raise IngestError(f"UTF-32 byte-order mark but invalid UTF-32 at byte {exc.start}") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "decoded as UTF-16 (byte-order mark)"
        except UnicodeDecodeError as exc:
            raise IngestError(f"UTF-16 byte-order mark but invalid UTF-16 at byte {exc.start}") from exc
    if raw.startswith(_BINARY_MAGIC) or b"\x00" in raw[:8192]:
        utf16 = None if raw.startswith(_BINARY_MAGIC) else _utf16_without_bom(raw)
        if utf16 is None:
            raise IngestError("binary file, not text (e.g. an image or PDF renamed)")
        return utf16
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        utf8_error = exc
    # Old news exports are often Latin-1/cp1252: accept them when every character is printable.
    text = raw.decode("cp1252", errors="replace")
    if "\ufffd" not in text and all(ch.isprintable() or ch in "\r\n\t\f" for ch in text):
        return text, "not UTF-8; decoded as Latin-1 (cp1252)"
    raise IngestError(f"not valid UTF-8 (bad byte 0x{raw[utf8_error.start]:02x} at offset {utf8_error.start}) and not Latin-1 text; re-save the file as UTF-8")


def _utf16_without_bom(raw: bytes) -> tuple[str, str] | None:
    """UTF-16 saved without its byte-order mark (Windows tools do): in text of mostly Latin letters every
    other byte is NUL, on the odd bytes for little-endian, the even ones for big-endian. None when the
    bytes do not decode to printable text that way."""
    sample = raw[:8192]
    if len(raw) % 2:
        return None
    for encoding, high_bytes in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
        if high_bytes.count(0) >= 0.6 * len(high_bytes):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                return None
            if all(ch.isprintable() or ch in "\r\n\t\f" for ch in text):
                return text, f"decoded as {encoding.upper()} (no byte-order mark)"
    return None


def _first_clause(exc: ValueError) -> str:
    """What Python's own value error says, without its advice to programmers ("; use sys.set_int_max_str_digits()…")."""
    return str(exc).split(";")[0]


def _first_nonblank(lines: list[str], start: int) -> int:
    while start < len(lines) and not lines[start].strip():
        start += 1
    return start


def _looks_like_title(line: str) -> bool:
    """A short line that does not end as a sentence does and does not open with a dateline (a wire
    story's first line, cut by its hard wrap)."""
    stripped = line.strip()
    short = 0 < len(stripped.split()) <= _TITLE_MAX_WORDS and len(stripped) <= TITLE_MAX_CHARS  # one 100 KB "word" is no title
    return short and not stripped.endswith((".", "?", "!", ":", ";", ",")) and dateline(stripped) is None


def title_from_text(text: str) -> str | None:
    """A title for an article whose file gives none: its lead sentence (after any dateline), cut after
    TITLE_FROM_TEXT_WORDS words with an ellipsis; None for a text with no words."""
    head = text[:_TITLE_FROM_TEXT_CHARS]
    for start, end in split_sentences(head):
        if is_dateline(head, start, end):
            continue
        words = head[start:end].split()
        title = " ".join(words[:TITLE_FROM_TEXT_WORDS])
        cut = len(words) > TITLE_FROM_TEXT_WORDS or len(title) > TITLE_MAX_CHARS
        title = title[:TITLE_MAX_CHARS].rstrip(",;:-–—.")
        if any(ch.isalnum() for ch in title):  # a sentence of marks alone ("***") titles nothing
            return title + ("…" if cut else "")
    return None


# Bidirectional overrides and isolates: in a title or name "\u202etxt.exe" shows as "exe.txt", a spoofed
# library list; in a metadata field they have no use a reader sees.
_DIRECTION_MARKS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def _shown_field(text: str) -> str:
    """A title, byline or source as the library shows it: normalised as the text is, without direction marks."""
    return normalize_text(text).translate(_DIRECTION_MARKS)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _check_unicode(record: int | None, **fields: object) -> None:
    """JSON and YAML escapes can spell an unpaired UTF-16 surrogate ("\\udc00"): not a character, and no
    UTF-8 writer (the index, a reply) can store it; the field is named rather than the file failing later."""
    for name, value in fields.items():
        found = _SURROGATE.search(value) if isinstance(value, str) else None
        if found:
            escape = f"\\u{ord(found.group()):04x}"
            raise IngestError(f"field '{name}' holds {escape} at character {found.start():,}, an unpaired surrogate escape and not text", line=record)


def _make_article(
    rel: str,
    record: int | None,
    title: str | None,
    text: str,
    byline: str | None = None,
    source: str | None = None,
    published: object = None,
    updated: object = None,
    **meta: Any,
) -> Article:
    """The article, its dates parsed from whatever the source gave, with their time of day when it gave one."""
    _check_unicode(record, text=text, title=title, byline=byline, source=source, published=published, updated=updated, **meta)
    text = normalize_text(text)
    if not text.strip():
        raise IngestError("no article text", line=record)
    title = _shown_field(title or "").strip()
    made = None if title else title_from_text(text)
    return Article(
        id=article_id(rel, record),
        title=title or made or Path(rel).stem,
        title_from_text=not title,
        path=rel,
        record=record,
        text=text,
        byline=_shown_field(byline) if byline else None,
        source=_shown_field(source) if source else None,
        published=parse_date(published),
        published_time=parse_time(published),
        updated=parse_date(updated),
        updated_time=parse_time(updated),
        **meta,
    )


def load_txt(text: str, rel: str) -> list[Article]:
    """The seed convention: optional `Published: … | Updated: …` line, a title line, `By …`, then the body."""
    lines = text.splitlines(keepends=True)
    published = updated = byline = title = None
    i = _first_nonblank(lines, 0)
    header = _PUBLISHED_LINE.match(lines[i]) if i < len(lines) else None
    if header:
        published, updated = header["published"], header["updated"]
        i = _first_nonblank(lines, i + 1)
    if i < len(lines) and _looks_like_title(lines[i]) and _first_nonblank(lines, i + 1) < len(lines):
        title = lines[i].strip()
        i = _first_nonblank(lines, i + 1)
    by = _BYLINE.match(lines[i].rstrip("\r\n")) if i < len(lines) else None
    if by:
        byline = by["byline"].strip()
        i = _first_nonblank(lines, i + 1)
    body = "".join(lines[i:])
    return [_make_article(rel, None, title, body, published=published, updated=updated, byline=byline, source=byline)]


class _FrontMatterLoader(yaml.SafeLoader):
    """Safe YAML without aliases (each repeats a whole subtree: a few lines of them expand to gigabytes)
    and nested at most MAX_NESTING deep (the composer recurses once per level)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            problem = f"an alias (*{event.anchor}) repeats another field; aliases are not allowed"
            raise yaml.composer.ComposerError(None, None, problem, event.start_mark)
        if self.depth == MAX_NESTING:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_NESTING} levels deep (the limit)", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_md(text: str, rel: str) -> list[Article]:
    meta: dict = {}
    body = text
    front = _FRONT_MATTER.match(text)
    if front:
        if len(front["yaml"]) > MAX_FRONT_MATTER_CHARS:  # YAML parses ~0.3 MB a second: 16.8 MB took 50 s and 1.6 GB
            raise IngestError(f"YAML front matter is {len(front['yaml']):,} characters long; the limit is {MAX_FRONT_MATTER_CHARS:,}", line=2)
        try:
            meta = yaml.load(front["yaml"], Loader=_FrontMatterLoader) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise IngestError(f"invalid YAML front matter: {getattr(exc, 'problem', exc)}", line=mark.line + 2 if mark else None) from exc
        except ValueError as exc:  # a value YAML's own types refuse: a 13th month, an integer of 5,000 digits
            raise IngestError(f"invalid YAML front matter: {_first_clause(exc)}") from exc
        if not isinstance(meta, dict):
            raise IngestError("YAML front matter is not a mapping of fields", line=2)
        body = text[front.end() :]
    if not meta.get("title"):
        heading = _MD_HEADING.search(body)
        meta = {**meta, "title": heading["title"] if heading else None}
    return [_record_article(meta, rel, None, body=body)]


def load_html(text: str, rel: str) -> list[Article]:
    import trafilatura  # heavy import, only when there is HTML to read
    from trafilatura.settings import Document

    if len(text) > MAX_HTML_CHARS:
        size, limit = len(text) / 1e6, MAX_HTML_CHARS / 1e6
        raise IngestError(f"HTML page of {size:.1f} million characters; the limit for HTML is {limit:.0f} million (save the article's text instead)")

    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, favor_recall=True)
    body = doc.text if isinstance(doc, Document) else None  # a Document unless asked for a dict; None when it found nothing
    if not isinstance(doc, Document) or not body or not body.strip():
        raise IngestError("no article text found in the HTML (only markup, scripts or styles)")
    return [
        _make_article(
            rel,
            None,
            doc.title,
            body,
            published=doc.date,
            byline=doc.author,
            source=doc.sitename or doc.hostname,
            url=doc.url,
        )
    ]


def _field(obj: dict, record: int | None, *names: str) -> str | None:
    """The first of the named metadata fields that obj holds, as text; refused by name over MAX_FIELD_CHARS."""
    name = next((name for name in names if name in obj), None)
    if name is None or obj[name] is None or obj[name] == "":
        return None
    if isinstance(obj[name], (list, dict, bool)):  # str() would make "['a', {'b': 2}]" a source
        raise IngestError(f"field '{name}' must be text, not {_json_type(obj[name])}", line=record)
    value = str(obj[name])  # a number (YAML `title: 2020`) or a date reads as its text
    if len(value) > MAX_FIELD_CHARS:
        raise IngestError(f"field '{name}' is {len(value)} characters long; the limit is {MAX_FIELD_CHARS}", line=record)
    return value


def _record_article(obj: dict, rel: str, record: int | None, *, body: str | None = None) -> Article:
    if body is None:
        body = obj.get("text", obj.get("body"))
        if body is None:
            raise IngestError("missing field 'text' (or 'body')", line=record)
    if not isinstance(body, str):
        raise IngestError(f"field 'text' must be a string, not {type(body).__name__}", line=record)
    return _make_article(
        rel,
        record,
        _field(obj, record, "title"),
        body,
        published=_field(obj, record, "published", "date"),
        updated=_field(obj, record, "updated"),
        byline=_field(obj, record, "byline", "author"),
        source=_field(obj, record, "source"),
        url=_field(obj, record, "url"),
    )


def _check_json_nesting(text: str, first_line: int) -> None:
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return
    depth = 0
    for token in _JSON_STRING_OR_BRACKET.finditer(text):
        if token[0] in ("[", "{"):
            depth += 1
            if depth > MAX_NESTING:
                line = first_line + text.count("\n", 0, token.start())
                raise IngestError(f"JSON nested more than {MAX_NESTING} levels deep (the limit)", line=line)
        elif token[0] in ("]", "}"):
            depth -= 1


def _parse_json(text: str, first_line: int = 1) -> object:
    """json.loads with the nesting limit checked first (json recurses per level) and every error an IngestError."""
    _check_json_nesting(text, first_line)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=first_line + exc.lineno - 1) from exc
    except ValueError as exc:  # a number JSON allows but Python refuses: an integer of 5,000 digits
        raise IngestError(f"invalid JSON: {_first_clause(exc)}", line=first_line) from exc


class _BadRecords:
    """The reasons a file's records were refused: the first MAX_REASONS kept, the rest counted in one more
    line, so a file of millions of bad records costs one counter, not millions of messages to store and show."""

    def __init__(self) -> None:
        self.kept: list[IngestError] = []
        self.more = 0

    def add(self, error: IngestError) -> None:
        if len(self.kept) < MAX_REASONS:
            self.kept.append(error)
        else:
            self.more += 1

    def reasons(self) -> list[IngestError]:
        if not self.more:
            return self.kept
        return [*self.kept, IngestError(f"and {self.more:,} more bad records (the first {MAX_REASONS} are listed)")]


def load_json(text: str, rel: str) -> tuple[list[Article], list[IngestError]]:
    data = _parse_json(text)
    if isinstance(data, dict):
        return [_record_article(data, rel, None)], []
    if not isinstance(data, list):
        raise IngestError("JSON must be an article object or a list of them")
    articles, bad = [], _BadRecords()
    for number, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            bad.add(IngestError(f"record {number}: not an object but {_json_type(obj)}"))
            continue
        try:
            articles.append(_record_article(obj, rel, number))
        except IngestError as exc:
            bad.add(IngestError(f"record {number}: {exc.reason}"))
    return articles, bad.reasons()


def _json_type(value: object) -> str:
    return {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(type(value), "null")


def load_jsonl(text: str, rel: str) -> tuple[list[Article], list[IngestError]]:
    articles, bad = [], _BadRecords()
    # Lines end at "\n" only: a JSON string may hold U+2028, U+2029 or U+0085 raw, where str.splitlines() breaks.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = _parse_json(line, number)
        except IngestError as exc:
            bad.add(exc)
            continue
        if not isinstance(obj, dict):
            bad.add(IngestError("line is not a JSON object", line=number))
            continue
        try:
            articles.append(_record_article(obj, rel, number))
        except IngestError as exc:
            bad.add(IngestError(exc.reason, line=number))
    errors = bad.reasons()
    if not articles and not errors:
        raise IngestError("empty file")
    return articles, errors


_SINGLE: dict[str, Callable[[str, str], list[Article]]] = {
    ".txt": load_txt,
    ".md": load_md,
    ".html": load_html,
    ".htm": load_html,
}
_MULTI = {".json": load_json, ".jsonl": load_jsonl}
_DOCUMENTS = {".pdf": pdf_text, ".docx": docx_text}


def load_document(raw: bytes, rel: str, max_chars: int = MAX_FILE_BYTES) -> list[Article]:
    """A PDF or DOCX file: its extracted text read as a .txt article (a headline line, a byline, a
    `Published:` line where the text has them), the file's metadata filling what the text lacks."""
    try:
        document = _DOCUMENTS[Path(rel).suffix.lower()](raw, max_chars)
    except DocumentError as exc:
        raise IngestError(str(exc)) from exc
    (article,) = load_txt(document.text, rel)
    update: dict[str, object] = {}
    if article.title_from_text and document.title:  # the text had no headline line of its own
        update |= {"title": _shown_field(document.title), "title_from_text": False}
    if article.byline is None and document.author:
        update["byline"] = _shown_field(document.author)
    for field, value in (("published", document.created), ("updated", document.modified)):
        if getattr(article, field) is None and value is not None:
            update |= {field: parse_date(value), f"{field}_time": parse_time(value)}
    return [article.model_copy(update=update)] if update else [article]


_SPECIAL_FILES = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _stat_readable(path: Path) -> os.stat_result:
    """stat() of a regular file; IngestError saying what it is otherwise, so nothing blocks on a pipe or device."""
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IngestError("symbolic link loop; not followed") from exc
        if exc.errno == errno.ENOENT and path.is_symlink():
            raise IngestError(f"broken symbolic link (its target {os.readlink(path)} does not exist)") from exc
        raise IngestError(f"cannot read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        if path.is_symlink():  # the walk never follows folder links: a link to the corpus itself would never end
            target = path.resolve()
            if path.parent.resolve().is_relative_to(target):
                raise IngestError(f"symbolic link loop: points back to {target}; not followed")
            raise IngestError(f"symbolic link to a folder ({target}); not followed")
        try:  # the walk hands over a real folder only when it could not list it
            os.listdir(path)
        except OSError as exc:
            raise IngestError(f"cannot read folder: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise IngestError(f"not a regular file but {_SPECIAL_FILES.get(stat.S_IFMT(info.st_mode), 'something else')}")
    return info


def _check_link_inside(path: Path, rel: str) -> None:
    """A file link is followed only to a file inside the folder being read (`rel` is the file's name within
    it): a link to /etc/passwd must not become an article anyone can quote."""
    if not path.is_symlink():
        return
    folder = path.parents[len(Path(rel).parts) - 1]  # path is folder / rel
    target = path.resolve()
    if not target.is_relative_to(folder.resolve()):
        raise IngestError(f"symbolic link to a file outside the corpus folder ({target}); not followed")


class ArticleLoader:
    """Turns a folder (or single files) into Articles; bad files are reported, never fatal."""

    def __init__(self, max_file_bytes: int = MAX_FILE_BYTES, skip_dir_names: tuple[str, ...] = ()):
        self.max_file_bytes = max_file_bytes
        self.skip_dir_names = set(skip_dir_names)

    def iter_files(self, folder: Path) -> Iterator[Path]:
        """Files below folder, sorted; also the folder links and unreadable folders, for load_file to report.
        Hidden files and folders (the index among them) are left out. A walk with its own stack, not
        recursion: a tree 1,200 folders deep is read like any other."""
        top = self._sorted_entries(folder)
        if top is None:
            yield folder  # load_file names the error
            return
        stack = [top]  # one sorted listing per open folder, the deepest last
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
            elif entry.name.startswith("."):
                continue
            elif not entry.is_dir(follow_symlinks=False):
                yield Path(entry.path)
            elif entry.name not in self.skip_dir_names:
                below = self._sorted_entries(Path(entry.path))
                if below is None:
                    yield Path(entry.path)  # load_file names the error
                else:
                    stack.append(below)

    @staticmethod
    def _sorted_entries(folder: Path) -> Iterator[os.DirEntry[str]] | None:
        try:
            with os.scandir(folder) as listing:
                return iter(sorted(listing, key=lambda entry: entry.name))
        except OSError:
            return None

    def fingerprint(self, path: Path, rel: str) -> str:
        """What decides whether a file changed since it was indexed (loaded, skipped or unsupported)."""
        return self._look(path, rel).fingerprint

    def fingerprints(self, folder: Path) -> dict[str, str]:
        return {rel: self.fingerprint(path, rel) for path, rel in self._named_files(folder)}

    def _named_files(self, folder: Path) -> Iterator[tuple[Path, str]]:
        """The files below folder with the names they are reported and recorded by: a name that is not
        UTF-8 (the file system allows any bytes) shows its bad bytes as U+FFFD, and is never indexed."""
        for path in self.iter_files(folder):
            rel = path.relative_to(folder).as_posix()
            yield path, rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if _SURROGATE.search(rel) else rel

    def _too_big(self, size: int) -> IngestError:
        return IngestError(f"file is {size / 1e6:.1f} MB, over the {self.max_file_bytes / 1e6:.0f} MB limit (raise RAG_MAX_FILE_BYTES or split the file)")

    def _look(self, path: Path, rel: str) -> _FileBytes:
        """The bytes of a supported file within the limit, hashed; a file not read is fingerprinted by its size
        and modification time (a rewrite changes them), an unreadable one by the reason."""
        suffix = path.suffix.lower()
        try:
            if _SURROGATE.search(str(path)):
                raise IngestError("its name is not valid UTF-8 (the bad bytes show as \ufffd): rename the file to index it")
            info = _stat_readable(path)  # first: it names loops and broken links
            _check_link_inside(path, rel)
        except IngestError as exc:
            return _FileBytes(f"unreadable:{exc.reason}", problem=exc)
        if suffix not in SUPPORTED_SUFFIXES or info.st_size > self.max_file_bytes:
            problem = (
                IngestError(f"unsupported file type '{suffix or '(none)'}' (supported: {' '.join(SUPPORTED_SUFFIXES)})")
                if suffix not in SUPPORTED_SUFFIXES
                else self._too_big(info.st_size)
            )
            return _FileBytes(f"size:{info.st_size}:mtime:{info.st_mtime_ns}", problem=problem)
        try:
            with open(path, "rb") as handle:
                raw = handle.read(self.max_file_bytes + 1)  # never more than the limit: it may have grown since
                if len(raw) > self.max_file_bytes:
                    grown = os.fstat(handle.fileno())
                    return _FileBytes(f"size:{grown.st_size}:mtime:{grown.st_mtime_ns}", problem=self._too_big(grown.st_size))
        except OSError as exc:
            return _FileBytes(f"unreadable:{exc.errno}", problem=IngestError(f"cannot read: {exc.strerror or exc}"))
        return _FileBytes(hashlib.sha256(raw).hexdigest(), raw=raw)

    def load_file(self, path: Path, rel: str) -> FileLoad:
        """The articles of one file, or why it was skipped, with the fingerprint of the bytes they came from."""
        suffix = path.suffix.lower()
        notes: list[SkippedFile] = []
        look = self._look(path, rel)
        try:
            if look.problem is not None:
                raise look.problem
            raw = look.raw
            if not raw:
                raise IngestError("empty file")
            if suffix in _DOCUMENTS:
                return FileLoad(articles=load_document(raw, rel, self.max_file_bytes), fingerprint=look.fingerprint)
            text, note = decode_text(raw)
            if note:
                notes.append(SkippedFile(path=rel, reason=note))
            if not text.strip():
                raise IngestError("no text (whitespace only)")
            if suffix in _MULTI:
                articles, errors = _MULTI[suffix](text, rel)
            else:
                articles, errors = _SINGLE[suffix](text, rel), []
        except IngestError as exc:
            return FileLoad(skipped=[SkippedFile(path=rel, line=exc.line, reason=exc.reason)], notes=notes, fingerprint=look.fingerprint)
        skipped = [SkippedFile(path=rel, line=e.line, reason=e.reason) for e in errors]
        return FileLoad(articles=articles, skipped=skipped, notes=notes, fingerprint=look.fingerprint)

    def load_folder(self, folder: Path) -> CorpusLoad:
        if not folder.exists():
            raise CorpusError(f"corpus folder not found: {folder}")
        if not folder.is_dir():
            raise CorpusError(f"corpus is not a folder: {folder}")
        try:
            os.scandir(folder).close()
        except OSError as exc:
            raise CorpusError(f"cannot read the corpus folder {folder}: {exc.strerror or exc}") from exc
        articles: list[Article] = []
        skipped: list[SkippedFile] = []
        notes: list[SkippedFile] = []
        first_with_text: dict[str, str] = {}
        fingerprints: dict[str, str] = {}
        for path, rel in self._named_files(folder):
            loaded = self.load_file(path, rel)
            fingerprints[rel] = loaded.fingerprint
            skipped += loaded.skipped
            notes += loaded.notes
            for article in loaded.articles:
                text_key = hashlib.sha256(article.text.strip().encode("utf-8")).hexdigest()
                if text_key in first_with_text:
                    where = f"{rel}:{article.record}" if article.record is not None else rel
                    skipped.append(SkippedFile(path=where, reason=f"same text as {first_with_text[text_key]}; indexed once"))
                    continue
                first_with_text[text_key] = rel if article.record is None else f"{rel}:{article.record}"
                articles.append(article)
        return CorpusLoad(articles=articles, skipped=skipped, notes=notes, file_hashes=fingerprints)
