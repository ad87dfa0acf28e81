"""PDF and DOCX files as article text: the one module that knows pypdf and python-docx.

Both are kept, pure-Python libraries (pypdf: BSD; python-docx: MIT), with no system dependency.
The article's text is the text extracted here; every offset of a chunk, sentence and citation counts
in it, so citations stay exact. The title, author and dates come from the file's own metadata where
it has them; the loader falls back to the text's first line for a title.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import zipfile
from typing import Any

from pydantic import BaseModel

# Limits on what one file may cost while its text is extracted, beside the characters of text
# (RAG_MAX_FILE_BYTES, passed in): generous for any real article or report, far below a bomb.
EXTRACT_SECONDS = 60.0
MAX_PAGES = 5_000
CONTENT_BYTES_PER_CHAR = 4  # a PDF page's drawing instructions run a few bytes per character shown
UNPACKED_BYTES_PER_CHAR = 4  # a DOCX's XML runs a few bytes per character of text; its images unpack to their own size
UNPACKED_FLOOR = 10_000_000  # bytes: python-docx's own empty document unpacks to 0.8 MB, whatever the text limit
MAX_ZIP_ENTRIES = 10_000
_PROLOG_BLOCK = 4096
_ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")  # a DTD can only come before the root element


class DocumentError(ValueError):
    """The file cannot be read as text; the message says why in the user's terms."""


class DocumentText(BaseModel):
    text: str
    title: str | None = None
    author: str | None = None
    created: dt.datetime | None = None
    modified: dt.datetime | None = None


class _OverBudget(Exception):
    """Raised from inside pypdf's text extraction (its visitor callbacks) to stop it at once."""


class _Budget:
    """What one file may cost while its text is extracted: characters of text, bytes of decompressed
    page content, seconds. Checked as extraction goes, so a bomb stops at the limit, not after."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.chars = 0
        self.content_bytes = 0
        self.deadline = time.monotonic() + EXTRACT_SECONDS

    def add_text(self, count: int) -> None:
        self.chars += count
        if self.chars > self.max_chars:
            raise _OverBudget(f"its text passes {self.max_chars:,} characters, the limit (RAG_MAX_FILE_BYTES): split the file")

    def add_content(self, count: int) -> None:
        self.content_bytes += count
        if self.content_bytes > CONTENT_BYTES_PER_CHAR * self.max_chars:
            raise _OverBudget(f"its pages' drawing instructions pass {CONTENT_BYTES_PER_CHAR * self.max_chars:,} bytes, over the limit: split the file")

    def check_time(self, *_: object) -> None:
        if time.monotonic() > self.deadline:
            raise _OverBudget(f"extracting its text took over {EXTRACT_SECONDS:.0f} s, the limit: split the file or save it as text")


def pdf_text(raw: bytes, max_chars: int) -> DocumentText:
    """The text layer of every page, pages separated by a blank line, within `max_chars` characters."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    budget = _Budget(max_chars)
    pages: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise DocumentError("encrypted PDF that needs a password: save an unprotected copy to index it")
        for number, page in enumerate(reader.pages, 1):
            if number > MAX_PAGES:
                raise _OverBudget(f"over {MAX_PAGES:,} pages, the limit: split the file")
            budget.add_content(_content_bytes(page))
            text = page.extract_text(visitor_operand_before=budget.check_time, visitor_text=lambda text, *_: budget.add_text(len(text))) or ""
            pages.append(text)
        info = reader.metadata
    except DocumentError:
        raise
    except _OverBudget as exc:
        raise DocumentError(f"PDF not indexed: {exc}") from None
    except DependencyError as exc:
        raise DocumentError(f"PDF that needs a missing package to read ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf parses untrusted bytes; any failure is this file's, never the run's
        raise DocumentError(f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentError(f"no text layer in its {len(pages)} page{'s' if len(pages) != 1 else ''} (a scanned PDF?): run it through OCR first")
    return DocumentText(
        text=text,
        title=_clean(info.title) if info else None,
        author=_clean(info.author) if info else None,
        created=_date(info, "creation_date"),
        modified=_date(info, "modification_date"),
    )


def _content_bytes(page: Any) -> int:
    """The decompressed size of a page's content streams (pypdf caps each stream's decompression;
    pages that share one stream each count it, as extraction reads it for each)."""
    contents = page.get("/Contents")
    if contents is None:
        return 0
    contents = contents.get_object()
    streams = contents if isinstance(contents, list) else [contents]
    return sum(len(stream.get_object().get_data()) for stream in streams)


def docx_text(raw: bytes, max_chars: int) -> DocumentText:
    """The document's paragraphs, in order, separated by a blank line (tables and headers left out),
    within `max_chars` characters; the package is checked before python-docx unpacks it."""
    import docx

    _check_package(raw, max_chars)
    budget = _Budget(max_chars)
    paragraphs: list[str] = []
    try:
        document = docx.Document(io.BytesIO(raw))
        for paragraph in document.paragraphs:
            text = paragraph.text.strip()
            if text:
                budget.add_text(len(text) + 2)
                paragraphs.append(text)
            budget.check_time()
        core = document.core_properties
        title, author, created, modified = core.title, core.author, core.created, core.modified
    except _OverBudget as exc:
        raise DocumentError(f"DOCX not indexed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - python-docx and lxml parse untrusted bytes: malformed XML, damaged deflate data, odd zip methods
        raise DocumentError(f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(paragraphs)
    if not text:
        raise DocumentError("no text in the document's paragraphs")
    return DocumentText(text=text, title=_clean(title), author=_clean(author), created=created, modified=modified)


def _check_package(raw: bytes, max_chars: int) -> None:
    """Refuse a DOCX whose zip entries unpack to more than the limit allows (a zip bomb), or whose XML
    declares entities (an entity bomb: Word never writes a DTD), before python-docx parses any of it."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as package:
            entries = package.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise DocumentError(f"DOCX not indexed: {len(entries):,} parts in the package, over the {MAX_ZIP_ENTRIES:,} limit")
            unpacked, limit = sum(entry.file_size for entry in entries), max(UNPACKED_BYTES_PER_CHAR * max_chars, UNPACKED_FLOOR)
            if unpacked > limit:
                raise DocumentError(f"DOCX not indexed: it unpacks to {unpacked / 1e6:,.0f} MB, over the {limit / 1e6:,.0f} MB limit (a compression bomb?)")
            package.getinfo("word/document.xml")
            for entry in entries:
                if entry.filename.endswith((".xml", ".rels")) and _declares_a_dtd(package, entry):
                    raise DocumentError(f"DOCX not indexed: its part {entry.filename} declares a DTD or entities, which Word never writes (an entity bomb?)")
    except DocumentError:
        raise
    except KeyError:
        raise DocumentError("not a readable DOCX file (no word/document.xml in the package)") from None
    except Exception as exc:  # noqa: BLE001 - zipfile on untrusted bytes: bad zip, damaged deflate data, unsupported methods
        raise DocumentError(f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc


def _declares_a_dtd(package: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bool:
    """Whether an XML part's prolog, everything before its root element, holds a DOCTYPE: read a block at
    a time up to the root element, so a long prolog cannot hide one."""
    prolog = b""
    with package.open(entry) as part:
        while block := part.read(_PROLOG_BLOCK):
            prolog += block
            root = _ROOT_ELEMENT.search(prolog)
            if root:
                return b"<!DOCTYPE" in prolog[: root.start()]
    return b"<!DOCTYPE" in prolog


def _clean(value: object) -> str | None:
    text = " ".join(str(value).split()) if value else ""
    return text or None


def _date(info: Any, name: str) -> dt.datetime | None:
    """A metadata date; pypdf raises on a malformed one, which is no reason to refuse the text."""
    if info is None:
        return None
    try:
        return getattr(info, name)
    except (ValueError, TypeError):
        return None
