"""Sentence-aware chunks whose offsets index the article text exactly.

A small rule-based splitter, not a library: news text is split at line breaks (paragraphs, pull
quotes) and at sentence punctuation, and every span must map back to the original characters,
which the offset-preserving rules below guarantee by construction.
"""

from __future__ import annotations

import hashlib
import re

from rag.schema import Article, Chunk

# A sentence ends at . ! ? (and closing quotes/brackets) followed by space and a likely sentence start.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt gen gov sen rep col lt sgt capt cmdr adm rev hon pres "
    "inc ltd co corp dept univ assn bros est approx vs etc fig no nos vol ed eds "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e a.m p.m".split()
)
_LINE = re.compile(r"[^\r\n]+")
_WORD = re.compile(r"\S+")


def _is_abbreviation(text: str, end: int) -> bool:
    """Whether the period ending at `end` closes an abbreviation or an initial, not a sentence."""
    if text[end - 1] != ".":
        return False
    match = re.search(r"([A-Za-z][A-Za-z.]*)\.$", text[:end])
    if not match:
        return False
    word = match.group(1).lower()
    return word in _ABBREVIATIONS or len(word) == 1


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _split_long(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """A run of text with more than max_words words, cut at word boundaries."""
    words = list(_WORD.finditer(text, start, end))
    if len(words) <= max_words:
        return [(start, end)]
    return [
        (words[i].start(), words[min(i + max_words, len(words)) - 1].end())
        for i in range(0, len(words), max_words)
    ]


def split_sentences(text: str, max_words: int = 10_000) -> list[tuple[int, int]]:
    """Sentence spans (start, end) into text, no surrounding whitespace, none over max_words words."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        cursor = line.start()
        for end_match in _SENTENCE_END.finditer(text, line.start(), line.end()):
            if _is_abbreviation(text, end_match.end()):
                continue
            span = _trimmed(text, cursor, end_match.end())
            if span:
                spans.extend(_split_long(text, *span, max_words))
            cursor = end_match.end()
        span = _trimmed(text, cursor, line.end())
        if span:
            spans.extend(_split_long(text, *span, max_words))
    return spans


def _word_count(text: str, span: tuple[int, int]) -> int:
    return len(text[span[0] : span[1]].split())


class Chunker:
    """Groups consecutive sentences into chunks of at most `max_words` words, overlapping by sentences."""

    def __init__(self, max_words: int = 120, overlap_sentences: int = 1):
        if max_words < 1 or overlap_sentences < 0:
            raise ValueError("max_words must be positive and overlap_sentences not negative")
        self.max_words = max_words
        self.overlap_sentences = overlap_sentences

    def split(self, article: Article) -> list[Chunk]:
        text = article.text
        sentences = split_sentences(text, self.max_words)
        counts = [_word_count(text, s) for s in sentences]
        chunks: list[Chunk] = []
        first = 0
        while first < len(sentences):
            last, words = first, counts[first]
            while last + 1 < len(sentences) and words + counts[last + 1] <= self.max_words:
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
