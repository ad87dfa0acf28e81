import json
import re
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.index import chunking
from rag.index.chunking import MAX_CHUNK_CHARS, Chunker, dateline, is_dateline, is_teaser, split_sentences
from rag.schema import Article
from tests.helpers import ROOT, SEED_FILE, SEEDS, SHARED_DATA


def article(text: str) -> Article:
    return Article(id="a", title="t", path="a.txt", text=text)


def sentences(text: str) -> list[str]:
    """The sentences of text, each with its white space runs made one space."""
    return [" ".join(text[start:end].split()) for start, end in split_sentences(text)]


def wrapped(paragraphs: list[str], width: int, style: str) -> str:
    """Paragraphs hard-wrapped as wire feeds and e-mail are: apart by blank lines, or indented (wire style)."""
    indent, between = ("    ", "\n") if style == "indented" else ("", "\n\n")
    return between.join(fill(p, width, initial_indent=indent) for p in paragraphs) + "\n"


def fill(paragraph: str, width: int, **options) -> str:
    """The paragraph wrapped at width, never inside a word (a hyphen is part of the word)."""
    return textwrap.fill(paragraph, width, break_on_hyphens=False, break_long_words=False, **options)


def seed_body() -> str:
    text = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    return text[text.index("BEIJING") :]


def test_sentences_respect_abbreviations_and_lines():
    text = "Mr. Smith went to Washington. He met Dr. Jones at 5 p.m. on Monday!\nA pull quote without a stop\nLast one?"
    assert sentences(text) == [
        "Mr. Smith went to Washington.",
        "He met Dr. Jones at 5 p.m. on Monday!",
        "A pull quote without a stop",
        "Last one?",
    ]


WIRE_STORY = [
    "CLEVELAND, Feb 26 - Standard Oil Co and BP North America Inc said they plan to form a venture to manage "
    "the money market borrowing and investment activities of both companies.",
    "BP North America is a subsidiary of British Petroleum Co Plc, which also owns a 55 pct interest in "
    "Standard Oil. The venture will be called BP/Standard Financial Trading and will be operated by Standard "
    "Oil under the oversight of a joint management committee.",
    "A spokesman said the venture would begin operations on April 1. He declined to say how much money it would manage.",
]
WIRE_SENTENCES = [
    "CLEVELAND, Feb 26 -",
    "Standard Oil Co and BP North America Inc said they plan to form a venture to manage the money market "
    "borrowing and investment activities of both companies.",
    "BP North America is a subsidiary of British Petroleum Co Plc, which also owns a 55 pct interest in Standard Oil.",
    "The venture will be called BP/Standard Financial Trading and will be operated by Standard Oil under the oversight of a joint management committee.",
    "A spokesman said the venture would begin operations on April 1.",
    "He declined to say how much money it would manage.",
]


@pytest.mark.parametrize("width", [57, 65, 72])
@pytest.mark.parametrize("style", ["blank lines", "indented"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_hard_wrapped_sentence_comes_out_whole_with_its_dateline_apart(width, style, newline):
    text = wrapped(WIRE_STORY, width, style).replace("\n", newline)
    if width == 57 and style == "blank lines":  # the issue's text
        assert text.startswith(f"CLEVELAND, Feb 26 - Standard Oil Co and BP North America{newline}Inc said")
    assert sentences(text) == WIRE_SENTENCES


@pytest.mark.parametrize("width", [40, 57, 65, 72, 80, 100])
@pytest.mark.parametrize("style", ["blank lines", "indented"])
def test_wrapping_an_article_does_not_change_its_sentences(width, style):
    body = seed_body()
    paragraphs = [line for line in body.splitlines() if line.strip()]
    assert sentences(wrapped(paragraphs, width, style)) == sentences(body)


def test_a_short_line_standing_alone_is_a_sentence_of_its_own():
    text = "\n".join(
        [
            fill(WIRE_STORY[0], 65),
            '"We are not out of the woods yet"',
            fill(WIRE_STORY[1], 65),
            "ALSO READ: Markets rally as oil falls",
            "Related coverage",
            fill(WIRE_STORY[2], 65),
        ]
    )
    assert sentences(text) == [
        *WIRE_SENTENCES[:2],
        '"We are not out of the woods yet"',
        *WIRE_SENTENCES[2:4],
        "ALSO READ: Markets rally as oil falls",
        "Related coverage",
        *WIRE_SENTENCES[4:],
    ]


@pytest.mark.parametrize(
    "sentence, teaser",
    [
        ("ALSO READ: Markets rally as oil falls", True),
        ("READ MORE: 5G will create 'internet of everything'", True),
        ("Also read: the council's reply", True),
        ("See also: earlier coverage", True),
        ("Related: Port strike enters second week", True),
        ("Related coverage", False),  # a heading, not a link label
        ("Readers said they would read more of it: all of them.", False),
        ("The minister said: read the report first.", False),
    ],
)
def test_a_link_to_another_story_is_told_apart_from_the_articles_own_sentences(sentence, teaser):
    assert is_teaser(sentence) is teaser


@pytest.mark.parametrize(
    "text, is_one",
    [
        ("PORT KESSING, Feb 15 - The strike entered its second week.", True),
        ("BEIJING — China called on countries to view 5G risks objectively.", True),
        ("Beijing, Feb 5 (Xinhua) - China called on countries.", True),
        ("The strike entered its second week - the union said.", False),
    ],
)
def test_a_dateline_sentence_is_told_apart_from_the_articles_own_sentences(text, is_one):
    first = split_sentences(text)[0]
    assert is_dateline(text, *first) is is_one


def test_a_blank_line_is_a_boundary_and_a_single_line_break_before_lowercase_is_not():
    assert sentences("Governor Maria Lopez said inflation\nwas expected to stay low.") == ["Governor Maria Lopez said inflation was expected to stay low."]
    assert sentences("Governor Maria Lopez said inflation\n\nwas expected to stay low.") == [
        "Governor Maria Lopez said inflation",
        "was expected to stay low.",
    ]


def test_every_line_of_a_paragraph_per_line_article_is_a_boundary():
    body = seed_body()
    lines = [line for line in body.splitlines() if line.strip()]
    for text in (body, "\n".join(lines)):  # with and without blank lines between paragraphs
        result = sentences(text)
        assert result == sentences(body)
        assert "Hua Chunying, Spokesperson, Foreign Ministry" in result
        assert "ALSO READ: Nation sets rapid pace with 5G development" in result
        assert result[:2] == ["BEIJING —", lines[0].removeprefix("BEIJING — ")]  # the dateline apart
        assert not any("\n" in text[start:end] for start, end in split_sentences(text))


def test_lines_of_headlines_of_about_the_same_length_are_not_taken_for_wrapped_text():
    headlines = [
        "Oil prices climb as OPEC agrees output cuts",
        "Stocks slip on worries over Chinese growth",
        "Dollar firms against yen after jobs report",
        "Gold steadies near two-week high on Fed bets",
    ]
    assert sentences("\n".join(headlines)) == headlines


@pytest.mark.parametrize(
    "dateline",
    [
        "BEIJING —",
        "WASHINGTON, March 3 (Reuters) -",
        "ST. LOUIS, Sept. 11 --",
        "Beijing, Feb 5 (Xinhua) -",
        "NEW DELHI, Feb 26, 2020 –",
    ],
)
def test_a_dateline_is_split_off(dateline):
    assert sentences(f"{dateline} The ministry said on Wednesday it would act. It did.") == [
        dateline,
        "The ministry said on Wednesday it would act.",
        "It did.",
    ]


@pytest.mark.parametrize("text", ["BP - the oil company - said it would act.", "IMT-2020 (5G) Promotion Group - a body - said so."])
def test_a_dash_early_in_a_sentence_is_not_a_dateline(text):
    assert sentences(text) == [text]


def test_chunks_group_sentences_with_overlap():
    text = " ".join(f"Sentence number {i} has exactly six words." for i in range(20))
    chunks = Chunker(max_words=20, overlap_sentences=1).split(article(text))
    assert all(len(c.text.split()) <= 20 for c in chunks)
    for before, after in zip(chunks, chunks[1:]):
        assert after.sentences[0] == before.sentences[-1]  # one sentence of overlap
    assert chunks[-1].end == len(text)


def test_a_sentence_longer_than_a_chunk_is_cut_at_words():
    text = " ".join(["word"] * 250)
    chunks = Chunker(max_words=100, overlap_sentences=0).split(article(text))
    assert [len(c.text.split()) for c in chunks] == [100, 100, 50]


def test_a_sentence_longer_than_a_chunks_characters_is_cut_at_words_and_a_longer_word_inside():
    text = "one two three " + "x" * 250 + " four five."
    spans = split_sentences(text, max_chars=10)
    assert [text[s:e] for s, e in spans] == ["one two", "three", *["x" * 10] * 25, "four five."]


def test_a_data_uri_in_an_article_becomes_chunks_no_longer_than_the_bound():
    """Issue: a 19 MB base64 image in an article was one chunk and one sentence, quoted whole in every reply."""
    uri = "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAA+/" * 2_000  # 52 KB without a space
    text = f"The council published its flood map on Tuesday. It attached {uri} The wall will cost 4 million dollars."
    chunks = Chunker().split(article(text))
    assert max(len(c.text) for c in chunks) <= MAX_CHUNK_CHARS
    assert max(e - s for c in chunks for s, e in c.sentences) <= MAX_CHUNK_CHARS
    assert text[slice(*chunks[0].sentences[0])] == "The council published its flood map on Tuesday."
    assert text[slice(*chunks[-1].sentences[-1])] == "The wall will cost 4 million dollars."


text_strategy = st.text(
    alphabet=st.sampled_from(list("abcXYZ .!?\n\t'\"—é5")) | st.characters(blacklist_categories=("Cs",)),
    max_size=600,
)
# Text shaped like articles: words, punctuation, datelines, indentation and every kind of line break.
layout_strategy = st.lists(
    st.sampled_from(["word", "Word", "Mr.", "U.S.", "CLEVELAND, Feb 26 -", "BEIJING —", ".", "?", '"', ")"])
    | st.sampled_from([" ", "  ", "    ", "\t", "\u3000", "\n", "\n\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0c"])
    | st.text(max_size=3),
    max_size=300,
).map("".join)

# Words and sentences with runs of characters without a space among them (a URL, base64, a table rule),
# longer than the bounds the tests draw.
long_run_strategy = st.lists(
    st.sampled_from(["word", "Word.", "Mr.", "?", " ", "  ", "\n", "\n\n", "\t", "data:image/png;base64,"])
    | st.text(alphabet=st.sampled_from(list("AZaz09+/=.é日—")), min_size=1, max_size=400),
    max_size=40,
).map("".join)


@settings(max_examples=300)
@given(text=text_strategy | long_run_strategy, max_words=st.integers(3, 40), overlap=st.integers(0, 2), max_chars=st.integers(1, 300))
def test_chunk_offsets_always_index_the_article(text, max_words, overlap, max_chars):
    source = article(text)
    chunks = Chunker(max_words=max_words, overlap_sentences=overlap, max_chars=max_chars).split(source)
    covered = set()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        assert len(chunk.text) <= max_chars
        for start, end in chunk.sentences:
            assert chunk.start <= start < end <= chunk.end
            covered.add((start, end))
    # every sentence of the text lands in some chunk; nothing but white space is left out
    assert covered == set(split_sentences(text, max_words, max_chars))
    kept = "".join(text[s:e] for s, e in sorted(covered))
    assert "".join(kept.split()) == "".join(text.split())


@settings(max_examples=500)
@given(text=text_strategy | layout_strategy | long_run_strategy, max_words=st.integers(1, 50), max_chars=st.integers(1, 300))
def test_sentence_spans_index_the_text_in_order_and_leave_out_only_white_space(text, max_words, max_chars):
    spans = split_sentences(text, max_words, max_chars)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        sentence = text[start:end]
        assert sentence == sentence.strip()
        assert len(sentence.split()) <= max_words
        assert len(sentence) <= max_chars
        assert not text[previous_end:start].strip()
        previous_end = end
    assert not text[previous_end:].strip()


@settings(max_examples=200)
@given(text=long_run_strategy, max_chars=st.integers(1, 300))
def test_a_sentence_is_cut_inside_a_word_only_where_the_word_is_longer_than_the_bound(text, max_chars):
    """Where the character bound cuts, it cuts between words; inside one only when the word alone is longer."""
    sentence_edges = {at for span in split_sentences(text, max_chars=len(text) + 1) for at in span}
    for span in split_sentences(text, max_chars=max_chars):
        for at in set(span) - sentence_edges:  # a cut the bound made: at a word's edge, or inside a word longer than the bound
            if not text[at - 1].isspace() and not text[at].isspace():
                word = re.search(r"\S*\Z", text[:at]).group() + re.match(r"\S*", text[at:]).group()
                assert len(word) > max_chars


class CountingText(str):
    """Text that counts the characters copied out of it by slicing and indexing."""

    copied = 0

    def __getitem__(self, key):
        piece = str.__getitem__(self, key)
        self.copied += len(piece)
        return piece


@pytest.mark.parametrize(
    "unit",
    ["Mr. Smith said the budget was ready.\n", wrapped(WIRE_STORY, 65, "indented"), seed_body()],
    ids=["issue 9 line", "wrapped", "seed"],
)
def test_splitting_and_chunking_work_grows_linearly_with_the_text(monkeypatch, unit):
    """Work counted, not timed (eval/bench_splitter.py times it): the characters copied out of the
    text and handed to the segmenter, and the sentences the chunker visits, per character of text,
    do not grow when the text grows 16-fold. The old splitter copied text[:end] for every period."""
    handed: list[int] = []
    segment = chunking.sentencex.get_sentence_boundaries

    def counting_segment(language: str, text: str):
        handed.append(len(text))
        return segment(language, text)

    monkeypatch.setattr(chunking.sentencex, "get_sentence_boundaries", counting_segment)
    work_per_character = []
    for copies in (50, 800):
        text = CountingText(unit * copies)
        handed.clear()
        spans = split_sentences(text)
        assert sum(handed) <= len(text)  # each character reaches the segmenter at most once
        work_per_character.append((text.copied + sum(handed)) / len(text))
        chunks = Chunker(max_words=120, overlap_sentences=1).split(article(str(text)))
        assert sum(len(chunk.sentences) for chunk in chunks) <= 2 * len(spans)  # each sentence twice at most
    assert work_per_character[1] <= 1.05 * work_per_character[0] <= 3


@pytest.mark.parametrize(
    "text, whole, place",
    [
        ("BEIJING — China called on countries", "BEIJING —", "BEIJING"),
        ("CLEVELAND, Feb 26 - Standard Oil Co said", "CLEVELAND, Feb 26 -", "CLEVELAND"),
        ("\n  Beijing, Feb 5 (Xinhua) - The ministry said", "Beijing, Feb 5 (Xinhua) -", "Beijing"),
        ("ST. LOUIS, Sept. 11 (Reuters) -- Shares rose", "ST. LOUIS, Sept. 11 (Reuters) --", "ST. LOUIS"),
        ("The bank said on Tuesday", None, None),
    ],
)
def test_an_articles_dateline_and_its_place(text, whole, place):
    found = dateline(text)
    if whole is None:
        assert found is None
    else:
        assert text[found.start : found.end] == whole and text[found.start : found.place_end] == place


def _unwrapped(text: str) -> str:
    """The text with each line break inside a paragraph (before a line at the margin) a space: same offsets."""
    return re.sub(r"(?<=\S)[ \t]*\n(?=\S)", lambda found: " " * len(found.group()), text)


def _ends(text: str) -> set[int]:
    return {end for _, end in split_sentences(text)}


# Wire copy as Reuters sends it: the dateline before the lead, the lead's first line short by the indent
# the feed dropped, later paragraphs indented, lines wrapped at one width; names, numbers, "U.S." at line ends.
WIRE_POOL = [
    "USAir Group Inc said Piedmont Aviation Inc has agreed to be acquired for 69 dlrs per share.",
    "OPEC president Rilwanu Lukman accused some members of producing above their quotas.",
    "Europe, which reduced demand for oil, bought less from the U.S. and Canada last year.",
    "Brazil, the largest coffee exporter, said 33,000 long tons would be shipped in April.",
    '"We are not out of the woods yet," Lukman told reporters in Lagos on Tuesday.',
    "The Bank of England forecast a shortage of around 250 mln stg in the money market today.",
    "Shares of the company rose 1-1/4 to 33-3/4 in active trading on the New York Stock Exchange.",
    "Chrysler Corp said its February U.S. car production was 110,552 compared with 101,000.",
]


@settings(max_examples=int(__import__("os").environ.get("WRAP_EXAMPLES", "150")), deadline=None)
@given(
    paragraphs=st.lists(st.lists(st.sampled_from(WIRE_POOL), min_size=1, max_size=3), min_size=1, max_size=4),
    width=st.integers(45, 80),
)
def test_wrapping_wire_copy_changes_no_sentence_end(paragraphs, width):
    """Issue 31: where a sentence ends does not depend on where the wire's lines were broken."""
    texts = [" ".join(sentences_of) for sentences_of in paragraphs]
    texts[0] = "NEW YORK, March 9 - " + texts[0]
    # the first line has the indent's room taken from it, as when the feed drops the lead's indent
    lead = fill("    " + texts[0], width).removeprefix("    ")
    text = "\n".join([lead, *(fill(p, width, initial_indent="    ") for p in texts[1:])])
    assert _ends(text) == _ends(_unwrapped(text))


def _wire_paragraph_start_or_sign_off(text: str, end: int) -> bool:
    """An end the unwrapped copy cannot keep: before an indented line (a paragraph or a table row of the
    wire's layout, which the copy's long lines no longer show) or before the sign-off."""
    return re.match(r"[ \t]*(?:\n[ \t]+\S|\n[ \t]*reuter\b|\s*$)", text[end:], re.IGNORECASE) is not None


@pytest.mark.skipif(not (SHARED_DATA / "reuters-dev" / "corpus").is_dir(), reason="needs ../shared/data/reuters-dev")
def test_wrapping_changes_no_sentence_end_in_real_wire_copy():
    """The 1,836 Reuters stories of reuters-dev and the wrapped gold's articles: every sentence end of a story is
    one of its unwrapped copy's, but where the copy lost the wire's layout (measured: 19 ends in 13 stories,
    all earnings tables and sign-offs; 378 in 324 stories before)."""
    stories = [json.loads(path.read_text(encoding="utf-8"))["text"] for path in sorted((SHARED_DATA / "reuters-dev" / "corpus").glob("*.json"))]
    stories += [path.read_text(encoding="utf-8") for path in sorted((ROOT / "eval" / "gold" / "wrapped").glob("*.txt"))]
    unexplained = [
        (text[max(0, end - 40) : end + 20], end)
        for text in stories
        for end in _ends(text) ^ _ends(_unwrapped(text))
        if not _wire_paragraph_start_or_sign_off(text, end)
    ]
    assert unexplained == []


def test_the_issues_wire_sentences_come_out_whole():
    """The lead after the dateline, a line that starts with a quotation mark, a line that ends "U.S."."""
    text = (
        "NEW YORK, March 9 - USAir Group Inc said Piedmont Aviation\n"
        "Inc has agreed to be acquired for 69 dlrs per share.\n"
        "    OPEC president Rilwanu Lukman accused some members of\n"
        '"cheating" on their quotas, the agency said in a statement.\n'
        "    Europe, which reduced demand for oil, bought less from the U.S.\n"
        "and Canada last year, the report said.\n"
    )
    assert sentences(text) == [
        "NEW YORK, March 9 -",
        "USAir Group Inc said Piedmont Aviation Inc has agreed to be acquired for 69 dlrs per share.",
        'OPEC president Rilwanu Lukman accused some members of "cheating" on their quotas, the agency said in a statement.',
        "Europe, which reduced demand for oil, bought less from the U.S. and Canada last year, the report said.",
    ]
