"""Sentence-aware chunks whose offsets index the article text exactly.

Sentences are found in two steps, both linear in the length of the text:

1. Layout (the rules below) cuts the text into blocks no sentence crosses. A blank line and a
   single line break end a block, so a line that stands alone (a heading, a pull quote, "ALSO
   READ: …", each paragraph of a paragraph-per-line article) is a block of its own. A single line
   break does not end a block where the sentence goes on in lowercase, nor inside a hard-wrapped
   paragraph (wire feeds, e-mail and archives wrap at ~65 characters): there the next line's first
   word would not have fit. A dateline ("CLEVELAND, Feb 26 -", "BEIJING —") is split off a block.
2. sentencex (Wikimedia's rule-based segmenter) splits each block at sentence punctuation and
   returns character offsets. It was measured against syntok, pysbd, blingfire, nupunkt and
   spaCy's sentencizer on wrapped and unwrapped news text (eval/RESULTS.md, "Sentence splitter").

A sentence longer than a chunk may be (in words or in characters) is cut into runs that fit, at word
boundaries; a word longer than that (a base64 data URI pasted into an article) is cut inside.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple

import sentencex

from rag.schema import Article, Chunk

# Widths a text can plausibly be hard-wrapped at; a paragraph-per-line article has lines outside them.
_MIN_WRAP_WIDTH, _MAX_WRAP_WIDTH = 30, 200

# "CLEVELAND, Feb 26 -", "ST. LOUIS, Sept. 11 (Reuters) --", "BEIJING —", "Beijing, Feb 5 (Xinhua) -":
# a city in capitals, or a capitalised one followed by a date or an agency, then a dash.
_DATE = r"[A-Z][a-z]{2,8}\.?[ ]\d{1,2}(?:,[ ]\d{4})?"
_AGENCY = r"\([A-Z][\w.&' -]{0,30}\)"
_DATELINE = re.compile(
    rf"""
    (?: [A-Z][A-Z.'’-]{{2,}} (?:[ ][A-Z][A-Z.'’-]+){{0,3}} (?:,[ ][A-Z][a-z]+\.?)?
        (?:,?[ ]{_DATE})? (?:[ ]{_AGENCY})?
      | [A-Z][a-z]+ (?:[ ][A-Z][a-z]+){{0,2}} (?:,[ ][A-Z][a-z]+\.?)?
        (?: ,?[ ]{_DATE} (?:[ ]{_AGENCY})? | [ ]{_AGENCY} )
    )
    [ ]+ (?:--?|–|—) (?=[ ]+\S)
    """,
    re.VERBOSE,
)
# A link to another story set into the text ("ALSO READ: Nation sets rapid pace with 5G development"):
# a sentence of its own (a line that stands alone), but not something the article says.
_TEASER = re.compile(r"\s*(?:also read|read more|read also|see also|related|more on this)\s*:", re.IGNORECASE)
_DATELINE_MAX_CHARS = 80  # the dateline pattern only looks this far into a block
_SENTENCE_ENDS = (".", "!", "?", "…")
_CLOSING = "\"'”’)]»"
# The most characters in a chunk, and so in a sentence. Both networks read 256 word pieces at a time (the
# encoder's max_seq_length, the reader's max_length): about 1,100 characters of prose, or 500 of base64.
# A chunk of 120 words of news or Wikipedia is at most ~1,200 characters and a sentence ~900 (measured on
# reuters-dev, SQuAD dev and SciFact), so only text without spaces reaches this: there it keeps the reader
# to a few windows a passage and every quote and reply to kilobytes.
MAX_CHUNK_CHARS = 2_000
_WORD = re.compile(r"\S+")
_SPACES = re.compile(r"\s*")


def _after_spaces(text: str, start: int, end: int) -> int:
    """Where the text between start and end stops being white space."""
    spaces = _SPACES.match(text, start, end)  # `\s*` matches everywhere, if only the empty string
    return spaces.end() if spaces else start


def is_dateline(text: str, start: int, end: int) -> bool:
    """Whether text[start:end], one of the splitter's sentences, is a dateline ("PORT KESSING, Feb 15 -"):
    where and when the story was filed, not something it says."""
    found = _DATELINE.match(text, start, min(len(text), start + _DATELINE_MAX_CHARS))
    return found is not None and found.end() == end


def is_story_sentence(text: str, start: int, end: int) -> bool:
    """Whether text[start:end], one of the splitter's sentences, is something the story says: not a link
    to another story, not its dateline."""
    return not is_teaser(text[start:end]) and not is_dateline(text, start, end)


def is_teaser(sentence: str) -> bool:
    """Whether a sentence is a link to another story ("ALSO READ: …", "READ MORE: …"), not the article's own text."""
    return _TEASER.match(sentence) is not None


class _Line(NamedTuple):
    start: int  # offset of the line in the text
    width: int  # characters up to the end of its last word
    indent: int  # white space before its first word
    first_word: int  # length of its first word
    starts_lowercase: bool
    starts_digit: bool
    ends_sentence: bool  # ends with . ! ? or …, maybe inside quotes or brackets
    ends_open: bool  # ends with a word no sentence or heading ends with ("the", "of", "and" …)


def _paragraphs(text: str) -> list[list[_Line]]:
    """The runs of non-blank lines between blank lines (line breaks as str.splitlines knows them)."""
    paragraphs: list[list[_Line]] = [[]]
    offset = 0
    for line in text.splitlines(keepends=True):
        content = line.rstrip()
        if content:
            first_word = content.split(None, 1)[0]
            indent = len(content) - len(content.lstrip())
            ends_sentence = content.rstrip(_CLOSING).endswith(_SENTENCE_ENDS)
            ends_open = content.rsplit(None, 1)[-1].lower() in _OPEN_ENDS
            paragraphs[-1].append(
                _Line(offset, len(content), indent, len(first_word), first_word[0].islower(), first_word[0].isdigit(), ends_sentence, ends_open)
            )
        elif paragraphs[-1]:
            paragraphs.append([])
        offset += len(line)
    return [paragraph for paragraph in paragraphs if paragraph]


def _next_word_overflows(line: _Line, following: _Line, width: int) -> bool:
    """Whether the first word of the following line would not have fit on this one."""
    return line.width + 1 + following.first_word > width


def _typical_width(lines: list[_Line]) -> int | None:
    """What all but a few lines fit in (the 95th percentile of their widths), when that is a width text is
    wrapped at; None otherwise."""
    if not lines:
        return None
    per_width = Counter(min(line.width, _MAX_WRAP_WIDTH + 1) for line in lines)
    width, at_most = 0, per_width[0]
    while 20 * at_most < 19 * len(lines):
        width += 1
        at_most += per_width[width]
    return width if _MIN_WRAP_WIDTH <= width <= _MAX_WRAP_WIDTH else None


def _wrap_width(paragraphs: list[list[_Line]]) -> int | None:
    """The width the text is hard-wrapped at, or None when its lines are not hard-wrapped.

    The width is what all but a few lines fit in (the 95th percentile). A wrapper breaks a line only
    where the next word would not fit, so in a hard-wrapped text at least a third of the line breaks
    are such; the others end paragraphs or lines that stand alone. And wrapped prose goes on in
    lowercase after some of them, where a list of headlines of about the same length never does.
    """
    lines = [line for paragraph in paragraphs for line in paragraph]
    if len(lines) < 3:
        return None
    width = _typical_width(lines)
    if width is None:
        return None
    breaks = [pair for paragraph in paragraphs for pair in itertools.pairwise(paragraph)]
    wraps = [following for line, following in breaks if _next_word_overflows(line, following, width)]
    in_lowercase = sum(following.starts_lowercase for following in wraps)
    return width if len(wraps) >= 2 and 3 * len(wraps) >= len(breaks) and 5 * in_lowercase >= len(wraps) else None


# Words no sentence and no heading ends with: a line that ends with one goes on below.
_OPEN_ENDS = frozenset("the a an of for to and or but nor in on at by with from into onto than that as its their his her our your".split())
# In wrapped prose, a line shorter than this share of the usual width stands alone (a sign-off, a table row).
_STANDING_ALONE = 0.6


def _goes_on(line: _Line, following: _Line) -> bool:
    """The sentence plainly goes on on the next line: it starts in lowercase or with a number after a line
    that ends no sentence ("… for\n33,000 long tons"), or the line ends with "the", "of", "and" …"""
    return line.ends_open or (not line.ends_sentence and (following.starts_lowercase or following.starts_digit))


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    """Spans no sentence crosses: the paragraphs of a hard-wrapped text, otherwise its lines."""
    paragraphs = _paragraphs(text)
    width = _wrap_width(paragraphs)
    lines = [line for paragraph in paragraphs for line in paragraph]
    # The indent of running text: the least of the lines that follow another line in their paragraph (a
    # table of indented rows in a wire story does not make indented lines the running text; a heading
    # at the margin above an indented body, a first line, does not make the margin it).
    base = min((following.indent for paragraph in paragraphs for following in paragraph[1:]), default=0)
    # Wire layout: paragraphs start indented deeper than the running text, in lines of about one width.
    # There a line at the base indent continues the one before, whatever its first letter and wherever
    # the wrapper broke (the lead's first line is short: the dateline, and the indent the feed dropped,
    # took its room), unless that one is short: a line standing alone, a row of a table.
    typical = _typical_width(lines)
    # a story's first line that opens with a dateline and ends no sentence: its lead goes on below
    lead_line = lines[0].start if lines and _DATELINE.match(text, lines[0].start + lines[0].indent) else -1
    wire = typical is not None and any(line.indent > base for line in lines) and any(f.indent <= base for p in paragraphs for f in p[1:])
    for paragraph in paragraphs:
        first = paragraph[0]
        # prose wrapped at a width: wire layout, or a paragraph whose sentences go on in lowercase on the
        # next line (a list of headlines of about one length never does)
        prose = typical is not None and (wire or any(_goes_on(line, f) for line, f in itertools.pairwise(paragraph)))
        for line, following in itertools.pairwise(paragraph):
            # Wrapped: the sentence goes on in lowercase, or in a hard-wrapped text the next word would not
            # have fit, or in wrapped prose any line goes on but one standing alone. A line indented deeper
            # than the running text starts a paragraph.
            wrapped = following.indent <= base and (
                following.starts_lowercase
                or (width is not None and _next_word_overflows(line, following, width))
                or (prose and line.width >= _STANDING_ALONE * (typical or 0))
                or (line.start == lead_line and not line.ends_sentence and following.indent <= line.indent)
            )
            if not wrapped:
                yield first.start, line.start + line.width
                first = following
        last = paragraph[-1]
        yield first.start, last.start + last.width


class Dateline(NamedTuple):
    """Where an article's dateline is: the whole of it ("CLEVELAND, Feb 26 -") and its place ("CLEVELAND")."""

    start: int
    end: int
    place_end: int


_PLACE_END = re.compile(r",|[ ]\(|[ ]+(?:--?|–|—)")


def dateline(text: str) -> Dateline | None:
    """The dateline at the start of an article's text, if it has one."""
    start = _after_spaces(text, 0, len(text))
    found = _DATELINE.match(text, start, min(len(text), start + _DATELINE_MAX_CHARS))
    if found is None:
        return None
    place_end = _PLACE_END.search(text, start, found.end())  # a dateline ends in one of these
    return Dateline(start, found.end(), place_end.start() if place_end else found.end())


def _without_dateline(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The block, with a dateline at its start as a span of its own."""
    start = _after_spaces(text, start, end)
    dateline = _DATELINE.match(text, start, min(end, start + _DATELINE_MAX_CHARS))
    if dateline:
        yield start, dateline.end()
        start = dateline.end()
    yield start, end


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _split_long(text: str, start: int, end: int, max_words: int, max_chars: int) -> list[tuple[int, int]]:
    """The span (trimmed), cut at word boundaries into runs of at most max_words words and max_chars
    characters. A word longer than max_chars is cut into pieces of max_chars (the last one shorter),
    each a run of its own: the words after it start a run, so a sentence there is not quoted with it."""
    if end - start <= max_chars and (end - start + 1) // 2 <= max_words:  # too short to hold more: skip counting
        return [(start, end)]
    runs: list[tuple[int, int]] = []
    room = 0  # words the last run can still take
    for word in _WORD.finditer(text, start, end):
        word_start, word_end = word.span()
        if word_end - word_start > max_chars:
            runs.extend((at, min(at + max_chars, word_end)) for at in range(word_start, word_end, max_chars))
            room = 0
        elif room and word_end - runs[-1][0] <= max_chars:
            runs[-1] = (runs[-1][0], word_end)
            room -= 1
        else:
            runs.append((word_start, word_end))
            room = max_words - 1
    return runs


def split_sentences(text: str, max_words: int = 10_000, max_chars: int = MAX_CHUNK_CHARS) -> list[tuple[int, int]]:
    """Sentence spans (start, end) into text, no surrounding whitespace, none over max_words words or max_chars characters."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    spans: list[tuple[int, int]] = []
    for block in _blocks(text):
        for start, end in _without_dateline(text, *block):
            for sentence in sentencex.get_sentence_boundaries("en", text[start:end]):
                span = _trimmed(text, start + sentence["start_index"], start + sentence["end_index"])
                if span:
                    spans.extend(_split_long(text, *span, max_words, max_chars))
    return spans


def _word_count(text: str, span: tuple[int, int]) -> int:
    return len(text[span[0] : span[1]].split())


class Chunker:
    """Groups consecutive sentences into chunks of at most `max_words` words and `max_chars` characters,
    overlapping by sentences."""

    def __init__(self, max_words: int = 120, overlap_sentences: int = 1, max_chars: int = MAX_CHUNK_CHARS):
        if max_words < 1 or overlap_sentences < 0 or max_chars < 1:
            raise ValueError("max_words and max_chars must be positive and overlap_sentences not negative")
        self.max_words = max_words
        self.overlap_sentences = overlap_sentences
        self.max_chars = max_chars

    def split(self, article: Article) -> list[Chunk]:
        text = article.text
        sentences = split_sentences(text, self.max_words, self.max_chars)
        counts = [_word_count(text, s) for s in sentences]
        chunks: list[Chunk] = []
        first = 0
        while first < len(sentences):
            last, words = first, counts[first]
            while last + 1 < len(sentences) and words + counts[last + 1] <= self.max_words and sentences[last + 1][1] - sentences[first][0] <= self.max_chars:
                last += 1
                words += counts[last]
            start, end = sentences[first][0], sentences[last][1]
            chunks.append(
                Chunk(
                    id=_chunk_id(article.id, start, end),
                    article_id=article.id,
                    text=text[start:end],
                    start=start,
                    end=end,
                    sentences=sentences[first : last + 1],
                )
            )
            if last + 1 >= len(sentences):
                break
            # Step back by the overlap, but always move forward by at least one sentence.
            first = max(first + 1, last + 1 - self.overlap_sentences)
        return chunks


def _chunk_id(article_id: str, start: int, end: int) -> str:
    return hashlib.sha1(f"{article_id}:{start}:{end}".encode()).hexdigest()[:16]
