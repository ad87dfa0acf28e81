"""PDF and DOCX articles: their text, title, byline and dates, and a clear reason when they cannot be read."""

from __future__ import annotations

import datetime as dt

import pytest

from eval.bench_hostile_files import docx_with, pdf_drawing, text_operators
from rag.index.ingest import ArticleLoader, IngestError, load_document
from tests.helpers import make_docx, make_pdf

FERRY = ["Ferry service resumes", "", "The island ferry resumed service on Friday after a", "three-week strike, the operator said."]


def test_a_pdf_gives_its_text_with_the_headline_line_as_title_and_metadata_for_the_rest():
    raw = make_pdf(FERRY, {"/Author": "Port Gazette", "/CreationDate": "D:20240301093000+00'00'", "/Title": "Microsoft Word - ferry.docx"})
    (article,) = load_document(raw, "news/ferry.pdf")
    assert article.title == "Ferry service resumes"  # the text's own headline wins over a generated title
    assert article.text == "The island ferry resumed service on Friday after a\nthree-week strike, the operator said."
    assert (article.byline, article.published, article.published_time) == ("Port Gazette", dt.date(2024, 3, 1), dt.time(9, 30))


def test_a_pdf_without_a_headline_line_takes_its_metadata_title():
    (article,) = load_document(make_pdf(["The island ferry resumed service on Friday."], {"/Title": "Ferry back"}), "f.pdf")
    assert article.title == "Ferry back" and article.text == "The island ferry resumed service on Friday."


def test_a_docx_gives_its_paragraphs_and_core_properties():
    raw = make_docx(["Tram line opens", "By Ann Lee", "The new tram line to Eastfield opened on Friday.", "It cost 40 million euros."], author="Desk")
    (article,) = load_document(raw, "tram.docx")
    assert (article.title, article.byline) == ("Tram line opens", "Ann Lee")
    assert article.text == "The new tram line to Eastfield opened on Friday.\n\nIt cost 40 million euros."
    assert article.published is not None  # python-docx stamps the creation time


@pytest.mark.parametrize(
    "name, raw, reason",
    [
        ("locked.pdf", make_pdf(FERRY, password="secret"), "encrypted PDF that needs a password: save an unprotected copy to index it"),
        ("scan.pdf", make_pdf([]), "no text layer in its 1 page (a scanned PDF?): run it through OCR first"),
        ("cut.pdf", make_pdf(FERRY)[:200], "not a readable PDF"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "not a readable DOCX file"),
        ("renamed.docx", make_pdf(FERRY), "not a readable DOCX file"),
        ("empty.docx", make_docx([]), "no text in the document's paragraphs"),
    ],
)
def test_a_document_that_cannot_be_read_says_why(name, raw, reason):
    with pytest.raises(IngestError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        load_document(raw, name)


def test_documents_in_a_folder_are_loaded_beside_the_other_files(tmp_path):
    (tmp_path / "ferry.pdf").write_bytes(make_pdf(FERRY))
    (tmp_path / "tram.docx").write_bytes(make_docx(["Tram line opens", "The new tram line to Eastfield opened on Friday."]))
    load = ArticleLoader().load_folder(tmp_path)
    assert sorted(a.title for a in load.articles) == ["Ferry service resumes", "Tram line opens"] and not load.skipped


def _with_method(raw: bytes, method: int) -> bytes:
    """The zip with every entry's compression method (local and central headers) set to `method`."""
    patched = bytearray(raw)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = patched.find(signature)
        while start != -1:
            patched[start + offset : start + offset + 2] = method.to_bytes(2, "little")
            start = patched.find(signature, start + 4)
    return bytes(patched)


def _damaged(raw: bytes) -> bytes:
    """The DOCX with bytes in the middle of its deflate data overwritten."""
    middle = len(raw) // 3
    return raw[:middle] + b"\xff" * 64 + raw[middle + 64 :]


@pytest.mark.parametrize(
    "name, raw, reason",
    [
        ("malformed.docx", docx_with(b"<w:document><w:body><w:p>cut off"), "not a readable DOCX file (XMLSyntaxError"),
        ("entities.docx", docx_with(b'<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><w:document>&b;</w:document>'), "declares a DTD or entities"),
        ("damaged.docx", _damaged(make_docx(["The new tram line opened."] * 50)), "not a readable DOCX file"),
        ("method.docx", _with_method(make_docx(["The new tram line opened."]), 98), "not a readable DOCX file"),
        ("zip-bomb.docx", docx_with(b"<w:p/>" * 15_000_000), "over the 80 MB limit (a compression bomb?)"),
        ("pages.pdf", pdf_drawing(text_operators(10), 5_001), "over 5,000 pages, the limit"),
    ],
)
def test_a_hostile_document_is_refused_with_its_reason_and_stops_nothing(tmp_path, name, raw, reason):
    """Each failed with an exception no one caught ("unexpected … (a bug)") and stopped the whole run."""
    (tmp_path / name).write_bytes(raw)
    (tmp_path / "tram.docx").write_bytes(make_docx(["Tram line opens", "The new tram line to Eastfield opened on Friday."]))
    load = ArticleLoader().load_folder(tmp_path)
    assert [a.title for a in load.articles] == ["Tram line opens"]
    (skipped,) = load.skipped
    assert skipped.path == name and reason in skipped.reason


def test_the_text_limit_holds_on_the_text_a_pdf_or_docx_unpacks_to_as_it_is_extracted():
    """4,096 pages drawing one shared stream: stopped at the limit, not after 398 million characters."""
    shared = pdf_drawing(text_operators(200), 4096)
    with pytest.raises(IngestError, match="its text passes 100,000 characters, the limit"):
        load_document(shared, "shared.pdf", max_chars=100_000)
    with pytest.raises(IngestError, match="its text passes 1,000 characters"):
        load_document(make_docx(["The new tram line to Eastfield opened on Friday."] * 40), "long.docx", max_chars=1_000)
    with pytest.raises(IngestError, match="drawing instructions pass 4,000 bytes"):  # drawing without text counts too
        load_document(pdf_drawing(b"0 0 m 10 10 l S " * 500, 1), "lines.pdf", max_chars=1_000)
    assert load_document(pdf_drawing(text_operators(200), 2), "two.pdf", max_chars=100_000)[0].text.count("word") == 400


def test_an_aes_encrypted_pdf_opens_without_a_password_and_one_with_a_password_says_so():
    (article,) = load_document(make_pdf(FERRY, password="", algorithm="AES-256"), "aes.pdf")
    assert article.title == "Ferry service resumes"
    with pytest.raises(IngestError, match="encrypted PDF that needs a password"):
        load_document(make_pdf(FERRY, password="secret", algorithm="AES-256"), "locked-aes.pdf")
