"""What an answer span says, as a value two stories' answers can be compared by: a quantity (a number with
its unit, scaled: "1.5 billion dlrs" = "1,500 mln dlrs"), a date, a name, or plain words.

Two stories answer "How many died?" with "at least 26" and "32": another number, so the reports
disagree. "26" and "twenty-six", "Piedmont" and "Piedmont Aviation Inc" are the same answer in other
words. "71 dlrs" and "50.1 pct" are not two reports of one fact but answers to two questions (a price, a
share): they are not comparable, and never shown as a disagreement. Plain words are compared only as
"the same words" or not comparable: "no comment" and "rejected the bid" differ in a way that takes
reading, not matching, to call.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from enum import Enum

from rag.query.span_dates import day_of
from rag.query.span_reader import answer_key


class ValueKind(str, Enum):
    NUMBER = "number"
    DATE = "date"
    NAME = "name"
    WORDS = "words"


class Agreement(str, Enum):
    SAME = "same"
    DIFFERENT = "different"
    INCOMPARABLE = "incomparable"


_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "a": 1, "an": 1, "half": 0.5, "dozen": 12,
}  # fmt: skip
_SCALES = {
    "hundred": 1e2, "thousand": 1e3, "mln": 1e6, "million": 1e6, "mn": 1e6, "m": 1e6, "bln": 1e9, "billion": 1e9,
    "bn": 1e9, "trillion": 1e12, "trln": 1e12, "dozen": 12,
}  # fmt: skip
# Units with their one spelling: a currency is its own unit ("dlrs" and "stg" are not comparable), time
# spans are days (four months and 60 days are two figures of one duration).
_UNITS = {
    **dict.fromkeys(["dlr", "dlrs", "dollar", "dollars", "$", "us$", "usd", "cts", "ct", "cent", "cents"], "dlrs"),
    **dict.fromkeys(["stg", "sterling", "pound", "pounds", "£", "pence", "p"], "stg"),
    **dict.fromkeys(["yen", "¥"], "yen"),
    **dict.fromkeys(["mark", "marks", "dm", "deutschemarks"], "marks"),
    **dict.fromkeys(["franc", "francs"], "francs"),
    **dict.fromkeys(["guilder", "guilders"], "guilders"),
    **dict.fromkeys(["lire", "lira"], "lire"),
    **dict.fromkeys(["pct", "percent", "%", "pc"], "pct"),
    **dict.fromkeys(["barrel", "barrels", "bpd", "bbl"], "barrels"),
    **dict.fromkeys(["tonne", "tonnes", "ton", "tons"], "tonnes"),
    **dict.fromkeys(["bag", "bags"], "bags"),
    **dict.fromkeys(["share", "shares"], "shares"),
    **dict.fromkeys(["day", "days", "week", "weeks", "month", "months", "year", "years"], "days"),
    **dict.fromkeys(["point", "points", "basis"], "points"),
}  # fmt: skip
_DAYS_PER = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "year": 365, "years": 365}
# Cents are hundredths of a dollar, pence of a pound: "71 cts" and "0.71 dlrs" are one price.
_SUBUNIT = {"cts": 0.01, "ct": 0.01, "cent": 0.01, "cents": 0.01, "pence": 0.01, "p": 0.01}
_TOKEN = re.compile(r"[$£¥%]|\d[\d,]*(?:\.\d+)?(?:-\d+/\d+)?|\d*\.\d+|[A-Za-z][A-Za-z'.&-]*")
_NUMERAL = re.compile(r"\d[\d,]*(?:\.\d+)?(?:-\d+/\d+)?|\d*\.\d+")
_MONTHS = {
    m: n for n, m in enumerate(["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"], 1)
}
_MONTH_ABBREVIATIONS = {m[:3]: n for m, n in _MONTHS.items()} | {"sept": 9}
_DATE = re.compile(
    r"(?P<month>[a-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{4}))?"
    r"|(?P<day2>\d{1,2})\s+(?P<month2>[a-z]{3,9})(?:\s+(?P<year2>\d{4}))?"
)
# Words that name no thing of their own in a name: "the Bank of England" is "Bank England" matched.
_NAME_FILLER = frozenset(
    "the of and & a an inc inc. corp corp. co co. ltd ltd. plc ag sa nv the' s 's mr mrs ms dr".split()
)  # fmt: skip
# Words that make a figure a rounded one: within APPROXIMATE_SHARE of it is the same figure. Bounds
# ("at least 26") are not roundings: "at least 26" and "32" are two reports of a toll.
_APPROXIMATE = re.compile(r"\b(?:about|around|nearly|almost|some|roughly|approximately|approx|estimated|close\s+to|just\s+(?:over|under))\b", re.I)
APPROXIMATE_SHARE = 0.05
_DATE_IN_TEXT = re.compile(
    r"\b(?:(?:jan|feb|march|april|may|june|july|aug|sept?|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|(?:mon|tues|wednes|thurs|fri|satur|sun)day|yesterday|today)",
    re.IGNORECASE,
)
_NEVER_BARE = frozenset(["pct", "days", "points"])
_INDEFINITE = frozenset(["indefinite", "indefinitely", "open-ended"])


@dataclass(frozen=True)
class AnswerValue:
    """An answer span read as a value: its kind, and the quantity (number and unit), day or words it holds."""

    kind: ValueKind
    number: float | None = None
    unit: str | None = None
    day: dt.date | None = None
    words: frozenset[str] = frozenset()
    text: str = ""
    approximate: bool = False  # "about 85 cts": a rounded figure, the same as 84.9 cts
    high: float | None = None  # a range's top: "11 to 11.25 billion"
    precision: float = 0.0  # half a unit of the figure's last digit, scaled: "85 cts" is 0.845 to 0.855 dlrs


def value_of(span: str, published: dt.date | None = None) -> AnswerValue:
    """The value a span states; `published` dates a weekday ("Friday") and a month and day without a year."""
    text = " ".join(span.split())
    day = _day(text, published)
    if day is not None:
        return AnswerValue(ValueKind.DATE, day=day, text=text)
    quantity = _quantity(text)
    if quantity is not None:
        return replace(quantity, text=text, approximate=_APPROXIMATE.search(text) is not None)
    words = frozenset(w.lower().strip(".'") for w in _TOKEN.findall(text)) - _NAME_FILLER
    if _is_name(text):
        return AnswerValue(ValueKind.NAME, words=words, text=text)
    return AnswerValue(ValueKind.WORDS, words=frozenset([answer_key(text)]), text=text)


def compare(first: AnswerValue, second: AnswerValue) -> Agreement:
    """Whether two answers state the same thing, different things of one kind, or cannot be compared."""
    if answer_key(first.text) == answer_key(second.text):
        return Agreement.SAME
    if first.kind is not second.kind:
        return Agreement.INCOMPARABLE
    if first.kind is ValueKind.DATE:
        return Agreement.SAME if first.day == second.day else Agreement.DIFFERENT
    if first.kind is ValueKind.NUMBER:
        if not _units_match(first, second):
            return Agreement.INCOMPARABLE
        assert first.number is not None and second.number is not None
        if math.isinf(first.number) or math.isinf(second.number):
            return Agreement.SAME if first.number == second.number else Agreement.DIFFERENT
        share = APPROXIMATE_SHARE if first.approximate or second.approximate else 0.0
        # a figure is the same as one it rounds ("85 cts", "84.9 cts"); ranges overlap or not
        slack = max(first.precision, second.precision, share * max(abs(first.number), abs(second.number)))
        apart = max(first.number, second.number) - min(first.high or first.number, second.high or second.number)
        return Agreement.SAME if apart <= slack * (1 + 1e-9) else Agreement.DIFFERENT
    if first.kind is ValueKind.NAME:
        if not first.words or not second.words:
            return Agreement.INCOMPARABLE
        # one name inside the other: "Piedmont" is "Piedmont Aviation", "Hua" is "Hua Chunying"; a long word
        # spelt with one letter more or less is the same word ("Thoresen", "Thorensen")
        fewer, more = sorted((first.words, second.words), key=len)
        inside = all(any(_same_word(word, other) for other in more) for word in fewer)
        return Agreement.SAME if inside else Agreement.DIFFERENT
    return Agreement.INCOMPARABLE  # plain words that are not the same words


def _same_word(first: str, second: str) -> bool:
    if first == second:
        return True
    if min(len(first), len(second)) < 5 or abs(len(first) - len(second)) > 1:
        return False
    shorter, longer = sorted((first, second), key=len)
    if len(shorter) == len(longer):  # one letter changed
        return sum(a != b for a, b in zip(shorter, longer, strict=True)) == 1
    return any(longer[:n] + longer[n + 1 :] == shorter for n in range(len(longer)))  # one letter more


def _units_match(first: AnswerValue, second: AnswerValue) -> bool:
    """The same unit, or a bare number beside a figure with a unit of the same size ("1.65 billion" and
    "1.4 billion dlrs": a span cut before its unit); a bare number is never a share or a duration."""
    if first.unit == second.unit:
        return True
    if first.unit is not None and second.unit is not None:
        return False
    if (first.unit or second.unit) in _NEVER_BARE:
        return False
    assert first.number is not None and second.number is not None
    low, high = sorted((abs(first.number), abs(second.number)))
    return low > 0 and high / low < 10


def _day(text: str, published: dt.date | None) -> dt.date | None:
    named = day_of(text, published)
    if named is not None:
        return named
    found = _DATE.fullmatch(text.lower().strip(" .,;:").removeprefix("on "))
    if found is None:
        return None
    month_name = found["month"] or found["month2"]
    month = _MONTHS.get(month_name) or _MONTH_ABBREVIATIONS.get(month_name)
    year = found["year"] or found["year2"]
    in_year = int(year) if year else published.year if published else None
    if month is None or in_year is None:
        return None
    try:
        return dt.date(in_year, month, int(found["day"] or found["day2"]))
    except ValueError:
        return None


def _quantity(text: str) -> AnswerValue | None:
    """The first number the span states, scaled, with the unit before or after it; None without a number.
    A span that is mostly words around a number ("the 26 people rescued by the Dutch navy") is still its number."""
    lowered = _number_tokens(text)
    if any(t in _INDEFINITE for t in lowered):
        return AnswerValue(ValueKind.NUMBER, number=math.inf, unit="days")
    at = next((n for n in range(len(lowered)) if _starts_number(lowered, n)), None)
    return None if at is None else _quantity_at(lowered, at)[0]


def values_in(text: str, published: dt.date | None = None) -> list[AnswerValue]:
    """Every quantity and date a sentence states: what a story's sentence could answer with. The day of
    a date ("March 7") is no quantity of its own."""
    dates = list(_DATE_IN_TEXT.finditer(text))
    lowered = _number_tokens(_DATE_IN_TEXT.sub(" ", text))
    values, n = [], 0
    while n < len(lowered):
        if _starts_number(lowered, n):
            value, end = _quantity_at(lowered, n)
            values.append(replace(value, text=" ".join(lowered[n:end])))
            n = end
        else:
            n += 1
    if any(t in _INDEFINITE for t in lowered):
        values.append(AnswerValue(ValueKind.NUMBER, number=math.inf, unit="days", text="indefinitely"))
    for found in dates:
        day = _day(found.group(0), published)
        if day is not None:
            values.append(AnswerValue(ValueKind.DATE, day=day, text=found.group(0)))
    return values


def _number_tokens(text: str) -> list[str]:
    lowered: list[str] = []
    for token in _TOKEN.findall(text):
        token = token.lower().rstrip(".")
        # "twenty-six", "three-and-a-half", "one-year", "108-billion-dlr"; not "mid-March"
        parts = token.split("-")
        counted = all(p in _SMALL or p in _SCALES or p in _UNITS or p == "and" for p in parts[1:])
        lowered += parts if len(parts) > 1 and counted and (parts[0] in _SMALL or parts[0] in _SCALES or _NUMERAL.fullmatch(parts[0])) else [token]
    return lowered


def _starts_number(tokens: list[str], at: int) -> bool:
    token = tokens[at]
    return bool(_NUMERAL.fullmatch(token)) or (token in _SMALL and token not in ("a", "an", "half"))


def _quantity_at(lowered: list[str], at: int) -> tuple[AnswerValue, int]:
    """The quantity starting at lowered[at] (a range "11 to 11.25 billion guilders" whole), and the index after it."""
    number, end = _read_number(lowered, at)
    precision = _half_digit(lowered[at])
    high = None
    if end + 1 < len(lowered) and lowered[end] in ("to", "and", "-") and _starts_number(lowered, end + 1):
        high, after = _read_number(lowered, end + 1)
        if end == at + 1 and _NUMERAL.fullmatch(lowered[at]) and _NUMERAL.fullmatch(lowered[end + 1]):
            scale = high / _numeral(lowered[end + 1]) if _numeral(lowered[end + 1]) else 1.0
            number, precision = number * scale, precision * scale  # "11 to 11.25 billion": both billions
        end = after
    else:
        precision *= number / _numeral(lowered[at]) if _NUMERAL.fullmatch(lowered[at]) and _numeral(lowered[at]) else 1.0
    following = lowered[end : end + 3]
    if following[:2] == ["per", "cent"]:
        following = ["pct"]
    unit = next((word for word in [*following, *lowered[max(0, at - 1) : at]] if word in _UNITS), None)
    factor = 1.0
    if unit is not None:
        factor = _DAYS_PER.get(unit, 1) * _SUBUNIT.get(unit, 1)
        unit = _UNITS[unit]
    scaled = lambda x: x * factor if x is not None else None  # noqa: E731
    return AnswerValue(ValueKind.NUMBER, number=number * factor, unit=unit, high=scaled(high), precision=precision * factor), end


def _numeral(token: str) -> float:
    whole, _, fraction = token.replace(",", "").partition("-")
    return float(whole) + (_fraction(fraction) if fraction else 0.0)


def _half_digit(token: str) -> float:
    """Half a unit of a numeral's last digit: 0.05 for "16.1", 0.5 for "26"; 0 for a number in words."""
    if not _NUMERAL.fullmatch(token):
        return 0.0
    decimals = token.replace(",", "").partition(".")[2].partition("-")[0]
    return 0.5 * 10 ** -len(decimals)


def _read_number(tokens: list[str], at: int) -> tuple[float, int]:
    """The number whose first token is tokens[at] ("two hundred", "1.5 billion", "1-1/2"), and the index after it."""
    total, current, n = 0.0, 0.0, at
    while n < len(tokens):
        token = tokens[n]
        if _NUMERAL.fullmatch(token):
            if n > at and (current or total):
                break
            current = _numeral(token)
        elif token in _SMALL and token not in ("a", "an") and (n == at or current < 100 or current % 100 == 0 and _SMALL[token] < 100):
            current += _SMALL[token]
        elif token in _SCALES and n > at:
            scale = _SCALES[token]
            if scale >= 1e3:
                total, current = (total + (current or 1)) * scale, 0.0
            else:
                current = (current or 1) * scale
        elif token in ("and", "a", "an") and n > at and n + 1 < len(tokens) and _continues(tokens[n + 1 :], current):
            pass  # "two hundred and six", "three and a half"; not "between 6.5 and seven"
        else:
            break
        n += 1
    return total + current, n


def _continues(rest: list[str], current: float) -> bool:
    """Whether "and" or "a" before rest goes on with the number so far: a half, or the tens after a hundred."""
    if rest[0] in ("a", "half") or rest[:2] == ["a", "half"]:
        return True
    return current >= 100 and current % 100 == 0 and rest[0] in _SMALL


def _fraction(text: str) -> float:
    top, _, bottom = text.partition("/")
    return int(top) / int(bottom) if bottom and int(bottom) else 0.0


def _is_name(text: str) -> bool:
    """A span of capitalised words (past a leading "the"), no digits: "the Federal Maritime Commission", "Hua"."""
    words = [w for w in re.findall(r"[A-Za-z][\w'.&-]*", text) if w.lower() not in _NAME_FILLER]
    return bool(words) and not any(ch.isdigit() for ch in text) and all(w[0].isupper() for w in words)
