"""The trained span reader: the best-ranked passages read as one batch, the best answer span, a calibrated confidence.

Each passage read (the best-ranked `read_passages` of them: a later one's answer is almost never
the one shown) yields, up to `max_length` tokens a window with a stride for longer ones, its best
span and the score of "no answer here" ([CLS]). A span is widened to whole words and quoted with
its whole sentence. Spans that say the same thing in several passages are one answer, supported by
each of them. The confidence is a logistic calibration, fitted on the SQuAD 2.0 tuning articles
and news tuning stories (eval/calibrate_reader.py), of features of the answer (AnswerFeatures: the
span's margin over "no answer", the retrieval rank, how much of the question the quoted sentence covers, …);
it is stored with the model in calibration.json.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel

from rag.embedding import Encoder
from rag.index.backend import SearchIndex
from rag.index.chunking import is_story_sentence
from rag.query.answer_type import AnswerTypeCheck
from rag.query.reader import Evidence, Reading, ranked_reading
from rag.query.reader_model import SHIPPED_READER, ReaderModelError, load_reader_network, reader_files, repair_hint, tokenizer_folder
from rag.query.spans import best_spans, whole_words
from rag.runtime import Network, NetworkLoadError, NetworkSource, RuntimeOptions, load_network
from rag.schema import Passage
from rag.text import content_terms, terms
from rag.tokenization import TokenizerError, WordPieces

CALIBRATION_FILE = "calibration.json"


class AnswerFeatures(NamedTuple):
    """What a candidate answer's confidence is computed from."""

    margin: float  # the span's score over "no answer"
    support: int  # articles giving the same answer
    similarity: float  # the question's cosine with the quoted sentence
    rank: int  # retrieval rank of the best passage giving it (0: the first)
    coverage: float  # share of the question's idf the quoted sentence and its headline hold (QuestionCoverage)
    type_fit: float = 0.0  # +1 the span is the kind of thing asked for, -1 plainly not, 0 unknown (AnswerTypeCheck)
    names_present: float = 1.0  # share of the question's named subjects its article names (AnswerTypeCheck)


class Calibration(BaseModel):
    """confidence = sigmoid(margin_weight * margin + support_weight * log(articles agreeing)
    + similarity_weight * similarity + rank_weight * rank + coverage_weight * coverage
    + type_weight * type_fit + names_weight * names_present + bias)."""

    margin_weight: float = 1.0
    support_weight: float = 0.0
    similarity_weight: float = 0.0
    rank_weight: float = 0.0
    coverage_weight: float = 0.0
    type_weight: float = 0.0
    names_weight: float = 0.0
    bias: float = 0.0
    threshold: float = 0.5  # below it the reader says "not found"
    # A span plainly not the kind of thing asked for (a company for "how many") is never the answer shown:
    # its confidence is 0, and another passage's span, or "not found", takes its place.
    wrong_type_refused: bool = False

    @property
    def needs_answer_types(self) -> bool:
        """Whether the confidence depends on the answer-type check (and spaCy must load)."""
        return bool(self.type_weight or self.names_weight or self.wrong_type_refused)

    def confidence(self, features: AnswerFeatures) -> float:
        if self.wrong_type_refused and features.type_fit < 0:
            return 0.0
        z = (
            self.margin_weight * features.margin
            + self.support_weight * math.log(max(features.support, 1))
            + self.similarity_weight * features.similarity
            + self.rank_weight * features.rank
            + self.coverage_weight * features.coverage
            + self.type_weight * features.type_fit
            + self.names_weight * features.names_present
            + self.bias
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


class SentenceSimilarity:
    """The question's cosine with a passage's sentences, from the sentence vectors pooled at index time.

    A span model trained on Wikipedia reads news with smaller margins over "no answer"; how close
    the quoted sentence is to the question, in the retriever's embedding space, does not shift so.
    """

    def __init__(self, index: SearchIndex, encoder: Encoder):
        self.index, self.encoder = index, encoder

    def __call__(self, question: str, passage: Passage, start: int, end: int) -> float:
        """The best cosine among the passage's sentences that overlap [start, end) (article offsets); a
        narrowed passage's sentences are counted from its first among its chunk's, as they were indexed."""
        overlapping = [passage.first_sentence + n for n, (s, e) in enumerate(passage.chunk.sentences) if s < end and e > start]
        if not overlapping:
            return 0.0
        return float(np.max(self.index.sentence_vectors_of(passage.row)[overlapping] @ self.encoder.encode_query(question)))


class QuestionCoverage:
    """How much of what the question asks about the quoted sentence says: the share of the idf of the
    question's content terms found in that sentence or in its article's headline.

    A span model always finds some span, and on news its margin over "no answer" is small for right
    answers and wrong ones alike. "Who designed the Fenwick Arena?" over a story on the arena's
    approval quotes a sentence about the council and a name from it; "designed" is nowhere near. The
    terms the sentence lacks, weighed by how rare they are in the index, say so. The headline counts
    because news sentences name their subject by pronoun ("the company said …").
    """

    def __init__(self, index: SearchIndex, cached_headlines: int = 4096):
        self.index = index
        self.headline_terms = lru_cache(maxsize=cached_headlines)(lambda title: frozenset(terms(title)))

    def __call__(self, question: str, passage: Passage, start: int, end: int) -> float:
        """The share for the sentence at [start, end) (article offsets) of the passage."""
        asked = {term: self.index.idf(term) for term in content_terms(question)}
        total = sum(asked.values())
        if not total:
            return 1.0
        held = self.headline_terms(passage.article.headline).union(terms(passage.chunk.slice(start, end)))
        return sum(weight for term, weight in asked.items() if term in held) / total


@dataclass(frozen=True)
class SpanCandidate:
    """A passage's best span: article offsets, its margin over "no answer", and its answer key."""

    passage: int
    span_start: int
    span_end: int
    margin: float
    key: str  # the span's text, case and punctuation folded: equal keys are the same answer


def read_calibration(model_folder: Path) -> Calibration:
    """The folder's calibration.json; a plain SQuAD folder has none: sigmoid of the margin, threshold 0.5."""
    path = Path(model_folder) / CALIBRATION_FILE
    if not path.is_file():
        return Calibration()
    try:
        return Calibration.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ReaderModelError(f"the reader calibration file {path} is damaged ({exc}): {repair_hint(model_folder)}") from exc


def answer_key(text: str) -> str:
    return " ".join("".join(ch.lower() if ch.isalnum() else " " for ch in text).split())


def agreeing(candidates: list[SpanCandidate]) -> dict[str, list[SpanCandidate]]:
    """Candidates grouped by answer, each group best margin first."""
    groups: dict[str, list[SpanCandidate]] = {}
    for candidate in sorted(candidates, key=lambda c: -c.margin):
        groups.setdefault(candidate.key, []).append(candidate)
    return groups


def quoted_sentence(passage: Passage, span_start: int, span_end: int) -> tuple[int, int]:
    """Article offsets of the sentence(s) holding the span; the span always lies inside."""
    sentences = passage.chunk.sentences
    first = next((s for s, e in sentences if s <= span_start < e), passage.chunk.start)
    last = next((e for s, e in sentences if s < span_end <= e), passage.chunk.end)
    return min(first, span_start), max(last, span_end)


def unquotable_ranges(passage: Passage) -> list[tuple[int, int]]:
    """Offsets into the passage's text of its links to other stories and its dateline: no answer is quoted
    from them (a question about where or when a story was filed is answered from the article itself)."""
    chunk = passage.chunk
    relative = [(s - chunk.start, e - chunk.start) for s, e in chunk.sentences]
    return [(s, e) for s, e in relative if not is_story_sentence(chunk.text, s, e)]


class SpanReader:
    """Reads passages with a SQuAD-style span model; the model loads on the first question, once."""

    def __init__(
        self,
        model_folder: Path,
        base_folder: Path,
        threshold: float | None = None,
        similarity: Callable[[str, Passage, int, int], float] | None = None,  # e.g. SentenceSimilarity
        coverage: Callable[[str, Passage, int, int], float] | None = None,  # e.g. QuestionCoverage
        answer_types: AnswerTypeCheck | None = None,
        max_length: int = 256,
        stride: int = 96,
        max_answer_tokens: int = 30,
        read_passages: int | None = None,  # read only the first N passages (best ranked); None: all
        runtime: RuntimeOptions | None = None,
    ):
        self.model_folder = Path(model_folder)
        self.runtime = runtime or RuntimeOptions()
        self.base_folder = Path(base_folder)
        if not (self.model_folder / "config.json").is_file():
            raise ReaderModelError(f"the reader model file {self.model_folder / 'config.json'} is missing: {repair_hint(self.model_folder)}")
        self.calibration = read_calibration(self.model_folder)
        self.threshold = self.calibration.threshold if threshold is None else threshold
        if similarity is None and self.calibration.similarity_weight:
            raise ValueError("this reader's calibration needs the index's sentence vectors: pass `similarity`")
        if coverage is None and self.calibration.coverage_weight:
            raise ValueError("this reader's calibration needs the index's term statistics: pass `coverage`")
        if answer_types is None and self.calibration.needs_answer_types:
            raise ValueError("this reader's calibration needs the answer-type check: pass `answer_types`")
        self.similarity, self.coverage, self.answer_types = similarity, coverage, answer_types
        self.max_length, self.stride, self.max_answer_tokens = max_length, stride, max_answer_tokens
        self.read_passages = read_passages
        self._loaded: tuple[WordPieces, Network] | None = None
        self._lock = threading.Lock()

    def _model(self) -> tuple[WordPieces, Network]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[WordPieces, Network]:
        folder, base = self.model_folder, self.base_folder
        try:
            word_pieces = WordPieces(tokenizer_folder(folder, base))
            examples = ["An example passage to convert the reader with.", "Short."]
            network = load_network(
                NetworkSource(
                    name="reader" if folder.resolve() == SHIPPED_READER else f"reader-{folder.name}",
                    files=reader_files(folder, base),
                    build=lambda: _span_logits_module(folder, base),
                    example=lambda: word_pieces.pairs("Who converts the network?", examples, self.max_length, self.stride).inputs,
                ),
                self.runtime,
            )
        except (TokenizerError, NetworkLoadError, OSError) as exc:
            raise ReaderModelError(f"the reader model in {folder} cannot be loaded ({exc}): {repair_hint(folder)}") from exc
        return word_pieces, network

    def candidates(self, question: str, passages: list[Passage]) -> list[SpanCandidate]:
        """The best span of each passage read (the first read_passages), all in one forward pass."""
        word_pieces, network = self._model()
        passages = passages[: self.read_passages]
        encoded = word_pieces.pairs(question, [p.chunk.text for p in passages], self.max_length, self.stride)
        start_logits, end_logits = network(encoded.inputs)
        unquotable = {rank: unquotable_ranges(passage) for rank, passage in enumerate(passages)}
        found = []
        for rank, span in best_spans(encoded, start_logits, end_logits, self.max_answer_tokens, unquotable).items():
            chunk = passages[rank].chunk
            start, end = whole_words(chunk.text, span.start, span.end)
            found.append(SpanCandidate(rank, chunk.start + start, chunk.start + end, span.score - span.null_score, answer_key(chunk.text[start:end])))
        return found

    def evidence_features(self, question: str, passages: list[Passage], group: list[SpanCandidate]) -> AnswerFeatures:
        """A candidate answer's features: the best margin, the articles agreeing, the similarity, the best
        retrieval rank among the passages giving it (passages come best first), the question's coverage
        by the quoted sentence of the best margin, whether the span is the kind of thing asked for, and
        whether its article names what the question names."""
        best = group[0]
        passage = passages[best.passage]
        sentence = quoted_sentence(passage, best.span_start, best.span_end)
        similarity = coverage = type_fit = 0.0
        names = 1.0
        if self.similarity is not None:
            similarity = self.similarity(question, passage, best.span_start, best.span_end)
        if self.coverage is not None:
            coverage = self.coverage(question, passage, *sentence)
        if self.answer_types is not None:
            type_fit = self.answer_types.type_fit(question, passage, sentence, (best.span_start, best.span_end))
            names = self.answer_types.names_present(question, passage)
        support = len({passages[c.passage].article.id for c in group})
        return AnswerFeatures(best.margin, support, similarity, min(c.passage for c in group), coverage, type_fit, names)

    def load(self) -> None:
        self._model()
        if self.answer_types is not None and self.calibration.needs_answer_types:
            self.answer_types.load()

    def read(self, question: str, passages: list[Passage]) -> Reading:
        if not passages:
            return ranked_reading([], self.threshold)
        evidence = []
        for group in agreeing(self.candidates(question, passages)).values():
            confidence = self.calibration.confidence(self.evidence_features(question, passages, group))
            for candidate in group:
                start, end = quoted_sentence(passages[candidate.passage], candidate.span_start, candidate.span_end)
                evidence.append(
                    Evidence(
                        passage=candidate.passage,
                        start=start,
                        end=end,
                        span_start=candidate.span_start,
                        span_end=candidate.span_end,
                        score=confidence,
                    )
                )
        return ranked_reading(evidence, self.threshold)


def _span_logits_module(folder: Path, base_folder: Path) -> Any:  # a torch.nn.Module
    """The reader's torch module: inputs by name in, (start logits, end logits) out."""
    import torch

    model = load_reader_network(folder, base_folder)

    class SpanLogits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple[Any, Any]:
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return output.start_logits, output.end_logits

    return SpanLogits()
