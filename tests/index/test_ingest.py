import datetime as dt
import json
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.index.ingest import (
    MAX_FIELD_CHARS,
    MAX_NESTING,
    MAX_REASONS,
    TITLE_FROM_TEXT_WORDS,
    TITLE_MAX_CHARS,
    ArticleLoader,
    IngestError,
    decode_text,
    load_txt,
    normalize_text,
    parse_date,
    parse_time,
    title_from_text,
)
from tests.helpers import SEED_FILE, SEEDS


def load(folder: Path):
    return ArticleLoader().load_folder(folder)


def test_seed_article_metadata_and_exact_body():
    raw = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    [article] = load(SEEDS).articles
    assert article.title == "China calls for open, equitable environment for 5G technology"
    assert article.published.isoformat() == "2020-02-05"
    assert article.updated.isoformat() == "2023-06-06"
    assert article.byline == "Xinhua"
    assert article.path == SEED_FILE
    assert article.text.startswith("BEIJING — China called")
    assert normalize_text(raw).endswith(article.text)  # the body is kept to the character, once normalised
    # the repeated pull quote stays repeated
    assert article.text.count("5G is a new generation of information and communications technology") == 2


def test_ids_are_stable_and_distinct(tmp_path):
    (tmp_path / "a.txt").write_text("Title A\n\nBody one.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Title B\n\nBody two.", encoding="utf-8")
    first, second = load(tmp_path).articles, load(tmp_path).articles
    assert [a.id for a in first] == [a.id for a in second]
    assert len({a.id for a in first}) == 2


def test_markdown_front_matter(tmp_path):
    (tmp_path / "n.md").write_text("---\ntitle: Rates\ndate: 2021-03-17\nsource: Wire\nurl: http://x\n---\nThe bank held rates.\n", encoding="utf-8")
    [article] = load(tmp_path).articles
    assert (article.title, article.published.isoformat(), article.source, article.url) == ("Rates", "2021-03-17", "Wire", "http://x")
    assert article.text == "The bank held rates.\n"


def test_markdown_without_front_matter_takes_heading_as_title(tmp_path):
    (tmp_path / "n.md").write_text("# Big storm\n\nRoads closed.\n", encoding="utf-8")
    assert load(tmp_path).articles[0].title == "Big storm"


def test_html_main_text_and_metadata(tmp_path):
    page = """<html><head><title>Storm news</title><meta name="date" content="2022-08-02"></head><body>
    <nav>Home | Sports</nav><article><h1>Storm closes roads</h1>
    <p>Heavy rain closed fourteen coastal roads in Brighton on Tuesday, the council said in a statement.</p>
    <p>Emergency crews rescued two fishermen near the harbour after their boat capsized in the storm.</p></article>
    <script>alert('x')</script></body></html>"""
    (tmp_path / "s.html").write_text(page, encoding="utf-8")
    [article] = load(tmp_path).articles
    assert article.published.isoformat() == "2022-08-02"
    assert "fourteen coastal roads" in article.text
    assert "alert" not in article.text


def test_json_list_and_jsonl_with_bad_line(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps([{"title": "One", "text": "First body."}, {"title": "Two", "body": "Second body."}]), encoding="utf-8")
    (tmp_path / "feed.jsonl").write_text(
        '{"title": "A", "text": "Alpha text.", "published": "2020-01-02"}\n{broken\n{"title": "C"}\n{"title": "D", "text": "Delta text."}\n',
        encoding="utf-8",
    )
    result = load(tmp_path)
    assert sorted(a.title for a in result.articles) == ["A", "D", "One", "Two"]
    reasons = {(s.path, s.line): s.reason for s in result.skipped}
    assert reasons[("feed.jsonl", 2)].startswith("invalid JSON")
    assert "missing field 'text'" in reasons[("feed.jsonl", 3)]


def test_a_lone_surrogate_escape_is_refused_by_field_and_the_rest_of_the_file_loads(tmp_path):
    """It passed upload and then broke every index run ("UnicodeEncodeError" writing the index)."""
    (tmp_path / "feed.jsonl").write_text(
        '{"title": "Good", "text": "Alpha text."}\n{"title": "Bad", "text": "Beta \\udc00 text."}\n{"title": "T\\ud800", "text": "Gamma."}\n', encoding="utf-8"
    )
    (tmp_path / "one.json").write_text('{"title": "One", "text": "x", "source": "\\udfff"}', encoding="utf-8")
    result = load(tmp_path)
    assert [a.title for a in result.articles] == ["Good"]
    reasons = {(s.path, s.line): s.reason for s in result.skipped}
    assert reasons[("feed.jsonl", 2)] == "field 'text' holds \\udc00 at character 5, an unpaired surrogate escape and not text"
    assert reasons[("feed.jsonl", 3)].startswith("field 'title' holds \\ud800") and reasons[("one.json", None)].startswith("field 'source'")
    json.dumps([a.model_dump(mode="json") for a in result.articles]).encode("utf-8")  # what the index writes


def test_millions_of_bad_records_keep_a_bounded_list_of_reasons(tmp_path):
    """18 MB of [0,0,…] kept 9 million reasons (8.4 GB) and crashed the browser tab drawing them."""
    (tmp_path / "zeros.json").write_text("[" + ",".join(["0"] * 5_000) + "]", encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text('{"title": 1}\n' * 3_000 + '{"text": "The one good line."}\n', encoding="utf-8")
    result = load(tmp_path)
    assert [a.text for a in result.articles] == ["The one good line."]
    zeros = [s.reason for s in result.skipped if s.path == "zeros.json"]
    assert len(zeros) == MAX_REASONS + 1 and zeros[0] == "record 1: not an object but a number"
    assert zeros[-1] == f"and {5_000 - MAX_REASONS:,} more bad records (the first {MAX_REASONS} are listed)"
    assert [s.reason for s in result.skipped if s.path == "bad.jsonl"][-1].startswith("and 2,900 more bad records")


def test_a_file_name_that_is_not_utf8_is_reported_and_the_rest_indexed(tmp_path):
    bad = tmp_path / os.fsdecode(b"junk\xff\xfe.txt")
    bad.write_text("Title\n\nBody of the junk file.", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Title\n\nBody.", encoding="utf-8")
    result = load(tmp_path)
    assert [a.path for a in result.articles] == ["a.txt"]
    (skipped,) = result.skipped
    assert skipped.path == "junk\ufffd\ufffd.txt" and "not valid UTF-8" in skipped.reason
    json.dumps(result.model_dump(mode="json")).encode("utf-8")  # the run's report and fingerprints are writable
    assert "junk\ufffd\ufffd.txt" in ArticleLoader().fingerprints(tmp_path)


def test_a_file_link_is_followed_inside_the_corpus_only(tmp_path):
    """`ln -s /etc/passwd corpus/passwd.txt` made the chat quote /etc/passwd."""
    outside, corpus = tmp_path / "outside", tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret\n\nNot for the library.", encoding="utf-8")
    (corpus / "a.txt").write_text("Title\n\nBody of a.", encoding="utf-8")
    (corpus / "sub" / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "sub" / "same.txt").symlink_to(corpus / "a.txt")
    result = load(corpus)
    assert [a.path for a in result.articles] == ["a.txt"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["sub/secret.txt"] == f"symbolic link to a file outside the corpus folder ({outside / 'secret.txt'}); not followed"
    assert reasons["sub/same.txt"] == "same text as a.txt; indexed once"  # a link inside is read


def test_a_folder_tree_1200_deep_is_read_in_order(tmp_path):
    """The walk recursed once per level: RecursionError stopped the run."""
    deep = tmp_path
    for level in range(1_200):
        deep = deep / "d"
        deep.mkdir()
        if level == 600:
            (deep / "middle.txt").write_text("Middle\n\nHalfway down.", encoding="utf-8")
    (deep / "bottom.txt").write_text("Bottom\n\nAt the bottom.", encoding="utf-8")
    (tmp_path / "top.txt").write_text("Top\n\nAt the top.", encoding="utf-8")
    try:
        assert [a.title for a in load(tmp_path).articles] == ["Bottom", "Middle", "Top"]  # sorted: "d" before "middle.txt"
    finally:  # from the bottom up: pytest's own clean-up (shutil.rmtree) recurses once per level too
        while deep != tmp_path:
            for file in deep.glob("*.txt"):
                file.unlink()
            deep.rmdir()
            deep = deep.parent


def test_utf32_with_its_byte_order_mark_is_read_as_utf32():
    """It was read as UTF-16 (the first two bytes of its mark), NULs and all."""
    assert decode_text("Café\n".encode("utf-32")) == ("Café\n", "decoded as UTF-32 (byte-order mark)")
    assert decode_text("Café".encode("utf-16")) == ("Café", "decoded as UTF-16 (byte-order mark)")


def test_metadata_fields_are_text_a_number_reads_as_text_and_a_list_is_refused_by_name(tmp_path):
    (tmp_path / "year.md").write_text("---\ntitle: 2020\n---\nThe year in review.\n", encoding="utf-8")  # refused as "not int"
    (tmp_path / "list.json").write_text('{"text": "Body.", "source": ["a", {"b": 2}]}', encoding="utf-8")  # was "['a', {'b': 2}]"
    (tmp_path / "flag.json").write_text('{"text": "Other body.", "author": true}', encoding="utf-8")
    result = load(tmp_path)
    assert [a.title for a in result.articles] == ["2020"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons == {"list.json": "field 'source' must be text, not a list", "flag.json": "field 'author' must be text, not true/false"}


def test_direction_overrides_are_taken_out_of_titles_bylines_and_sources(tmp_path):
    """U+202E made "report\u202etxt.exe" show as "reportexe.txt" in the library list."""
    (tmp_path / "a.json").write_text('{"title": "report\\u202etxt.exe", "text": "Body.", "source": "\\u2066Wire\\u2069"}', encoding="utf-8")
    (article,) = load(tmp_path).articles
    assert (article.title, article.source) == ("reporttxt.exe", "Wire")


def test_a_front_matter_over_its_size_limit_is_refused_before_it_is_parsed(tmp_path):
    (tmp_path / "huge.md").write_text("---\n" + "tag: x\n" * 20_000 + "---\nBody.\n", encoding="utf-8")
    (skipped,) = load(tmp_path).skipped
    assert skipped.reason == "YAML front matter is 139,999 characters long; the limit is 100,000" and skipped.line == 2


def test_utf16_without_its_byte_order_mark_is_read_not_called_binary():
    """It was called "binary file … an image or PDF renamed"."""
    assert decode_text("Café reopens\n".encode("utf-16-le")) == ("Café reopens\n", "decoded as UTF-16-LE (no byte-order mark)")
    assert decode_text("Café reopens\n".encode("utf-16-be"))[1] == "decoded as UTF-16-BE (no byte-order mark)"
    with pytest.raises(IngestError, match="binary file"):
        decode_text(b"\x00\x01\x02\x03" * 100)


def test_an_html_page_over_its_size_limit_is_refused_before_it_is_parsed(tmp_path):
    (tmp_path / "big.html").write_text("<html><body>" + "<p>The council met.</p>" * 300_000 + "</body></html>", encoding="utf-8")
    (skipped,) = load(tmp_path).skipped
    assert skipped.reason == "HTML page of 6.9 million characters; the limit for HTML is 5 million (save the article's text instead)"


def test_hidden_folders_and_the_index_are_not_read(tmp_path):
    (tmp_path / ".rag-index").mkdir()
    (tmp_path / ".rag-index" / "x.txt").write_text("Hidden\n\nnot an article", encoding="utf-8")
    (tmp_path / "a.txt").write_text("Title\n\nBody.", encoding="utf-8")
    assert [a.path for a in load(tmp_path).articles] == ["a.txt"]


def test_parse_date_forms():
    assert parse_date("20:16, February 5, 2020").isoformat() == "2020-02-05"
    assert parse_date("2021-03-17T10:00:00Z").isoformat() == "2021-03-17"
    assert parse_date("not a date") is None
    assert parse_date(None) is None
    assert parse_date("March 1987") == dt.date(1987, 3, 1)  # a month without a day: its first, never today's day


@pytest.mark.parametrize("value", ["Route 66 closure", "Version 3", "12", "March 3", "1987", "D:99999999", dt.datetime(9999, 9, 9)])
def test_a_field_that_is_not_a_date_is_not_made_one_from_the_clock(value):
    """They were: 2066-12-06, the 3rd of this month, the 12th, this year's March 3, 9999-09-09 (which then
    headed "What's the latest news?")."""
    assert parse_date(value) is None


@pytest.mark.parametrize(
    "value, time",
    [
        ("20:16, February 5, 2020", "20:16:00"),
        ("08:16, June 6, 2023", "08:16:00"),
        ("2021-03-17T10:00:00Z", "10:00:00"),
        ("2021-03-17 00:00", "00:00:00"),
        ("Feb 26, 1987 3:45 pm", "15:45:00"),
        ("2021-03-17", None),
        ("February 5, 2020", None),
        (dt.date(2020, 2, 5), None),
        (dt.datetime(2020, 2, 5, 20, 16, 5), "20:16:05"),
        ("not a date", None),
        (None, None),
    ],
)
def test_the_time_of_day_is_kept_only_where_the_source_gives_one(value, time):
    found = parse_time(value)
    assert (found.isoformat() if found else None) == time


def test_the_seed_header_keeps_both_times():
    [article] = load_txt("Published: 20:16, February 5, 2020 | Updated: 08:16, June 6, 2023\nA title\nBy Xinhua\n\nBody text.", "x.txt")
    assert (article.published.isoformat(), article.published_time.isoformat()) == ("2020-02-05", "20:16:00")
    assert (article.updated.isoformat(), article.updated_time.isoformat()) == ("2023-06-06", "08:16:00")


def test_wire_copy_without_a_headline_is_titled_by_its_lead_not_its_file_name():
    # the first line is cut by the hard wrap and opens with a dateline: no headline, the lead's start is the title
    text = "NEW YORK, March 9 - USAir Group Inc said Piedmont Aviation\nInc has agreed to be acquired for 69 dlrs per share.\n"
    [article] = load_txt(text, "wire/abc_000.txt")
    assert article.title == "USAir Group Inc said Piedmont Aviation Inc has agreed to be acquired…"
    assert article.title_from_text and article.headline == "" and article.text == text
    [short] = load_txt("Heavy rain closed 14 roads. More rain is due.", "abc_001.txt")
    assert short.title == "Heavy rain closed 14 roads" and short.title_from_text
    [titled] = load_txt("Qantas picks engines\n\nSYDNEY, March 9 - Qantas said it chose.\n", "q.txt")
    assert (titled.title, titled.title_from_text, titled.headline) == ("Qantas picks engines", False, "Qantas picks engines")


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600))
def test_a_title_made_from_the_text_is_short_and_its_words_come_from_the_text(text):
    title = title_from_text(text)
    if title is None:
        return
    words = title.removesuffix("…").split()
    assert 0 < len(words) <= TITLE_FROM_TEXT_WORDS and "\n" not in title and len(title) <= TITLE_MAX_CHARS + 1
    assert all(word in text for word in words[:-1])  # the last may have lost a trailing stop or been cut


def test_a_first_line_of_one_huge_word_is_no_title_and_a_title_made_of_it_is_cut(tmp_path):
    """A 100 KB first line became a 100 KB title, in every citation and embedded with every chunk."""
    (article,) = load_txt("x" * 100_000 + "\n\nThe council met on Monday.\n", "blob.txt")
    assert article.title_from_text and article.title == "x" * TITLE_MAX_CHARS + "…"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_txt_loader_body_is_always_a_suffix_of_the_text(text):
    try:
        [article] = load_txt(text, "x.txt")
    except ValueError as exc:  # IngestError: only for text with no body
        assert "no article text" in str(exc)
        return
    assert normalize_text(text).endswith(article.text) and article.text.strip()


@given(st.binary(max_size=300))
def test_decode_never_crashes_on_bytes(raw):
    try:
        text, _ = decode_text(raw)
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(text, str)


def test_a_jsonl_line_may_hold_any_line_separator_inside_a_string(tmp_path):
    texts = ["The night\x85ferry sails at ten.", "Birds\u2028flew.", "Rain\u2029fell."]
    (tmp_path / "feed.jsonl").write_text("".join(json.dumps({"title": "T", "text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    result = load(tmp_path)
    assert [a.text for a in result.articles] == texts and not result.skipped


def test_text_is_normalised_once_at_load_so_offsets_are_into_the_shown_text(tmp_path):
    (tmp_path / "a.txt").write_text("The \ufb01rst gla\u200bcier\n\nVal\u200bdora\u00a0lost \uff11\uff12 metres of ice.\u2060", encoding="utf-8")
    [article] = load(tmp_path).articles
    assert article.title == "The first glacier"
    assert article.text == "Valdora lost 12 metres of ice."
    assert unicodedata.is_normalized("NFKC", article.text)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


NESTING_ERROR = f"nested more than {MAX_NESTING} levels deep (the limit)"


@pytest.mark.parametrize(
    "name, content, where, reason",
    [
        ("d.json", '{"text": "x",\n "y": ' + deep(100_000) + "}", ("d.json", 2), f"JSON {NESTING_ERROR}"),
        ("d.jsonl", '{"title": "Tram", "text": "The tram line opened."}\n{"text": "x", "y": ' + deep(100_000) + "}\n", ("d.jsonl", 2), f"JSON {NESTING_ERROR}"),
        ("d.md", "---\ny: " + deep(40_000) + "\n---\nBody.\n", ("d.md", 2), f"invalid YAML front matter: {NESTING_ERROR}"),  # within its size limit
        (
            "b.md",
            "---\na0: &a0 [lol, lol]\na1: &a1 [*a0, *a0]\nauthor: *a1\n---\nBody.\n",
            ("b.md", 3),
            "invalid YAML front matter: an alias (*a0) repeats another field; aliases are not allowed",
        ),
    ],
    ids=["json", "jsonl", "md front matter", "yaml alias"],
)
def test_parsers_refuse_deep_nesting_and_aliases_naming_the_limit(tmp_path, name, content, where, reason):
    (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "z.txt").write_text("After\n\nThe file after the bad one is read too.", encoding="utf-8")
    result = load(tmp_path)
    assert [(s.path, s.line, s.reason) for s in result.skipped] == [(*where, reason)]
    assert "After" in [a.title for a in result.articles]


def test_nesting_up_to_the_limit_is_read(tmp_path):
    (tmp_path / "ok.json").write_text('{"text": "Fine.", "y": ' + deep(MAX_NESTING - 1) + "}", encoding="utf-8")
    assert [a.text for a in load(tmp_path).articles] == ["Fine."]


@pytest.mark.parametrize("field", ["title", "author", "source", "url", "published"])
def test_a_field_over_the_size_cap_is_refused_by_name(tmp_path, field):
    (tmp_path / "big.json").write_text(json.dumps({"text": "Body.", field: "x" * (MAX_FIELD_CHARS + 1)}), encoding="utf-8")
    result = load(tmp_path)
    assert not result.articles
    assert [s.reason for s in result.skipped] == [f"field '{field}' is {MAX_FIELD_CHARS + 1} characters long; the limit is {MAX_FIELD_CHARS}"]
