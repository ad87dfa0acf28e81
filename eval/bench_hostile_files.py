"""Time and peak memory of loading hostile files: compression and amplification bombs, huge JSON.

Each file is made here (nothing is downloaded), then loaded by `ArticleLoader.load_file`, the
loader every index run and upload uses, in a fresh process of its own so that one file's peak
memory is not another's. Prints, per file: its size, the seconds and peak RSS of loading it, and
what came of it (articles and characters, or the reason it was skipped).

    python -m eval.bench_hostile_files [--out FOLDER] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

_HELVETICA = b"<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"


def pdf_drawing(content: bytes, pages: int) -> bytes:
    """A minimal PDF whose `pages` pages all draw the same compressed content stream (object 3)."""
    stream = zlib.compress(content, 9)
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    bodies += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources " + _HELVETICA + b" >>"] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref)
    return bytes(out)


def text_operators(count: int) -> bytes:
    return b"BT /F1 12 Tf 72 712 Td " + b"(word ) Tj " * count + b"ET"


_END = b"</w:body></w:document>"
_W = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
# each entity ten of the one before: "&g;" is ten million characters
_ENTITIES = b"".join(b'<!ENTITY %c "%s">' % (98 + i, b"&%c;" % (97 + i) * 10) for i in range(6))
_ENTITY_BOMB = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">' + _ENTITIES + b"]>"


def docx_with(document_xml: bytes) -> bytes:
    """A DOCX made by python-docx with its word/document.xml replaced."""
    import docx

    made = io.BytesIO()
    docx.Document().save(made)
    with zipfile.ZipFile(made) as template:
        parts = {name: template.read(name) for name in template.namelist()}
    parts["word/document.xml"] = document_xml
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return out.getvalue()


# name -> (file name, maker); the figures in eval/RESULTS.md ("Hardening, round three") come from these
FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "pdf-shared-stream": ("shared.pdf", lambda: pdf_drawing(text_operators(2_000), 4096)),
    "pdf-many-operators": ("operators.pdf", lambda: pdf_drawing(text_operators(900_000), 1)),
    "docx-zip-bomb": ("zip-bomb.docx", lambda: docx_with(_W + (b"<w:p><w:r><w:t>" + b"word " * 200 + b"</w:t></w:r></w:p>") * 130_000 + _END)),
    "docx-entity-bomb": (
        "entity-bomb.docx",
        lambda: docx_with(_ENTITY_BOMB + _W + b"<w:p><w:r><w:t>&g;</w:t></w:r></w:p>" + _END),
    ),
    "docx-malformed": ("malformed.docx", lambda: docx_with(_W + b"<w:p><w:r><w:t>cut off")),
    "json-zeros": ("zeros.json", lambda: ("[" + ",".join(["0"] * 9_000_000) + "]").encode()),
    "jsonl-bad-records": ("bad.jsonl", lambda: b'{"title": 1}\n' * 1_000_000),
}


def load_one(path: Path) -> dict:
    """Load one file as an index run does; runs in the child process."""
    from rag.config import Settings
    from rag.index.ingest import ArticleLoader

    started = time.perf_counter()
    loaded = ArticleLoader(max_file_bytes=Settings().max_file_bytes).load_file(path, path.name)
    seconds = time.perf_counter() - started
    reasons = [s.reason for s in loaded.skipped]
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "articles": len(loaded.articles),
        "characters": sum(len(a.text) for a in loaded.articles),
        "reasons_kept": len(reasons),
        "first_reason": reasons[0][:160] if reasons else None,
        "last_reason": reasons[-1][:160] if len(reasons) > 1 else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the files (default: a temporary one)")
    parser.add_argument("--only", help="comma-separated names: " + ", ".join(FILES))
    parser.add_argument("--timeout", type=float, default=600, help="seconds one file may take before it is stopped and reported so")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(load_one(args.child)))
        return 0
    folder = args.out or Path(tempfile.mkdtemp(prefix="hostile-"))
    folder.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(FILES)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; python {platform.python_version()}")
    for name in names:
        file_name, make = FILES[name]
        path = folder / file_name
        path.write_bytes(make())
        try:
            run = subprocess.run([sys.executable, "-m", "eval.bench_hostile_files", "--child", str(path)], capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            result: dict = {"error": f"still loading after {args.timeout:.0f} s; stopped"}
        else:
            result = json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else {"error": run.stderr.strip().splitlines()[-1:]}
        print(json.dumps({"file": name, "bytes": path.stat().st_size, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
