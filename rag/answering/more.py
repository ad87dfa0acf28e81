""" "Tell me more", "What else did she say?": the other sentences on the subject, from the articles the
previous answer cited, none quoted before in the chat."""

from __future__ import annotations

from dataclasses import replace

from rag.answering.context import Asked, Searcher
from rag.query.followup import resolve
from rag.query.intents import More
from rag.query.more_sentences import closest_sentences, names_topic
from rag.query.request import QuestionError
from rag.schema import Answer


def answer(intent: More, asked: Asked, search: Searcher) -> Answer:
    """The conversation's subject when the question names none."""
    subject, query = intent.subject, intent.subject
    if not subject:
        if not asked.history:
            raise QuestionError("there is nothing to say more about yet: ask a question first, or name a subject (“tell me more about …”)")
        previous = asked.history[-1]
        subject = previous.question  # shown, and carried on by a "tell me more" after this one
        query = f"{previous.answer or ''} {resolve(previous.question, asked.history[:-1]).search}".strip()
        if previous.articles and asked.filters.articles is None:
            asked = asked.within(frozenset(previous.articles))
    return sentences_on(subject, query, asked, search)


def sentences_on(subject: str, query: str, asked: Asked, search: Searcher, on_topic: bool = False, closest_to: str | None = None) -> Answer:
    """The sentences of the passages `query` finds closest to it (or to `closest_to`), none quoted before
    in the chat, in the order the articles tell them; on_topic: only from passages that hold a word of
    the subject."""
    passages, scopes = search.scoped(query, asked, None)
    if on_topic:
        passages = [p for p in passages if names_topic(p, subject)]
    vector = search.encoder.encode_query(closest_to or query)
    quoted = {q for turn in asked.history for q in turn.quoted}
    data = search.loaded().data
    chosen = closest_sentences(passages, lambda p: data.sentence_vectors_of(p.row) @ vector, quoted, search.settings.max_citations)
    citations = [search.citer.citation(n, passages[s.passage], s.start, s.end, None) for n, s in enumerate(chosen, start=1)]
    return Answer(
        question=asked.question,
        kind="more",
        found=bool(chosen),
        answer=" … ".join(passages[s.passage].chunk.slice(s.start, s.end) for s in chosen) or None,
        score=1.0 if chosen else 0.0,  # quoted as they stand, not read as an answer to a question
        citations=citations,
        related=[] if chosen else [search.citer.of_passage(n, p) for n, p in enumerate(passages, start=1)],
        more=subject,
        passages=passages,
        **scopes.answer_fields(),
    )


def without_history(asked: Asked) -> Asked:
    """The question with no conversation before it: a topic it names is its own."""
    return replace(asked, history=())
