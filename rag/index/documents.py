"""PDF and DOCX files as article text: the one module that knows pypdf and python-docx.

Both are kept, pure-Python libraries (pypdf: BSD; python-docx: MIT), with no system dependency.
The article's text is the text extracted here; every offset of a chunk, sentence and citation counts
in it, so citations stay exact. The title, author and dates come from the file's own metadata where
it has them; the loader falls back to the text's first line for a title.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

from pydantic import BaseModel


class DocumentError(ValueError):
    """The file cannot be read as text; the message says why in the user's terms."""


class DocumentText(BaseModel):
    text: str
    title: str | None = None
    author: str | None = None
    created: dt.datetime | None = None
    modified: dt.datetime | None = None


def pdf_text(raw: bytes) -> DocumentText:
    """The text layer of every page, pages separated by a blank line."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise DocumentError("encrypted PDF: save an unprotected copy to index it")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise DocumentError(f"not a readable PDF ({exc})") from exc
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


def docx_text(raw: bytes) -> DocumentText:
    """The document's paragraphs, in order, separated by a blank line (tables and headers left out)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(f"not a readable DOCX file ({exc})") from exc
    text = "\n\n".join(p.text.strip() for p in document.paragraphs if p.text.strip())
    if not text:
        raise DocumentError("no text in the document's paragraphs")
    core = document.core_properties
    return DocumentText(text=text, title=_clean(core.title), author=_clean(core.author), created=core.created, modified=core.modified)


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
