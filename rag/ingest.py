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
from pathlib import Path

import yaml
from dateutil import parser as date_parser
from pydantic import BaseModel

from rag.schema import Article

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
_BINARY_MAGIC = (b"\x89PNG", b"%PDF", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x7fELF")
_PUBLISHED_LINE = re.compile(r"^\s*Published:\s*(?P<published>.*?)\s*(?:\|\s*Updated:\s*(?P<updated>.*?)\s*)?$")
_BYLINE = re.compile(r"^\s*By\s+(?P<byline>\S.{0,120})$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_MD_HEADING = re.compile(r"^#\s+(?P<title>.+?)\s*#*\s*$", re.MULTILINE)
_TITLE_MAX_WORDS = 25


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


def article_id(rel_path: str, record: int | None = None) -> str:
    key = rel_path if record is None else f"{rel_path}#{record}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def parse_date(value: object) -> dt.date | None:
    """A date from whatever a header or field holds; None when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return date_parser.parse(str(value), fuzzy=True).date()
    except (ValueError, OverflowError):
        return None


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """Bytes to text, with a note when it was not UTF-8. Raises IngestError for binary data."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "decoded as UTF-16 (byte-order mark)"
        except UnicodeDecodeError as exc:
            raise IngestError(f"UTF-16 byte-order mark but invalid UTF-16 at byte {exc.start}") from exc
    if raw.startswith(_BINARY_MAGIC) or b"\x00" in raw[:8192]:
        raise IngestError("binary file, not text (e.g. an image or PDF renamed)")
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        utf8_error = exc
    # Old news exports are often Latin-1/cp1252: accept them when every character is printable.
    text = raw.decode("cp1252", errors="replace")
    if "\ufffd" not in text and all(ch.isprintable() or ch in "\r\n\t\f" for ch in text):
        return text, "not UTF-8; decoded as Latin-1 (cp1252)"
    raise IngestError(
        f"not valid UTF-8 (bad byte 0x{raw[utf8_error.start]:02x} at offset {utf8_error.start}) "
        "and not Latin-1 text; re-save the file as UTF-8"
    )


def _first_nonblank(lines: list[str], start: int) -> int:
    while start < len(lines) and not lines[start].strip():
        start += 1
    return start


def _looks_like_title(line: str) -> bool:
    stripped = line.strip()
    return 0 < len(stripped.split()) <= _TITLE_MAX_WORDS and not stripped.endswith((".", "?", "!", ":", ";", ","))


def _make_article(rel: str, record: int | None, title: str | None, text: str, **meta) -> Article:
    if not text.strip():
        raise IngestError("no article text", line=record)
    return Article(
        id=article_id(rel, record),
        title=(title or "").strip() or Path(rel).stem,
        path=rel,
        record=record,
        text=text,
        **meta,
    )


def load_txt(text: str, rel: str) -> list[Article]:
    """The seed convention: optional `Published: … | Updated: …` line, a title line, `By …`, then the body."""
    lines = text.splitlines(keepends=True)
    published = updated = byline = title = None
    i = _first_nonblank(lines, 0)
    header = _PUBLISHED_LINE.match(lines[i]) if i < len(lines) else None
    if header:
        published, updated = parse_date(header["published"]), parse_date(header["updated"])
        i = _first_nonblank(lines, i + 1)
    if i < len(lines) and _looks_like_title(lines[i]) and _first_nonblank(lines, i + 1) < len(lines):
        title = lines[i].strip()
        i = _first_nonblank(lines, i + 1)
    by = _BYLINE.match(lines[i].rstrip("\r\n")) if i < len(lines) else None
    if by:
        byline = by["byline"].strip()
        i = _first_nonblank(lines, i + 1)
    body = "".join(lines[i:])
    return [
        _make_article(
            rel, None, title, body, published=published, updated=updated, byline=byline, source=byline
        )
    ]


def load_md(text: str, rel: str) -> list[Article]:
    meta: dict = {}
    body = text
    front = _FRONT_MATTER.match(text)
    if front:
        try:
            meta = yaml.safe_load(front["yaml"]) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise IngestError(f"invalid YAML front matter: {getattr(exc, 'problem', exc)}", line=mark.line + 2 if mark else None) from exc
        if not isinstance(meta, dict):
            raise IngestError("YAML front matter is not a mapping of fields", line=2)
        body = text[front.end() :]
    title = meta.get("title")
    if not title:
        heading = _MD_HEADING.search(body)
        title = heading["title"] if heading else None
    return [_record_article(meta, rel, None, body=body, title=title)]


def load_html(text: str, rel: str) -> list[Article]:
    import trafilatura  # heavy import, only when there is HTML to read

    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, favor_recall=True)
    body = doc.text if doc is not None else None
    if not body or not body.strip():
        raise IngestError("no article text found in the HTML (only markup, scripts or styles)")
    return [
        _make_article(
            rel,
            None,
            doc.title,
            body,
            published=parse_date(doc.date),
            byline=doc.author,
            source=doc.sitename or doc.hostname,
            url=doc.url,
        )
    ]


def _record_article(obj: dict, rel: str, record: int | None, *, body: str | None = None, title: str | None = None) -> Article:
    if body is None:
        body = obj.get("text", obj.get("body"))
        if body is None:
            raise IngestError("missing field 'text' (or 'body')", line=record)
    if not isinstance(body, str):
        raise IngestError(f"field 'text' must be a string, not {type(body).__name__}", line=record)
    title = title if title is not None else obj.get("title")
    if title is not None and not isinstance(title, str):
        raise IngestError(f"field 'title' must be a string, not {type(title).__name__}", line=record)
    byline = obj.get("byline", obj.get("author"))
    return _make_article(
        rel,
        record,
        title,
        body,
        published=parse_date(obj.get("published", obj.get("date"))),
        updated=parse_date(obj.get("updated")),
        byline=str(byline) if byline else None,
        source=str(obj["source"]) if obj.get("source") else None,
        url=str(obj["url"]) if obj.get("url") else None,
    )


def load_json(text: str, rel: str) -> tuple[list[Article], list[IngestError]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc
    if isinstance(data, dict):
        return [_record_article(data, rel, None)], []
    if not isinstance(data, list):
        raise IngestError("JSON must be an article object or a list of them")
    articles, errors = [], []
    for number, obj in enumerate(data, start=1):
        try:
            if not isinstance(obj, dict):
                raise IngestError(f"record {number} is not an object", line=None)
            articles.append(_record_article(obj, rel, number))
        except IngestError as exc:
            errors.append(IngestError(f"record {number}: {exc.reason}"))
    return articles, errors


def load_jsonl(text: str, rel: str) -> tuple[list[Article], list[IngestError]]:
    articles, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(IngestError(f"invalid JSON: {exc.msg} (column {exc.colno})", line=number))
            continue
        if not isinstance(obj, dict):
            errors.append(IngestError("line is not a JSON object", line=number))
            continue
        try:
            articles.append(_record_article(obj, rel, number))
        except IngestError as exc:
            errors.append(IngestError(exc.reason, line=number))
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


class ArticleLoader:
    """Turns a folder (or single files) into Articles; bad files are reported, never fatal."""

    def __init__(self, max_file_bytes: int = 20_000_000, skip_dir_names: tuple[str, ...] = ()):
        self.max_file_bytes = max_file_bytes
        self.skip_dir_names = set(skip_dir_names)

    def iter_files(self, folder: Path) -> Iterator[Path]:
        """Files below folder, sorted; also the folder links and unreadable folders, for load_file to report.
        Hidden files and folders (the index among them) are left out."""
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            yield folder  # load_file names the error
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in self.skip_dir_names:
                    yield from self.iter_files(Path(entry.path))
            else:
                yield Path(entry.path)

    def fingerprint(self, path: Path) -> str:
        """What decides whether a file changed since it was indexed (loaded, skipped or unsupported)."""
        try:
            info = _stat_readable(path)
            if info.st_size > self.max_file_bytes or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                return f"size:{info.st_size}:mtime:{info.st_mtime_ns}"
            with open(path, "rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()
        except IngestError as exc:
            return f"unreadable:{exc.reason}"
        except OSError as exc:
            return f"unreadable:{exc.errno}"

    def fingerprints(self, folder: Path) -> dict[str, str]:
        return {path.relative_to(folder).as_posix(): self.fingerprint(path) for path in self.iter_files(folder)}

    def _too_big(self, size: int) -> IngestError:
        return IngestError(
            f"file is {size / 1e6:.1f} MB, over the {self.max_file_bytes / 1e6:.0f} MB limit "
            "(raise RAG_MAX_FILE_BYTES or split the file)"
        )

    def _read(self, path: Path) -> bytes:
        """The file's bytes, never more than the limit (it may have grown since it was measured)."""
        try:
            with open(path, "rb") as handle:
                raw = handle.read(self.max_file_bytes + 1)
                if len(raw) > self.max_file_bytes:
                    raise self._too_big(os.fstat(handle.fileno()).st_size)
        except OSError as exc:
            raise IngestError(f"cannot read: {exc.strerror or exc}") from exc
        return raw

    def load_file(self, path: Path, rel: str) -> tuple[list[Article], list[SkippedFile], list[SkippedFile]]:
        """(articles, skipped, notes) for one file."""
        suffix = path.suffix.lower()
        notes: list[SkippedFile] = []
        try:
            size = _stat_readable(path).st_size
            if suffix not in SUPPORTED_SUFFIXES:
                raise IngestError(f"unsupported file type '{suffix or '(none)'}' (supported: {' '.join(SUPPORTED_SUFFIXES)})")
            if size > self.max_file_bytes:
                raise self._too_big(size)
            raw = self._read(path)
            if not raw:
                raise IngestError("empty file")
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
            return [], [SkippedFile(path=rel, line=exc.line, reason=exc.reason)], notes
        skipped = [SkippedFile(path=rel, line=e.line, reason=e.reason) for e in errors]
        return articles, skipped, notes

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
        # Fingerprinted before reading: a file edited meanwhile looks changed next time, never current.
        fingerprints = self.fingerprints(folder)
        for path in self.iter_files(folder):
            rel = path.relative_to(folder).as_posix()
            file_articles, file_skipped, file_notes = self.load_file(path, rel)
            skipped += file_skipped
            notes += file_notes
            for article in file_articles:
                text_key = hashlib.sha256(article.text.strip().encode("utf-8")).hexdigest()
                if text_key in first_with_text:
                    where = f"{rel}:{article.record}" if article.record is not None else rel
                    skipped.append(
                        SkippedFile(path=where, reason=f"same text as {first_with_text[text_key]}; indexed once")
                    )
                    continue
                first_with_text[text_key] = rel if article.record is None else f"{rel}:{article.record}"
                articles.append(article)
        return CorpusLoad(articles=articles, skipped=skipped, notes=notes, file_hashes=fingerprints)
