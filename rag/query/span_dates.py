"""The day a weekday answer names, counted from its article's publication date.

News copy dates events by weekday ("a Foreign Ministry spokesperson said Wednesday", "voted on
Tuesday"): the week is the one up to the day the story was published. "When did Hua speak?" answered
"Wednesday" says little a year later; "Wednesday (5 February 2020)" says when.
"""

from __future__ import annotations

import datetime as dt
import re

_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY = re.compile(
    rf"(?:on\s+|last\s+|early\s+|late\s+)?(?P<day>{'|'.join(_WEEKDAYS)})(?:\s+(?:morning|afternoon|evening|night))?",
    re.IGNORECASE,
)
_RELATIVE = {"today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0, "yesterday": 1, "overnight": 0}


def day_of(span: str, published: dt.date | None) -> dt.date | None:
    """The date a span that is only a weekday or "yesterday" names, in the week up to `published`
    (a weekday that is the publication day's own is that day); None for any other span or an undated article."""
    if published is None:
        return None
    text = " ".join(span.lower().strip(" .,;:").split())
    if text in _RELATIVE:
        return published - dt.timedelta(days=_RELATIVE[text])
    found = _WEEKDAY.fullmatch(text)
    if found is None:
        return None
    back = (published.weekday() - _WEEKDAYS.index(found["day"].lower())) % 7
    return published - dt.timedelta(days=back)
