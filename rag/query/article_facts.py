"""Questions about an article itself ("Who wrote this?", "When was it published?"), answered from its metadata.

A reader finds answers in what an article says; who wrote it, when it was published and where it
was filed are what the loader read from its header, byline and dateline. A question is taken to be
about the article only when it names the article ("this article", "the story", "it") or asks for
something only an article has (its headline, its dateline): "When was the report published?" is
about a report the text mentions, and goes to the reader. A story may be described by what it reports
("From which city was the report on the Cuban drought filed?", "On what date did Reuters publish the
story about …?"): the description says which article, and the router searches for it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, NamedTuple

from pydantic import BaseModel

from rag.index.chunking import dateline
from rag.schema import Article, Passage
from rag.text import spoken_date

ArticleField = Literal["byline", "source", "published", "updated", "title", "dateline"]

# The article itself: "this article", "the story", "this piece"; or just "it", "this", where the rest of
# the question can only be about an article ("Who wrote it?"; but "what is it called?" is not).
# An article may be named by its outlet and topic: "the Continental Press story about the train order".
_ARTICLE = (
    r"(?:(?:this|the|that)\s+(?:\S+\s+){0,3}?(?:news\s+)?(?:article|story|piece|dispatch|item|news\s+item)"
    r"(?:\s+(?P<story>(?:about|on|of|covering|headlined|titled)\s+.+?))?)"
)
_SELF = rf"(?:{_ARTICLE}|it|this)"
_END = r"\s*\??\s*$"
# A story described by what it reports, where the question's verb can only be about a news story
# ("filed", "datelined", an agency that "published" it): here "the report" is the story, too.
_DESCRIBED = r"the\s+(?:\S+\s+){0,2}?(?:news\s+)?(?:article|story|report|piece|dispatch|item)\s+(?P<story>(?:about|on|of|that|comparing|covering|saying)\s+.+?)"
_TO_PUBLISH = r"(?:publish|run|carry|file|issue|release|put\s+out|report)"
# An agency or newspaper as the subject of "publish"; the router accepts it only when it is a source the
# library has or a word for one ("On what date did Chrysler report …" is about Chrysler's report).
_AGENCY = r"(?P<agency>the\s+(?:news\s+)?(?:agency|wire(?:\s+service)?|newspaper|paper)|\S+(?:\s+\S+){0,2}?)"
_DATE = r"(?:(?:on|at|in)\s+)?(?:what|which)\s+(?:date|day|month|year)"
_PUBLISHED = r"(?:published|filed|issued|released)"

_PATTERNS: list[tuple[ArticleField, str]] = [
    ("updated", rf"\bwhen\s+was\s+{_SELF}\s+(?:last\s+)?(?:updated|modified|edited|revised|changed){_END}"),
    ("updated", r"\b(?:what\s+is\s+the\s+)?(?:last[- ]updated|update)\s+(?:date|time)\b"),
    ("published", rf"\bwhen\s+(?:was|is)\s+{_SELF}\s+(?:first\s+|originally\s+)?(?:published|posted|released|written|put\s+online|issued|dated|filed){_END}"),
    ("published", rf"\bwhen\s+did\s+{_SELF}\s+(?:first\s+)?(?:come\s+out|appear|run|go\s+online){_END}"),
    ("published", rf"\bwhat\s+(?:date|day|time)\s+(?:was|is)\s+{_SELF}\s+(?:first\s+)?(?:published|posted|released|written|dated){_END}"),
    ("published", rf"\b(?:publication|publishing|release)\s+(?:date|time)(?:\s+of\s+{_SELF})?{_END}"),
    ("published", rf"\bwhat(?:'s|\s+is|\s+was)\s+the\s+(?:date|day)\s+(?:of|on)\s+{_SELF}{_END}"),
    ("byline", rf"\bwho\s+(?:wrote|authored|filed|reported|penned|published|is\s+behind)\s+{_SELF}{_END}"),
    ("byline", rf"\bwho(?:'s|\s+is|\s+was)\s+the\s+(?:author|writer|reporter)(?:\s+of\s+{_SELF})?{_END}"),
    (
        "source",
        rf"\b(?:which|what)\s+(?:news\s+)?(?:agency|outlet|wire(?:\s+service)?|newspaper|publication|source|media(?:\s+outlet)?)\b.*\b(?:wrote|published|filed|reported|ran|carried|released|produced)\s+{_SELF}{_END}",
    ),  # noqa: E501 (a pattern reads best whole)
    # an agency or newspaper asked for by what it reported: "Which agency reported the refinery fire?"
    (
        "source",
        r"\b(?:which|what)\s+(?:news\s+)?(?:agency|outlet|wire(?:\s+service)?|newspaper|paper|publication|media\s+outlet)\s+(?:first\s+)?(?:wrote|published|filed|reported|ran|carried|broke)\b(?:\s+(?P<story>.+?))?\W*$",
    ),  # noqa: E501 (a pattern reads best whole)
    ("byline", r"\b(?:what|whose)\s+(?:is\s+the\s+)?byline\b"),
    ("byline", rf"\bwho\s+is\s+{_SELF}\s+by{_END}"),
    # "Who reported on the Veltro Motors brake recall?": who wrote the story on it
    ("byline", r"^\W*who\s+reported\s+(?P<story>on\s+.+?)\W*$"),
    ("title", rf"\bwhat(?:'s|\s+is|\s+was)\s+the\s+(?:headline|title)(?:\s+of\s+{_SELF})?{_END}"),
    ("title", rf"\bwhat\s+is\s+{_ARTICLE}\s+(?:called|titled|headlined){_END}"),
    ("dateline", rf"\bwhere\s+(?:was|is)\s+{_SELF}\s+(?:filed|written|datelined|reported|sent)(?:\s+from)?{_END}"),
    ("dateline", rf"\bfrom\s+(?:which|what)\s+(?:city|place|town|location)\s+(?:was|is)\s+{_SELF}\s+(?:filed|written|reported|sent|datelined){_END}"),
    ("dateline", rf"\b(?:which|what)\s+(?:city|place|town|location)\s+(?:was|is)\s+{_SELF}\s+(?:filed|written|reported|sent|datelined)\s+(?:from|in){_END}"),
    ("dateline", rf"\bwhat(?:'s|\s+is)\s+the\s+dateline(?:\s+of\s+{_SELF})?{_END}"),
    # a story described by what it reports: "From which city was the report on Zambia's copper output datelined?"
    ("dateline", rf"^\W*from\s+(?:which|what)\s+(?:city|place|town|location)\s+was\s+{_DESCRIBED}\s+(?:filed|datelined|written|sent){_END}"),
    ("dateline", rf"^\W*(?:where|in\s+(?:which|what)\s+city)\s+was\s+{_DESCRIBED}\s+(?:filed|datelined){_END}"),
    ("published", rf"^\W*{_DATE}\s+was\s+{_DESCRIBED}\s+(?:published|filed|issued|released|put\s+out){_END}"),
    # "On what date was the Reuters story published about …?"
    ("published", rf"^\W*{_DATE}\s+was\s+the\s+(?:\S+\s+){{0,2}}?(?:article|story|report)\s+{_PUBLISHED}\s+(?P<story>(?:about|on|that)\s+.+?){_END}"),
    ("published", rf"^\W*(?:{_DATE}|when)\s+did\s+{_AGENCY}\s+{_TO_PUBLISH}\s+{_DESCRIBED}{_END}"),
    ("published", rf"^\W*(?:{_DATE}|when)\s+did\s+{_AGENCY}\s+report\s+(?P<story>that\s+.+?){_END}"),
]
_COMPILED = [(field, re.compile(pattern, re.IGNORECASE)) for field, pattern in _PATTERNS]
# The same patterns with a bare "it"/"this" no longer standing for the article (follow-ups).
_NAMED = [(field, re.compile(pattern.replace(_SELF, _ARTICLE), re.IGNORECASE)) for field, pattern in _PATTERNS]


class AskedField(NamedTuple):
    """What a question about an article asks: the field, and the story as the question describes it."""

    field: ArticleField
    story: str  # "the drought in Cuba" of "… the report on the drought in Cuba filed?"; "" for this article
    agency: str | None  # who the question says published it ("Reuters"), when it names one


_CONNECTOR = re.compile(r"^(?:about|on|of|that|covering|headlined|titled)\s+", re.IGNORECASE)


def asked_field(question: str, follow_up: bool = False) -> AskedField | None:
    """Which field of an article itself the question asks for, and which article it describes; None for a
    question about the content. In a follow-up, "it" and "this" are what the conversation was about
    ("Who published it?" after a question about a report): only a question that names the article is
    about the article."""
    text = " ".join(question.split())
    for field, pattern in _NAMED if follow_up else _COMPILED:
        found = pattern.search(text)
        if found is not None:
            groups = found.groupdict()
            story = _CONNECTOR.sub("", (groups.get("story") or "").strip())
            return AskedField(field, story, groups.get("agency"))
    return None


class ArticleFact(BaseModel):
    """An answer read from an article's metadata, with where it came from."""

    field: ArticleField
    passage: int  # the retrieved passage cited
    answer: str  # what is shown: "Published 5 February 2020, 20:16 (article header)"
    span: str  # the value itself: "5 February 2020, 20:16"
    start: int | None = None  # article offsets of the answer when it is part of the text (a dateline)
    end: int | None = None


def _when(day: dt.date, time: dt.time | None) -> str:
    text = spoken_date(day)
    return f"{text}, {time:%H:%M}" if time else text


def _origin(article: Article) -> str:
    """Where the loader read an article's metadata: the plain-text header, or the file's own fields."""
    return "article header" if article.path.lower().endswith(".txt") else "article metadata"


def article_fact(field: ArticleField, passages: list[Passage]) -> ArticleFact | None:
    """The field of the first passage's article, read from its metadata (a dateline from its text); None
    when the article lacks it. The passages are the article's own, its top among them."""
    if not passages:
        return None
    article = passages[0].article
    # a header field cites the article's earliest passage: the top of the article where there is one
    first = min((n for n, p in enumerate(passages) if p.article.id == article.id), key=lambda n: passages[n].chunk.start)
    if field in ("published", "updated"):
        day, time = (article.published, article.published_time) if field == "published" else (article.updated, article.updated_time)
        if day is None:
            return None
        value = _when(day, time)
        return ArticleFact(field=field, passage=first, answer=f"{field.capitalize()} {value} ({_origin(article)})", span=value)
    if field == "source" and article.source and article.source != article.byline:
        # "Which newspaper …?" asks for the outlet, not its reporter; without an outlet the byline answers
        return ArticleFact(field=field, passage=first, answer=f"{article.source} (source)", span=article.source)
    if field in ("byline", "source"):
        author = article.byline or article.source
        return ArticleFact(field="byline", passage=first, answer=f"By {author} (byline)", span=author) if author else None
    if field == "title":
        if not article.headline:  # a title made from the lead is no headline the article has
            return None
        return ArticleFact(field=field, passage=first, answer=f"{article.title} (headline)", span=article.title)
    found = dateline(article.text)
    if found is None:
        return None
    holder = next((n for n, p in enumerate(passages) if p.article.id == article.id and p.chunk.start <= found.start < p.chunk.end), None)
    if holder is None:  # the top of the article was not retrieved: nothing to quote it from
        return None
    place = article.text[found.start : found.place_end]
    return ArticleFact(field=field, passage=holder, answer=article.text[found.start : found.end], span=place, start=found.start, end=found.end)


# What an article without the field says instead of "not found".
MISSING: dict[ArticleField, str] = {
    "byline": "this article names no author",
    "source": "this article names no source or author",
    "published": "this article has no publication date",
    "updated": "this article gives no date it was updated",
    "title": "this article has no headline",
    "dateline": "this article has no dateline (the place it was filed from)",
}
