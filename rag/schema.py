"""The data that crosses stage boundaries or is written to disk."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.query.question_source import SourceScope
from rag.query.question_time import TimeScope
from rag.query.roles import RoleReading

_SHARED_FIELD_SETS: dict[frozenset[str], set[str]] = {}


class _Numerous(BaseModel):
    """A frozen model held by the hundred thousand in a big index (articles, chunks).

    Pydantic gives each instance its own set of the field names it was given, ~700 bytes, half of
    a short chunk's memory. Instances with the same names share one set here. That is safe because
    pydantic changes that set only on assignment, which frozen models refuse, and model_copy copies
    it first. Measured: eval/RESULTS.md, "Big JSONL".
    """

    model_config = ConfigDict(frozen=True)

    def model_post_init(self, context: object, /) -> None:
        names = self.__pydantic_fields_set__
        object.__setattr__(self, "__pydantic_fields_set__", _SHARED_FIELD_SETS.setdefault(frozenset(names), names))


class Article(_Numerous):
    id: str
    title: str
    published: dt.date | None = None
    published_time: dt.time | None = Field(None, description="the time of day of publication, when the source gives one")
    updated: dt.date | None = None
    updated_time: dt.time | None = None
    byline: str | None = None
    source: str | None = None
    url: str | None = None
    path: str = Field(description="file path relative to the corpus folder")
    record: int | None = Field(None, description="record number (JSON) or line number (JSONL) in a multi-article file")
    text: str
    title_from_text: bool = Field(False, description="the file gave no headline: the title is the start of its lead sentence")

    @property
    def when(self) -> tuple[dt.date, dt.time]:
        """When it was published, as a sort key: undated first, a day without a time at its start."""
        return self.published or dt.date.min, self.published_time or dt.time()

    @property
    def headline(self) -> str:
        """The article's own headline; empty when its title was made from its text."""
        return "" if self.title_from_text else self.title


class Chunk(_Numerous):
    id: str
    article_id: str
    text: str
    start: int
    end: int
    sentences: list[tuple[int, int]] = Field(description="sentence spans, offsets into the article text")

    def slice(self, start: int, end: int) -> str:
        """The article's text from start to end (article offsets, inside this chunk)."""
        return self.text[start - self.start : end - self.start]


class Passage(BaseModel):
    """A retrieved chunk with its article's metadata and how it was found."""

    row: int = Field(description="the chunk's row in the index")
    chunk: Chunk
    article: Article
    score: float = Field(description="fused retrieval score")
    dense_rank: int | None = None
    bm25_rank: int | None = None
    copies: list[Article] = Field(default_factory=list, description="retrieved wire copies of the same story, shown once, here")
    first_sentence: int = Field(0, description="a passage narrowed to some sentences of its chunk: the index of its first among the chunk's")

    def narrowed(self, start: int, end: int) -> Passage:
        """The passage cut to its sentences inside [start, end) (article offsets): what a reader reads of
        it alone when only those sentences matter."""
        chunk = self.chunk
        kept = [n for n, (s, e) in enumerate(chunk.sentences) if s >= start and e <= end]
        if not kept:
            return self
        first, last = chunk.sentences[kept[0]][0], chunk.sentences[kept[-1]][1]
        cut = chunk.model_copy(update={"text": chunk.slice(first, last), "start": first, "end": last, "sentences": [chunk.sentences[n] for n in kept]})
        return self.model_copy(update={"chunk": cut, "first_sentence": self.first_sentence + kept[0]})


class Citation(BaseModel):
    n: int
    article_id: str
    title: str
    published: dt.date | None
    path: str
    start: int = Field(description="start of the cited text (answer sentence, or passage for related) in the article")
    end: int
    passage: str
    # Not in the JSON contract; used to show and highlight the passage.
    source: str | None = None
    published_time: dt.time | None = Field(None, description="the article's time of publication, when its source gives one")
    passage_start: int = 0
    span_start: int | None = None
    span_end: int | None = None
    also_in: list[str] = Field(default_factory=list, description="the same story elsewhere: each copy's title, outlet and file")

    CONTRACT_KEYS: ClassVar[tuple[str, ...]] = ("n", "article_id", "title", "published", "path", "start", "end", "passage")

    @property
    def span(self) -> tuple[int, int] | None:
        """The answer inside the cited sentence (article offsets), when the reader narrowed it to one."""
        return (self.span_start, self.span_end) if self.span_start is not None and self.span_end is not None else None

    @property
    def span_text(self) -> str | None:
        """The words of the span, as the article has them."""
        span = self.span
        return self.passage[span[0] - self.passage_start : span[1] - self.passage_start] if span else None

    def contract(self) -> dict:
        data = self.model_dump(mode="json", include=set(self.CONTRACT_KEYS))
        return {key: data[key] for key in self.CONTRACT_KEYS} | ({"also_in": self.also_in} if self.also_in else {})

    def reported(self) -> dict:
        """A report among several stories' differing answers: the citation with its answer and source."""
        return {**self.contract(), "span": self.span_text, "source": self.source}

    def listed(self) -> dict:
        """An entry of a list of articles: the citation with its source and the sentence that mentions the topic."""
        sentence = self.passage[self.start - self.passage_start : self.end - self.passage_start]
        return {**self.contract(), "source": self.source, "sentence": sentence}


# What kind of answer an Answer is, so that a renderer switches on one field:
# read: a span the reader found in the text (or its "not found"); article_field: an article's own field
# (byline, date, dateline …); summary: a story's lead; more: further sentences on a subject;
# article_list: the articles that name a topic; newest: the newest articles; timeline: a line of each story
# on a topic, oldest first.
AnswerKind = Literal["read", "article_field", "summary", "more", "article_list", "newest", "timeline"]
# How reports of several stories differ (rag/query/answer_values.py): another number, date or name.
Difference = Literal["number", "date", "name"]
# The kinds whose citations are articles: a follow-up's "the second one" is one of them.
LISTING_KINDS: frozenset[str] = frozenset({"article_list", "newest", "timeline"})
# The kinds about an article itself: a follow-up's "it" is that article.
ARTICLE_KINDS: frozenset[str] = frozenset({"article_field", "summary"})


class Answer(BaseModel):
    question: str
    kind: AnswerKind = "read"
    found: bool
    answer: str | None = None
    span: str | None = None
    score: float = Field(ge=0.0, le=1.0)
    citations: list[Citation] = []
    related: list[Citation] = []
    fact: str | None = Field(None, description="article_field: the field that answered (byline, source, published, updated, title, dateline)")
    listing: str | None = Field(None, description="article_list and timeline: the topic of a question that asks for articles; citations are the articles")
    more: str | None = Field(None, description="more and summary: the subject; citations are the sentences quoted")
    reason: str | None = Field(None, description="not found, when why is known: “this article names no author”")
    time_scope: TimeScope | None = Field(None, description="the time the question named, searched as a filter on publication dates")
    source_scope: SourceScope | None = Field(None, description="the source the question named, searched as a filter on source and byline")
    read_as: RoleReading | None = Field(None, description="the question as it was read again, a person's role in place of their name")
    span_date: dt.date | None = Field(None, description="the day a weekday span (“Wednesday”) names, in the week up to its article's publication")
    reports: list[Citation] = Field(
        default_factory=list, description="stories that answer the question differently: every one, the answer's own among them, newest first"
    )
    differ: Difference | None = Field(None, description="reports: what differs between them")
    # Not in the JSON contract: what retrieval returned, for evaluation and display.
    passages: list[Passage] = Field(default_factory=list, exclude=True)
    query: str | None = Field(None, exclude=True, description="what was searched for when a follow-up added the chat's subject")
    follows: str | None = Field(None, exclude=True, description="a follow-up: the earlier question it was read with")
    read_question: str | None = Field(None, exclude=True, description="a follow-up: the question as the reader read it, when its words changed")
    withheld: Answer | None = Field(
        None, exclude=True, description="not found: the answer the reader would have shown, under its threshold (eval sweeps thresholds with it)"
    )

    @property
    def quotes_text(self) -> bool:
        """Whether `answer` is a passage of an article's text, shown in quotation marks; an answer read from
        an article's header fields cites the article without quoting any of it."""
        return bool(self.citations) and self.citations[0].end > self.citations[0].start

    def contract(self) -> dict:
        """The `rag ask --json` object, keys exactly as DESIGN.md fixes them."""
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.answer,
            "span": self.span,
            "score": round(self.score, 4),
            "citations": [c.contract() for c in self.citations],
            "related": [c.contract() for c in self.related],
            # extensions of the contract, present only on the answers they describe
            **({"kind": self.kind} if self.kind != "read" else {}),
            **({"fact": "lead" if self.kind == "summary" else self.fact} if self.fact or self.kind == "summary" else {}),
            **({"articles": [c.listed() for c in self.citations]} if self.kind in LISTING_KINDS else {}),
            **({"more": self.more} if self.more is not None else {}),
            **({"reason": self.reason} if self.reason else {}),
            **({"time_filter": self.time_scope.contract()} if self.time_scope else {}),
            **({"source_filter": self.source_scope.contract()} if self.source_scope else {}),
            **({"read_as": self.read_as.model_dump()} if self.read_as else {}),
            **({"span_date": self.span_date.isoformat()} if self.span_date else {}),
            **({"reports": [c.reported() for c in self.reports], "reports_differ": self.differ} if self.reports else {}),
        }
