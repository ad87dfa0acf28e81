"""A time named in a question ("on March 2, 1987", "in February 2020", "last week", "before 2019")
as a filter on publication dates, and "latest" as newest first.

dateparser reads the dates; this module decides which words of a question may be one. Only words
after a preposition of time ("on", "in", "during", "since", "before", "after", "until", "between …
and …", "from … to …"), or a relative phrase standing alone ("yesterday", "last week", "3 days ago"),
are tried, and a parse counts only when it names a month, a year, a date or a relative period: so
"the 2020 Olympics", "Route 66", "5G" or "on Wednesday" (a day of the article's own story) never
become filters. dateparser's own search_dates was tried and is not used: it misses "in February
2020" in a question that also says "5G", and takes "the 2020" of "the 2020 Olympics" as a date.

Relative times count from the newest article in the corpus, not from today: an archive's "last
week" is the week before its latest story, and the answer says so.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from rag.text import spoken_date

# A word with its place in the question; trailing punctuation is not part of a date.
_WORD = re.compile(r"[^\s,;:?!()\"“”]+")
_POINT = {"on", "in", "during"}  # the period itself ("of" and "for" are content: "the forecast for 2020")
_FROM = {"since", "from"}  # from its start on
_AFTER = {"after"}  # from the day after it
_BEFORE = {"before"}  # up to the day before it
_UNTIL = {"until", "till", "through", "by"}  # up to its end
_RANGE_END = {"and", "to", "until", "till", "through"}
_RELATIVE = {"yesterday", "today", "last", "this", "past", "ago", "previous"}
_RELATIVE_START = _RELATIVE - {"ago"}  # the words a relative phrase standing alone may begin with
_LATEST = re.compile(r"\b(latest|most recent|newest|recent news)\b", re.IGNORECASE)
_MONTHS = {
    m.lower()
    for m in "January February March April May June July August September October November December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split()
}
_YEAR = re.compile(r"(1[89]|20|21)\d\d")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY_OR_YEAR = re.compile(r"\d{1,4}(?:st|nd|rd|th)?\.?")  # "3", "3rd", "1987", "3."
_PERIOD_UNITS = {"day", "days", "week", "weeks", "month", "months", "year", "years"}
_LONGEST = 5  # words in one date: "the 2nd of March 1987" is the longest form worth trying


# A time right after one of these names the period a figure is for ("Japan's unemployment rate in
# January", "car sales in February", "the trade deficit in 1986"), which a story published later
# reports: not a publication date to filter by.
_PERIOD_PREPOSITIONS = frozenset({"in", "for", "during"})
_MEASURES = frozenset(
    "rate rates sales output production exports imports deficit surplus growth inflation unemployment profit profits earnings "
    "revenue revenues income price prices figure figures spending investment reserves supply supplies demand stocks shipments "
    "orders balance gdp gnp loss losses volume turnover consumption index yield yields payrolls jobless".split()
)


# A word of the question: its text and character offsets.
_Word = tuple[str, int, int]


class TimeScope(BaseModel):
    """The publication dates a question asks about, the words it came from, and how to say it."""

    since: dt.date | None = None
    until: dt.date | None = None
    text: str = ""  # the question's words that named the time ("" for "latest" alone)
    relative_to: dt.date | None = None  # set when the time counts from the newest article
    latest: bool = False  # "latest", "most recent": the newest relevant articles first
    applied: bool = True  # False: no article fell in the dates, so all dates were searched
    yearless: bool = False  # "on March 3": the day or month of the latest year that has articles then

    def in_latest_year_with(self, published: Sequence[dt.date]) -> TimeScope:
        """A yearless time moved to the latest year, up to the one parsed, in which an article was
        published within it: in an archive of 1987 and 2022 stories, "on March 3" is 1987's if 2022
        has none. `published`: the articles' dates, sorted (a binary search per year, not a scan)."""
        if not self.yearless or self.since is None or self.until is None:
            return self
        for year in sorted({d.year for d in published if d.year <= self.since.year}, reverse=True):
            shift = year - self.since.year
            try:
                since, until = self.since.replace(year=year), self.until.replace(year=self.until.year + shift)
            except ValueError:  # February 29 in a year without one
                continue
            first_on_or_after = bisect.bisect_left(published, since)
            if first_on_or_after < len(published) and published[first_on_or_after] <= until:
                return self.model_copy(update={"since": since, "until": until})
        return self

    @property
    def filters_dates(self) -> bool:
        return self.since is not None or self.until is not None

    def as_read(self, question: str) -> str:
        """The question without the time words the search already applied: the dates it filtered on
        ("… at Lake Varden in 2020?") and "latest", which puts the newest first; the article's date says
        them and its text seldom repeats them. Unapplied dates stay: the reader must see them to say
        an article of another year does not answer."""
        if self.applied and self.filters_dates and self.text:
            question = question.replace(self.text, " ")
        return _LATEST.sub(" ", question) if self.latest else question

    def spoken(self) -> str:
        """The dates as a sentence says them: "of 3 March 1987", "from 1 February 2020 to 29 February
        2020", "from 2 March 1987 on", "up to 3 March 1987"; "" when it filters no dates."""
        return self._dates_as(spoken_date)

    def _dates_as(self, day_as: Callable[[dt.date], str]) -> str:
        since, until = (day_as(day) if day else None for day in (self.since, self.until))
        if since and since == until:
            return f"of {since}"
        if since and until:
            return f"from {since} to {until}"
        return f"from {since} on" if since else f"up to {until}" if until else ""

    def label(self) -> str:
        """What was understood, as the answer shows it: "searched articles of 1987-03-02", "newest first"."""
        parts = []
        if self.filters_dates and not self.applied:
            parts.append(f"no article is dated “{self.text}”, so all dates were searched")
        elif self.filters_dates:
            dates = self._dates_as(dt.date.isoformat)
            relative = f", counted from the newest article ({self.relative_to.isoformat()})" if self.relative_to else ""
            parts.append(f"articles {dates} (“{self.text}”{relative})")
        if self.latest:
            parts.append("newest first")
        text = ", ".join(parts)
        return text if self.filters_dates and not self.applied else "searched " + text

    def contract(self) -> dict:
        """The `time_filter` key of `rag ask --json` (an extension of the contract)."""
        return {**self.model_dump(mode="json"), "label": self.label()}


@dataclass(frozen=True)
class _Parsed:
    first: dt.date  # the period's first and last day
    last: dt.date
    relative: bool
    end: int  # index of the word after it


class QuestionTime:
    """Finds the time a question names; dateparser is imported on first use (it loads its language data)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def scope(self, question: str, newest: dt.date | None) -> TimeScope | None:
        """The question's time as a filter, or None. `newest`: the newest article's date (None: no article
        is dated, so nothing is filtered by date)."""
        latest = bool(_LATEST.search(question))
        if newest is None:
            return TimeScope(latest=True) if latest else None
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(question)]
        for i, (word, start, _) in enumerate(words):
            found = self._scope_at(words, i, word.lower(), newest)
            if found is not None and i > 0 and word.lower() in _PERIOD_PREPOSITIONS and words[i - 1][0].lower() in _MEASURES:
                continue  # "the unemployment rate in January": the figure's period, not when it was reported
            if found is not None:
                since, until, end_word, relative = found
                text = question[start : words[end_word - 1][2]]
                yearless = not relative and not any(_YEAR.fullmatch(w) or _ISO.fullmatch(w) for w in _WORD.findall(text))
                return TimeScope(since=since, until=until, text=text, relative_to=newest if relative else None, latest=latest, yearless=yearless)
        return TimeScope(latest=True) if latest else None

    def _scope_at(self, words: list[_Word], i: int, word: str, newest: dt.date) -> tuple[dt.date | None, dt.date | None, int, bool] | None:
        """(since, until, index of the word after, relative) for a time starting at words[i], else None."""
        if word == "between" or word in _FROM:
            first = self._date_at(words, i + 1, newest, stop=_RANGE_END)
            if first is not None and first.end < len(words) and words[first.end][0].lower() in _RANGE_END:
                second = self._date_at(words, first.end + 1, newest)
                if second is not None:
                    # "between March 1 and March 5, 1987": the first date takes its year from the second
                    first = self._date_at(words, i + 1, second.last, stop=_RANGE_END) or first
                    if first.first <= second.last:  # a range that ends before it starts is none
                        return first.first, second.last, second.end, first.relative or second.relative
            if word == "between" or first is None:
                return None
            return first.first, None, first.end, first.relative
        preposition = word in _POINT | _AFTER | _BEFORE | _UNTIL
        if not (preposition or word in _RELATIVE_START or word.isdigit()):
            return None
        parsed = self._date_at(words, i + 1 if preposition else i, newest)
        if parsed is None or not preposition and not parsed.relative:  # "3 days ago", "last week" stand alone
            return None
        if word in _AFTER:
            return parsed.last + dt.timedelta(days=1), None, parsed.end, parsed.relative
        if word in _BEFORE:
            return None, parsed.first - dt.timedelta(days=1), parsed.end, parsed.relative
        if word in _UNTIL:
            return None, parsed.last, parsed.end, parsed.relative
        return parsed.first, parsed.last, parsed.end, parsed.relative

    def _date_at(self, words: list[_Word], i: int, reference: dt.date, stop: frozenset[str] | set[str] = frozenset()) -> _Parsed | None:
        """The longest run of words from words[i] that dateparser reads as a month, year, date or relative period."""
        for n in range(min(_LONGEST, len(words) - i), 0, -1):
            run = [w.lower() for w, _, _ in words[i : i + n]]
            if any(w in stop for w in run) or not _names_a_time(run) or not _ends_a_time(run[-1]):
                continue
            if run[0] == "the" and not set(run) & (_MONTHS | _RELATIVE | _PERIOD_UNITS):
                continue  # "the 2020 Olympics": a name, not a time ("the 2nd of March" is one)
            parsed = self._parse(" ".join(w for w, _, _ in words[i : i + n]), reference)
            if parsed is not None:
                first, last = parsed
                return _Parsed(first, last, bool(set(run) & _RELATIVE), i + n)
        return None

    def _parse(self, text: str, reference: dt.date) -> tuple[dt.date, dt.date] | None:
        """The first and last day of the period dateparser reads in the text, relative to the reference."""
        from dateparser.date import DateDataParser

        # A date without a year is the latest one on or before the reference, as a reader of the archive means it.
        settings = {"RELATIVE_BASE": dt.datetime.combine(reference, dt.time()), "PREFER_DATES_FROM": "past"}
        with self._lock:  # dateparser's parsers keep per-call state
            data = DateDataParser(languages=["en"], settings=settings).get_date_data(text)
        if data.date_obj is None:
            return None
        date, period = data.date_obj.date(), data.period
        if period == "day":
            return date, date
        if period == "week":
            monday = date - dt.timedelta(days=date.weekday())
            return monday, monday + dt.timedelta(days=6)
        if period == "month":
            first = date.replace(day=1)
            return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        if period == "year":
            return date.replace(month=1, day=1), date.replace(month=12, day=31)
        return None  # a time of day alone is not a date


def _ends_a_time(word: str) -> bool:
    """Whether a time can end at this word: dateparser skips words it does not know ("March 3 about"),
    so without this the question's next words would count as the time's and be taken out with it."""
    return word in _MONTHS | _RELATIVE | _PERIOD_UNITS or bool(_DAY_OR_YEAR.fullmatch(word) or _ISO.fullmatch(word))


def _names_a_time(run: list[str]) -> bool:
    """Whether the words name a month, a year, an ISO date or a relative period; a day of the week or a
    bare number alone does not ("on Wednesday" is the story's own day; "66" is a route)."""
    words = set(run)
    if words & _MONTHS or any(_YEAR.fullmatch(w) or _ISO.fullmatch(w) for w in run):
        return True
    if words & {"yesterday", "today"}:
        return True
    return bool(words & (_RELATIVE - {"yesterday", "today"})) and bool(words & _PERIOD_UNITS)
