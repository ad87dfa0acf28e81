"""What a question itself narrows the search to: the time and the source it names, as filters.

The stage between cleaning a question and retrieving for it. It is built on one loaded index,
whose articles give the dates ("last week" counts from the newest) and the source names a question
may name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.query.question_source import SourceNames, SourceScope, source_names
from rag.query.question_time import QuestionTime, TimeScope
from rag.query.retrieve import Filters
from rag.schema import Article

# what a phrase's removal leaves: "… at Bayline , ?" reads "… at Bayline?"
_LOOSE_END = re.compile(r"[\s,;]+([?.!])")
_SPACE_BEFORE_COMMA = re.compile(r"\s+,")


@dataclass(frozen=True)
class Scopes:
    """What the question itself narrows the search to: a time, a source."""

    time: TimeScope | None = None
    source: SourceScope | None = None

    def narrow(self, filters: Filters) -> Filters:
        update: dict[str, object] = {}
        if self.time and self.time.filters_dates:
            update |= {"since": self.time.since, "until": self.time.until}
        if self.source:
            update["source"] = self.source.source
        return filters.model_copy(update=update) if update else filters

    def unmatched(self) -> Scopes:
        """The scopes of a search that found nothing within them and so searched without them."""
        time = self.time.model_copy(update={"applied": False}) if self.time and self.time.filters_dates else self.time
        source = self.source.model_copy(update={"applied": False}) if self.source else None
        return Scopes(time, source)

    def without_time(self, question: str) -> str:
        """The question without the words that named its time: "5G in February 2020" names the topic "5G"."""
        return question.replace(self.time.text, " ") if self.time and self.time.text else question

    def without_scopes(self, question: str) -> str:
        """The question without the words that named its time and its source: "the latest stories from Reuters" asks for the latest stories."""
        question = self.without_time(question)
        return question.replace(self.source.text, " ") if self.source and self.source.text else question

    def as_read(self, question: str) -> str:
        """The question as the reader reads it once its scopes narrowed the search: without the time and
        source words the search applied (`TimeScope.as_read`, `SourceScope.as_read`), which the
        article's date and source fields say and its text seldom repeats ("What was the water level at
        Lake Varden in 2020?" reads as "What was the water level at Lake Varden?")."""
        read = self.time.as_read(question) if self.time else question
        read = self.source.as_read(read) if self.source else read
        if read == question:
            return question
        read = _SPACE_BEFORE_COMMA.sub(",", _LOOSE_END.sub(r"\1", " ".join(read.split()))).strip(" ,;")
        return read[:1].upper() + read[1:] if read else question

    def answer_fields(self) -> dict:
        return {name: scope for name, scope in (("time_scope", self.time), ("source_scope", self.source)) if scope}


class QuestionScoper:
    """The time and source a question names, over one index's articles."""

    def __init__(self, articles: Iterable[Article]):
        articles = list(articles)
        self.published: list[dt.date] = sorted({a.published for a in articles if a.published})
        self.newest = self.published[-1] if self.published else None  # None: no article is dated
        self.sources = SourceNames(source_names(value for a in articles for value in (a.source, a.byline)))
        self._time = QuestionTime()

    def scopes(self, question: str, filters: Filters, time_filter: bool = True, source_filter: bool = True) -> Scopes:
        """The question's own scopes; a time or source the request already sets wins over the question's."""
        time = None
        if time_filter and not (filters.since or filters.until):
            found = self._time.scope(question, self.newest)
            time = found.in_latest_year_with(self.published) if found else None
        source = self.sources.scope(question) if source_filter and not filters.source else None
        return Scopes(time, source)
