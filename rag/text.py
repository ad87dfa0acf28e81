"""Word-level text helpers shared by BM25 and the reader, so both see the same terms."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import Stemmer

from rag.index.lexical import FUNCTION_WORDS, STOPWORDS, TOKEN_PATTERN

_stemmer = Stemmer.Stemmer("english")


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
