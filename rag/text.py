"""Word-level text helpers shared by BM25 and the reader, so both see the same terms."""

from __future__ import annotations

import datetime as dt
import unicodedata
from functools import lru_cache

import Stemmer

from rag.index.lexical import FUNCTION_WORDS, STOPWORDS, TOKEN_PATTERN

_stemmer = Stemmer.Stemmer("english")
# Invisible characters that split a word for search and show nothing: zero-width space, non-joiner and
# joiner, word joiner, byte-order mark, soft hyphen.
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def normalize_text(text: str) -> str:
    """Zero-width characters removed, then NFKC. Every article field passes here once, at load, so the
    stored text is the normalised text: what is searched is what is shown, and offsets point into it.
    A question passes here too, so "Mini\u00adstry" in either finds "Ministry" in the other."""
    return unicodedata.normalize("NFKC", text.translate(_ZERO_WIDTH))


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms of a text, in order."""
    return [_stem(w) for w in TOKEN_PATTERN.findall(text.lower()) if w not in STOPWORDS]


def content_terms(text: str) -> set[str]:
    """The stemmed terms of what a text is about: function and question words dropped too."""
    return {_stem(w) for w in TOKEN_PATTERN.findall(text.lower()) if w not in FUNCTION_WORDS}


def first_line(exc: BaseException) -> str:
    """An exception's message as one line (its class's name when it has none): what a one-line error quotes."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def word_count(text: str) -> int:
    return len(text.split())


def spoken_date(day: dt.date) -> str:
    """A date as an answer says it: "5 February 2020"."""
    return f"{day.day} {day:%B %Y}"
