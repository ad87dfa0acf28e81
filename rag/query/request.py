"""One question's request as the chat, the CLI, the API and eval send it: types checked, k bounded,
dates strict, validated once.

The CLI parses the same options with argparse, using the same bound (MAX_K) and date parser.
"""

from __future__ import annotations

import datetime as dt
import re
import reprlib
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from rag.config import MAX_K, RetrieverMode
from rag.query.followup import Turn
from rag.query.retrieve import Filters
from rag.text import normalize_text

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_SOURCE_CHARS = 200
MAX_CHOSEN_ARTICLES = 1000
# How each field is named in a message: the page's label, then the API's argument name.
PAGE_LABELS = {
    "question": "the question",
    "k": "the number of passages (k)",
    "retriever": "the retriever",
    "since": "the from date (since)",
    "until": "the to date (until)",
    "source": "the source",
    "articles": "the chosen articles",
    "history": "the conversation (history)",
    "time_filter": "the time filter switch",
    "source_filter": "the source filter switch",
}
# The command line names its options.
CLI_LABELS = {name: f"--{name}" for name in PAGE_LABELS} | {"question": "the question", "articles": "--article"}
# pydantic's wording where a plainer one exists; other errors keep pydantic's ("should be a valid integer").
_PLAIN = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "is one of {expected}",
    "string_too_long": "is at most {max_length} characters long",
}


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says what to change."""


class RequestError(ValueError):
    """A request field that cannot be used as it is; the one-line message names the field."""


def iso_date(value: str) -> dt.date:
    """Exactly YYYY-MM-DD (date.fromisoformat alone would also take 20200205 or 2020-W06-3)."""
    try:
        if _ISO_DATE.fullmatch(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError(f"{reprlib.repr(value)} is not a date as YYYY-MM-DD")  # shortened: a 1 MB value is not echoed whole


class AskRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    k: int | None = Field(None, ge=1, le=MAX_K)
    retriever: RetrieverMode | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    source: str | None = Field(None, max_length=MAX_SOURCE_CHARS)
    # each an article's id or its file's path in the corpus, as the library lists it (Pipeline.chosen_articles)
    articles: tuple[str, ...] | None = Field(None, max_length=MAX_CHOSEN_ARTICLES)
    history: tuple[Turn, ...] = Field((), description="the chat's earlier turns, oldest first: a follow-up leans on them")
    # a time or source the question names filters the search unless switched off
    time_filter: bool = True
    source_filter: bool = True

    @classmethod
    def of(cls, labels: dict[str, str] = PAGE_LABELS, **fields: Any) -> AskRequest:
        """The request, or RequestError naming the first bad field as `labels` name it."""
        try:
            return cls.model_validate(fields, context={"labels": labels})
        except ValidationError as exc:
            raise RequestError(_one_line(exc, labels)) from exc

    @field_validator("k", mode="before")
    @classmethod
    def _k_not_a_flag(cls, value: object) -> object:
        if isinstance(value, bool):  # pydantic would take true as 1
            raise ValueError(f"must be a whole number from 1 to {MAX_K}, not {str(value).lower()}")
        return value

    @field_validator("retriever", "source", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("articles", mode="before")
    @classmethod
    def _none_chosen_is_unset(cls, value: object) -> object:
        return None if isinstance(value, (list, tuple)) and not value else value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _strict_date(cls, value: object) -> dt.date | None:
        if value is None or isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):  # the CLI parsed it already
            return value
        if not isinstance(value, str):
            raise ValueError(f"{reprlib.repr(value)} is not a date as YYYY-MM-DD")
        return iso_date(value.strip())

    @model_validator(mode="after")
    def _since_not_after_until(self, info: ValidationInfo) -> AskRequest:
        if self.since and self.until and self.since > self.until:
            labels = (info.context or {}).get("labels", PAGE_LABELS)
            raise ValueError(f"{labels['since']} {self.since} is after {labels['until']} {self.until}")
        return self

    def filters(self) -> Filters:
        """The dates and the source; the chosen articles are named as the user names them, and only the
        pipeline, which knows the index, turns them into article ids (Pipeline.chosen_articles)."""
        return Filters(since=self.since, until=self.until, source=self.source.strip() if self.source else None)


def _one_line(exc: ValidationError, labels: dict[str, str]) -> str:
    error = exc.errors()[0]
    if error["type"] == "value_error":  # raised above with the whole story
        problem = str(error["ctx"]["error"])
        return f"{labels[str(error['loc'][0])]} {problem}" if error["loc"] else problem
    plain = _PLAIN.get(error["type"])
    problem = plain.format(**error["ctx"]) if plain else error["msg"].removeprefix("Input ")
    return f"{labels[str(error['loc'][0])]} {problem}, not {reprlib.repr(error['input'])}"


def clean_question(question: str, max_chars: int) -> str:
    """Normalised as article text is (invisible characters dropped, NFKC), then control characters
    become spaces and runs of white space one; errors name what is wrong."""
    if question is None:
        raise QuestionError("the question is empty")
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in normalize_text(question))
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise QuestionError("the question is empty")
    if len(cleaned) > max_chars:
        raise QuestionError(f"the question is {len(cleaned)} characters long; the limit is {max_chars}")
    if not any(ch.isalnum() for ch in cleaned):
        raise QuestionError("the question has no words or numbers to search for")
    if not _reads_as_english(cleaned):
        raise QuestionError("only questions in English are understood: the models read English")
    if _SMALL_TALK.fullmatch(cleaned):  # "Thanks!" would otherwise quote "thanks to the wettest spring"
        raise QuestionError(f"“{cleaned}” asks nothing about the articles: ask a question about them, e.g. “What's the latest news?”")
    return cleaned


_SMALL_TALK = re.compile(
    r"\W*(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|thanks?(?:\s+you)?(?:\s+(?:so\s+much|a\s+lot|very\s+much))?"
    r"|many\s+thanks|cheers|ok(?:ay)?|great|cool|nice|perfect|bye|goodbye|see\s+you)\W*",
    re.IGNORECASE,
)


_LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")


def _reads_as_english(question: str) -> bool:
    """Not a question in another script ("华为的创始人是谁？"): the encoder and the reader were trained on
    English only and would answer "not found" without saying why. A name in another script inside an
    English question ("Who is Владимир Путин?") is fine."""
    letters = [ch for ch in question if ch.isalpha()]
    latin = sum(1 for ch in letters if unicodedata.name(ch, "").startswith("LATIN"))
    return latin * 2 >= len(letters) or len(_LATIN_WORD.findall(question)) >= 2
