"""Other stories' answers to a question the reader answered (issue 34): a story that states the same
answer is cited beside it; stories that state another number, date or name are shown with it, every one
newest first, each dated and cited ("32 (7 March) — earlier: at least 26 (6 March)").

The stories compared are the ones retrieved for the question: what the reader found in those it read,
and, for up to `report_reads` others, what it finds reading alone their sentence most on the question
that states another figure or date of the answer's kind. Their answers count only above the reader's
threshold, as the answer does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rag.answering.context import Searcher
from rag.index.chunking import is_story_sentence
from rag.query.answer_values import Agreement, AnswerValue, ValueKind, compare, value_of, values_in
from rag.query.reader import Evidence, Reading
from rag.schema import Answer, Article, Citation, Passage
from rag.text import content_terms, terms

# Tuned on the da half of eval/gold/reuters-across.jsonl (eval/RESULTS.md, "Answers across stories"):
# an answer the reader found in a passage it read counts from its threshold, as the answer does; one it
# found reading a story's sentence alone (a sentence on the question stating another figure) counts from
# SENTENCE_BAR, its span being that sentence's figure of the answer's kind. A differing report is shown
# only when its sentence and the answer's say the same kind of thing: their cosine, in the index's
# sentence vectors, at least SAME_FACT_COSINE ("At least 26 people died when …", "32 people were
# confirmed dead …"; not "He said six ships were idle abroad" beside a count of all idle ships).
SENTENCE_BAR = 0.0
SAME_FACT_COSINE = 0.55
# A sentence on the question holds at least this share of its content terms (with its article's headline).
ON_QUESTION_SHARE = 0.5


@dataclass(frozen=True)
class StoryAnswer:
    """A story's best answer to the question: its passage (of the ones retrieved), the evidence, the span's words
    and the value they state."""

    passage: Passage
    evidence: Evidence
    span: str
    value: AnswerValue


def compared(question: str, shown: Answer, reading: Reading, passages: list[Passage], search: Searcher) -> Answer:
    """The shown answer with its question's answers in other stories: the same one cited, other ones as
    reports. `question` is the question as the reader read it; `reading` its reading of `passages`."""
    first = shown.citations[0]
    span = first.span_text
    if not span or not search.settings.compare_reports:
        return shown
    value = value_of(span, first.published)
    if value.kind is ValueKind.WORDS:
        return shown  # plain words: which differ takes reading, not matching (answer_values)
    answered_in = passages[reading.evidence[0].passage]
    answered = answered_in.article
    citations, reports = list(shown.citations), []
    cited = {c.article_id for c in citations}
    for other in _story_answers(question, reading, passages, search, value, answered):
        if other.passage.article.id in cited:
            continue
        agreement = compare(value, other.value)
        if agreement is Agreement.SAME and len(citations) < search.settings.max_citations:
            citations.append(search.citer.of_evidence(len(citations) + 1, other.evidence, other.passage))
        elif agreement is Agreement.DIFFERENT and not _known_before(value, answered, other) and _same_fact(search, answered_in, first, other):
            reports.append(other)
        cited.add(other.passage.article.id)
    if not reports:
        return shown.model_copy(update={"citations": citations})
    when = {p.article.id: p.article.when for p in passages}
    numbered = [search.citer.of_evidence(len(citations) + n, r.evidence, r.passage) for n, r in enumerate(reports, start=1)]
    newest_first = sorted([first, *numbered], key=lambda c: when[c.article_id], reverse=True)
    return shown.model_copy(update={"citations": citations, "reports": newest_first, "differ": value.kind.value})


def _same_fact(search: Searcher, answered_in: Passage, first: Citation, other: StoryAnswer) -> bool:
    """Whether the two quoted sentences say the same kind of thing (SAME_FACT_COSINE)."""
    vectors = search.loaded().data.sentence_vectors_of
    cosine = float(
        _sentence_vector(vectors(answered_in.row), answered_in, first.start, first.end)
        @ _sentence_vector(vectors(other.passage.row), other.passage, other.evidence.start, other.evidence.end)
    )
    return cosine >= SAME_FACT_COSINE


def _sentence_vector(chunk_vectors: np.ndarray, passage: Passage, start: int, end: int) -> np.ndarray:
    """The unit mean of the vectors of the passage's sentences that overlap [start, end) (article offsets)."""
    overlapping = [passage.first_sentence + n for n, (s, e) in enumerate(passage.chunk.sentences) if s < end and e > start]
    mean = chunk_vectors[overlapping].mean(axis=0) if overlapping else np.zeros(chunk_vectors.shape[1])
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def _known_before(value: AnswerValue, answered: Article, other: StoryAnswer) -> bool:
    """Whether the older of the two stories already states the newer one's figure: then the two figures are
    two facts both stories know ("52 dlrs" TWA's offer, "73 dlrs" USAir's, in stories on both bids), not a
    figure that changed. A newer story may state the older figure ("revised to 1.10 billion from 1.15").
    Only a figure with its unit is looked for: a bare number stands somewhere in every story."""
    older, newer = (other.passage.article, value) if other.passage.article.when <= answered.when else (answered, other.value)
    return newer.unit is not None and any(compare(newer, stated) is Agreement.SAME for stated in values_in(older.text, older.published))


def _story_answers(question: str, reading: Reading, passages: list[Passage], search: Searcher, value: AnswerValue, answered: Article) -> list[StoryAnswer]:
    """Each other story's best answer above the bar: from the passages the reader read; for up to
    report_reads stories without one to compare, the reader reads alone a sentence of theirs on the
    question that states another figure or date of the answer's kind (alone: as the only passage, so its
    confidence is not that of a fifth-ranked one, and the span is that sentence's)."""
    found: dict[str, StoryAnswer] = {}

    def comparable(story: str) -> bool:
        known = found.get(story)
        return known is not None and compare(value, known.value) is not Agreement.INCOMPARABLE

    def keep(evidence: Evidence, at: int, bar: float) -> None:
        passage = passages[at]
        if evidence.span_start is None or evidence.span_end is None or evidence.score < bar or comparable(passage.article.id):
            return
        span = passage.chunk.slice(evidence.span_start, evidence.span_end)
        found[passage.article.id] = StoryAnswer(passage, evidence.model_copy(update={"passage": at}), span, value_of(span, passage.article.published))

    for evidence in reading.evidence:
        keep(evidence, evidence.passage, search.threshold)
    sentences: dict[str, tuple[int, int, int]] = {}  # a story with nothing to compare yet: its passage and sentence
    on_question = _QuestionTerms.of(question, search.loaded().data.idf)
    for at, passage in enumerate(passages):
        story = passage.article.id
        if story == answered.id or story in sentences or comparable(story):
            continue
        sentence = _differing_sentence(on_question, passage, value)
        if sentence is not None:
            sentences[story] = (at, *sentence)
    for at, start, end in list(sentences.values())[: search.settings.report_reads]:
        for evidence in search.loaded().reader.read(question, [passages[at].narrowed(start, end)]).evidence[:1]:
            keep(evidence, at, SENTENCE_BAR)
    return list(found.values())


@dataclass(frozen=True)
class _QuestionTerms:
    """What a sentence must hold to be on the question: its content terms (ON_QUESTION_SHARE of them, with the
    headline), and the word it asks about, the rarest it writes in lower case, not a name ("rescued" of "How
    many people were rescued from the Herald of Free Enterprise?", not "people" or the ship)."""

    asked: frozenset[str]
    about: str | None

    @classmethod
    def of(cls, question: str, idf: Callable[[str], float]) -> _QuestionTerms:
        common = content_terms(" ".join(w for w in question.split() if w[:1].islower()))
        return cls(frozenset(content_terms(question)), max(common, key=idf, default=None))


def _differing_sentence(question: _QuestionTerms, passage: Passage, value: AnswerValue) -> tuple[int, int] | None:
    """The passage's sentence most on the question (holding the most of its content terms) of those that
    state a figure or date other than the answer's; None when none does. A name is not looked for so (any
    capitalised word is one)."""
    asked, about = question.asked, question.about
    if not asked or value.kind not in (ValueKind.NUMBER, ValueKind.DATE):
        return None
    headline = set(terms(passage.article.headline))
    chunk = passage.chunk
    best: tuple[int, tuple[int, int]] | None = None
    for start, end in chunk.sentences:
        if not is_story_sentence(chunk.text, start - chunk.start, end - chunk.start):
            continue  # a dateline or a link to another story states no answer
        sentence = chunk.slice(start, end)
        words = set(terms(sentence))
        held = len(asked & (headline | words))
        if held < ON_QUESTION_SHARE * len(asked) or (about is not None and about not in words) or (best is not None and held <= best[0]):
            continue
        if any(compare(value, stated) is Agreement.DIFFERENT for stated in values_in(sentence, passage.article.published)):
            best = (held, (start, end))
    return best[1] if best else None
