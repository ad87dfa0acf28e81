"""Extractive reading: the answer sentence among the passages, narrowed to a span, with a confidence.

The built-in `SentenceReader` needs no extra model: it scores every sentence of the retrieved
passages by semantic similarity (sentence vectors pooled at index time), idf-weighted overlap with
the question's terms, and whether the sentence holds the kind of thing the question asks for (a
name, a date, a number, a place). A logistic curve turns that score into a confidence in [0, 1];
below the threshold the reader abstains. The trained span reader (rag/query/span_reader.py) is the
default; this one is the baseline it is measured against (RAG_READER=sentence).
"""

from __future__ import annotations

import math
import re
from enum import Enum
from typing import Protocol

from pydantic import BaseModel, Field

from rag.config import ReaderWeights
from rag.embedding import Encoder
from rag.index.backend import SearchIndex
from rag.schema import Passage
from rag.text import STOPWORDS, TOKEN_PATTERN, terms


class AnswerType(str, Enum):
    PERSON = "person"
    DATE = "date"
    NUMBER = "number"
    PLACE = "place"
    OTHER = "other"


class Evidence(BaseModel):
    """One candidate answer sentence, offsets into its article's text."""

    passage: int = Field(description="index into the passages the reader was given")
    start: int
    end: int
    span_start: int | None = None
    span_end: int | None = None
    score: float = Field(ge=0.0, le=1.0)

    @property
    def span(self) -> tuple[int, int] | None:
        """The answer inside the sentence, when the reader narrowed it to one."""
        return (self.span_start, self.span_end) if self.span_start is not None and self.span_end is not None else None


class Reading(BaseModel):
    found: bool
    score: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(description="best first, at most one per distinct sentence")


class Reader(Protocol):
    threshold: float  # below this confidence the reading is "not found"

    def read(self, question: str, passages: list[Passage]) -> Reading: ...

    def load(self) -> None:
        """Load its models now, not on the first question."""


_QUESTION_WORDS = frozenset(
    "who whom whose what which when where why how many much long old did does do is are was were "
    "name named according should must can could would will might may".split()
)
_QUESTION_TERMS = frozenset(terms(" ".join(_QUESTION_WORDS)))
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = re.compile(
    rf"\b(?:{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?"
    rf"|{_MONTHS}\s+\d{{4}}"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}"
    r"|(?:early|mid|late)?[\s-]*(?:1[0-9]|20)\d{2}s?"
    r"|(?:yesterday|today|tomorrow|last\s+(?:week|month|year)|next\s+(?:week|month|year)))\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|dozens?|hundreds|thousands|millions?|billions?)"
)
_NUMBER = re.compile(
    rf"(?:[$€£¥]\s?)?(?<![A-Za-z]-)\b(?:\d[\d,]*(?:\.\d+)?|{_NUMBER_WORDS}(?:[\s-]+{_NUMBER_WORDS})*)\b"
    r"(?:\s*(?:%|percent|per\s+cent))?"
    r"(?:\s+(?:million|billion|trillion|thousand|hundred))?",
    re.IGNORECASE,
)
_NAME_WORD = r"(?:[A-Z][\w'’&.-]*[\w.]|[A-Z]\.?)"
_NAME = re.compile(rf"\b{_NAME_WORD}(?:(?:\s+|\s*-\s*)(?:(?:of|de|del|da|van|von|bin|al|la|le|the)\s+)?{_NAME_WORD})*")
_PLACE_CUE = re.compile(rf"\b(?:in|at|from|near|to|across|outside|inside)\s+(?:the\s+)?({_NAME_WORD}(?:\s+{_NAME_WORD})*)")
_DATELINE = re.compile(r"^([A-Z]{3,}(?:[ ,-]+[A-Z]{2,})*)\s*[—–-]")
_CAPITALISED_FUNCTION_WORDS = frozenset(
    "the a an this that these those it its he she they we i you his her their our my your in on at "
    "for to of and but or as by with from also read more however after before when while if".split()
)


def classify_question(question: str) -> AnswerType:
    q = question.lower()
    if re.search(r"\b(how\s+(many|much|long|old|far|big|large)|what\s+(percentage|percent|number|share|amount))\b", q):
        return AnswerType.NUMBER
    if re.search(r"\b(when|what\s+(year|date|day|month|time)|which\s+(year|date|day|month))\b", q):
        return AnswerType.DATE
    if re.search(
        r"\b(who|whom|whose)\b|\bwhat\s+is\s+the\s+name\b|\b(which|what)\s+(company|companies|firm|organi[sz]ations?|agency|group|party|team|ministry|department|bodies|body)\b",
        q,
    ):  # noqa: E501 (a pattern reads best whole)
        return AnswerType.PERSON
    if re.search(r"\b(where|what\s+(city|country|place)|which\s+(city|country|place))\b", q):
        return AnswerType.PLACE
    return AnswerType.OTHER


class _Span:
    """A (start, end) inside a sentence, trailing punctuation trimmed."""

    def __init__(self, start: int, end: int, sentence: str):
        self.text = sentence[start:end].rstrip(".,;:")
        self.start, self.end = start, start + len(self.text)


def _name_candidates(sentence: str) -> list[_Span]:
    spans = []
    for match in _NAME.finditer(sentence):
        # Drop leading capitalised function words ("The", "She"): not part of a name.
        for word in re.finditer(r"\S+", match.group(0)):
            if word.group(0).lower().strip(".") not in _CAPITALISED_FUNCTION_WORDS:
                spans.append(_Span(match.start() + word.start(), match.end(), sentence))
                break
    return spans


def answer_candidates(sentence: str, answer_type: AnswerType) -> list[_Span]:
    """Spans of the sentence that could answer a question of this type."""
    if answer_type is AnswerType.PERSON:
        return _name_candidates(sentence)
    if answer_type is AnswerType.DATE:
        return [_Span(m.start(), m.end(), sentence) for m in _DATE.finditer(sentence) if m.group(0).strip()]
    if answer_type is AnswerType.NUMBER:
        return [_Span(m.start(), m.end(), sentence) for m in _NUMBER.finditer(sentence) if m.group(0).strip()]
    if answer_type is AnswerType.PLACE:
        spans = [_Span(m.start(1), m.end(1), sentence) for m in _PLACE_CUE.finditer(sentence)]
        dateline = _DATELINE.match(sentence)
        if dateline:
            spans.append(_Span(dateline.start(1), dateline.end(1), sentence))
        return spans
    return []


def pick_span(sentence: str, question: str, answer_type: AnswerType) -> tuple[int, int] | None:
    """The candidate not already in the question, nearest the question's words in the sentence."""
    question_terms = set(terms(question))
    question_words = {w.lower() for w in TOKEN_PATTERN.findall(question)}
    anchors = [m.start() for m in TOKEN_PATTERN.finditer(sentence) if terms(m.group(0)) and terms(m.group(0))[0] in question_terms]
    best, best_key = None, None
    for candidate in answer_candidates(sentence, answer_type):
        words = [w.lower() for w in TOKEN_PATTERN.findall(candidate.text)]
        if not words or all(w in question_words or w in STOPWORDS for w in words):
            continue
        distance = min((abs(a - candidate.start) for a in anchors), default=0)
        key = (distance, -len(words))
        if best_key is None or key < best_key:
            best, best_key = (candidate.start, candidate.end), key
    return best


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class SentenceReader:
    """The built-in reader: picks and narrows the answer sentence; no model beyond the encoder."""

    def __init__(self, index: SearchIndex, encoder: Encoder, threshold: float = 0.5, weights: ReaderWeights | None = None):
        self.index = index
        self.encoder = encoder
        self.threshold = threshold
        self.weights = weights or ReaderWeights()
        self._documents = max(index.size, 1)

    def _term_idf(self, term: str) -> float:
        """idf from the lexical index's document frequency; this form stays positive and flat on tiny
        corpora, where df says little about a term (a term no chunk holds gets the highest)."""
        return math.log(1.0 + (self._documents + 1) / (self.index.document_frequency(term) + 0.5))

    def features(self, question: str, passages: list[Passage]) -> list[SentenceFeatures]:
        """Every distinct sentence of the passages with what the score is made of."""
        answer_type = classify_question(question)
        question_terms = {t for t in terms(question) if t not in _QUESTION_TERMS}
        term_weights = {t: self._term_idf(t) for t in question_terms}
        total_weight = sum(term_weights.values())
        question_vector = self.encoder.encode_query(question)
        found: dict[tuple[str, int, int], SentenceFeatures] = {}
        for rank, passage in enumerate(passages):
            chunk = passage.chunk
            semantic = self.index.sentence_vectors_of(passage.row) @ question_vector
            for i, (start, end) in enumerate(chunk.sentences):
                key = (passage.article.id, start, end)
                if key in found:  # the same sentence in an overlapping chunk: keep its best-ranked passage
                    continue
                sentence = chunk.slice(start, end)
                shared = question_terms & set(terms(sentence))
                span = pick_span(sentence, question, answer_type) if answer_type is not AnswerType.OTHER else None
                found[key] = SentenceFeatures(
                    passage=rank,
                    start=start,
                    end=end,
                    span_start=start + span[0] if span else None,
                    span_end=start + span[1] if span else None,
                    semantic=float(semantic[i]),
                    lexical=sum(term_weights[t] for t in shared) / total_weight if total_weight else 0.0,
                    type_fit=0.5 if answer_type is AnswerType.OTHER else float(span is not None),
                )
        return list(found.values())

    def load(self) -> None:
        """Nothing of its own to load: it reads with the encoder's vectors."""

    def read(self, question: str, passages: list[Passage]) -> Reading:
        return score_sentences(self.features(question, passages), self.weights, self.threshold)


class SentenceFeatures(BaseModel):
    passage: int
    start: int
    end: int
    span_start: int | None
    span_end: int | None
    semantic: float
    lexical: float
    type_fit: float


def raw_score(f: SentenceFeatures, weights: ReaderWeights) -> float:
    """The weighted feature sum; the confidence is a logistic curve of it."""
    return weights.semantic * f.semantic + weights.lexical * f.lexical + weights.answer_type * f.type_fit + weights.passage_rank / (f.passage + 1)


def score_sentences(features: list[SentenceFeatures], weights: ReaderWeights, threshold: float) -> Reading:
    """Weighted feature sum through a logistic curve; the best sentence decides found / not found."""
    evidence = []
    for f in features:
        score = raw_score(f, weights)
        evidence.append(
            Evidence(
                passage=f.passage,
                start=f.start,
                end=f.end,
                span_start=f.span_start,
                span_end=f.span_end,
                score=_sigmoid(weights.slope * (score - weights.midpoint)),
            )
        )
    return ranked_reading(evidence, threshold)


def ranked_reading(evidence: list[Evidence], threshold: float) -> Reading:
    """Evidence best first; the best one decides found / not found."""
    evidence = sorted(evidence, key=lambda e: (-e.score, e.passage, e.start))
    top = evidence[0].score if evidence else 0.0
    return Reading(found=bool(evidence) and top >= threshold, score=top, evidence=evidence)
