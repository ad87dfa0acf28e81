"""What the tests share besides fixtures: paths, small articles and corpora, files in other formats, a Milvus Lite server."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = "000_2479b7865a29b2a5.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests of unreadable or read-only files run under `setpriv` as root (skipped without it).
AS_ROOT = os.geteuid() == 0
# Root reads any file; without these two capabilities it obeys file permissions like anyone else.
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if AS_ROOT else []
PERMISSIONS_TESTABLE = not AS_ROOT or shutil.which("setpriv") is not None

EXTRA_ARTICLES = {
    "markets.md": """---
title: Central bank holds rates steady
date: 2021-03-17
source: Example Wire
---
The central bank kept its main interest rate at 1.5 percent on Wednesday. Governor Maria Lopez said inflation
was expected to stay below 3 percent this year. Analysts at Northbank had forecast no change.
""",
    "storm.json": """[{"title": "Storm closes coastal roads", "published": "2022-08-02", "source": "Coast Daily",
 "text": "Heavy rain closed 14 coastal roads in Brighton on Tuesday. The storm brought winds of 90 kilometres per hour, \
the Met Office said. Emergency crews rescued two fishermen near the harbour."}]""",
}


# The same story on three days with three figures: only the day a question names tells them apart.
BANK_STORIES = {
    "boe-0302.md": ("1987-03-02", "Bank of England raises growth forecast", "The Bank of England forecast growth of 2.5 percent for the year."),
    "boe-0303.md": ("1987-03-03", "Bank of England revises forecast", "The Bank of England forecast growth of 3.1 percent for the year."),
    "boe-0305.md": ("1987-03-05", "Bank of England holds forecast", "The Bank of England forecast growth of 2.8 percent for the year."),
}


def write_bank_stories(folder: Path) -> Path:
    for name, (date, title, text) in BANK_STORIES.items():
        (folder / name).write_text(f"---\ntitle: {title}\ndate: {date}\nsource: Example Wire\n---\n{text}\n", encoding="utf-8")
    return folder


WIRE_STORY = (
    "Heavy rain closed 14 coastal roads in Brighton on Tuesday. The storm brought winds of 90 kilometres per hour, "
    "the Met Office said. Emergency crews rescued two fishermen near the harbour.\n\nSchools in the area will stay "
    "shut on Wednesday while engineers check the sea wall, the council said."
)


def write_wire_copies(folder: Path) -> Path:
    """One story from Coast Daily (wire.md) and Harbor Wire's copy under another headline, its last paragraph cut (copy.md)."""
    (folder / "wire.md").write_text(f"---\ntitle: Storm closes coastal roads\ndate: 2022-08-02\nsource: Coast Daily\n---\n{WIRE_STORY}\n", encoding="utf-8")
    trimmed = WIRE_STORY.split("\n\n")[0]
    (folder / "copy.md").write_text(f"---\ntitle: Gale shuts coast roads\ndate: 2022-08-02\nsource: Harbor Wire\n---\n{trimmed}\n", encoding="utf-8")
    return folder


def make_corpus(folder: Path, extra: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEEDS / SEED_FILE, folder / SEED_FILE)
    if extra:
        for name, text in EXTRA_ARTICLES.items():
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def start_milvus_lite(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """A Milvus Lite server on a free port of 127.0.0.1, answering; stop it with .terminate()."""
    from pymilvus import MilvusClient

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            MilvusClient(uri=uri, timeout=2).list_collections()
            return server, uri
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"Milvus Lite did not start on {uri}") from None
            time.sleep(0.2)


def make_pdf(lines: list[str], metadata: dict[str, str] | None = None, password: str | None = None, algorithm: str = "RC4-128") -> bytes:
    """A one-page PDF whose text layer holds the lines (Helvetica); metadata keys as PDF's ("/Title");
    with a password ("" opens it for anyone, as a PDF locked against editing only), encrypted."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"), NameObject("/BaseFont"): NameObject("/Helvetica")}
    )
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    if lines:
        stream = DecodedStreamObject()
        stream.set_data(("BT /F1 11 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET").encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if metadata:
        writer.add_metadata(metadata)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(paragraphs: list[str], title: str | None = None, author: str | None = None) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.core_properties.title = title or ""
    document.core_properties.author = author or ""
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
