"""A source named in a question ("What did Xinhua say …", "according to Reuters …") as a filter on the
articles' source and byline.

Only names the corpus itself has as a source or byline are looked for, and only where the question
says it is their word: after "according to", "did", "does", "from", "by" or "in", or before "said",
"reported", "wrote" and the like. "Which articles mention Xinhua?" or "Who runs Reuters?" name the
agency as a topic and are not filtered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

_BEFORE_NAME = r"(?:according\s+to|did|does|do|from|by|in)\s+(?:the\s+)?"
_SAYING = r"say|says|said|report|reports|reported|write|writes|wrote|claim|claims|claimed"
_AFTER_NAME = rf"(?:'s?)?\s+(?:{_SAYING}|announce|announces|announced|publish|published)\b"
# "How many roads did Coast Daily say were closed?": the source and its verb wrap a question of its own;
# "What did Coast Daily say about …" has none without them.
_REPORTED_CLAUSE = rf"\s+(?:{_SAYING})\s+(?!(?:about|on|of|in|to|regarding)\b)(?=\w)"
_SPLIT = re.compile(r",|;|/|\band\b|\bfor\b", re.IGNORECASE)
_BY = re.compile(r"^\s*by\s+", re.IGNORECASE)
_SHORTEST = 3  # characters: shorter "names" (initials, "AP" aside) match inside too many questions


class SourceScope(BaseModel):
    """The source a question names, the words it came from, and whether any article is from it."""

    source: str  # as the corpus spells it
    text: str  # the question's words that named it
    applied: bool = True  # False: no article matched with the question's other filters, so every source was searched

    def label(self) -> str:
        if not self.applied:
            return f"no article is from {self.source} with these filters, so every source was searched"
        return f"searched articles from {self.source} (“{self.text}”)"

    def as_read(self, question: str) -> str:
        """The question without the source's words where they only say whose word it is ("according to
        Reuters, …"; "How many roads did Coast Daily say were closed?" reads "How many roads were
        closed?"): the article's source field says it, its text seldom does. A source the question asks
        about ("What did Harbor Wire say about …") stays."""
        if not self.applied:
            return question
        if self.text.lower().startswith("according to"):
            return question.replace(self.text, " ")
        if self.text.lower().startswith(("did ", "does ", "do ")):
            return re.sub(re.escape(self.text) + _REPORTED_CLAUSE, " ", question, count=1, flags=re.IGNORECASE)
        return question

    def contract(self) -> dict:
        """The `source_filter` key of `rag ask --json` (an extension of the contract)."""
        return {**self.model_dump(mode="json"), "label": self.label()}


def source_names(values: Iterable[str | None]) -> list[str]:
    """The names in the articles' source and byline fields ("By Xinhua" gives "Xinhua"), longest first
    so that "Reuters Breakingviews" is found before "Reuters"."""
    names = set()
    for value in values:
        for part in _SPLIT.split(value or ""):
            name = " ".join(_BY.sub("", part).split())
            if len(name) >= _SHORTEST or name.isupper() and len(name) >= 2:
                names.add(name)
    return sorted(names, key=lambda n: (-len(n), n))


class SourceNames:
    """A corpus's source names, each with its pattern compiled once (an index is asked many questions)."""

    def __init__(self, names: Iterable[str]):
        self.names = list(names)
        self._patterns = [(name, _pattern(name)) for name in self.names]

    def scope(self, question: str) -> SourceScope | None:
        """The first (longest) known source the question gives as the speaker or publisher, or None."""
        for name, pattern in self._patterns:
            match = pattern.search(question)
            if match:
                return SourceScope(source=name, text=match.group())
        return None


def _pattern(name: str) -> re.Pattern[str]:
    escaped = r"\s+".join(re.escape(word) for word in name.split())
    return re.compile(rf"\b{_BEFORE_NAME}{escaped}\b|\b{escaped}{_AFTER_NAME}", re.IGNORECASE)
