"""PDF and DOCX articles: their text, title, byline and dates, and a clear reason when they cannot be read."""

from __future__ import annotations

import datetime as dt

import pytest

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
        ("locked.pdf", make_pdf(FERRY, password="secret"), "encrypted PDF: save an unprotected copy to index it"),
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
