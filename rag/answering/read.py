"""Any other question: the reader finds the answer in the passages retrieved for it (with the chat's
subject when it is a follow-up); when it finds none, two other readings are tried before "not found"."""

from __future__ import annotations

from dataclasses import replace

from rag.answering.context import Asked, Searcher
from rag.answering.more import sentences_on, without_history
from rag.answering.reports import compared
from rag.query.followup import points_back, resolve
from rag.query.intents import Read
from rag.query.more_sentences import said_about
from rag.query.question_scope import Scopes
from rag.query.roles import by_role, roles
from rag.query.span_dates import day_of
from rag.schema import Answer, Passage
from rag.text import terms


def answer(intent: Read, asked: Asked, search: Searcher) -> Answer:
    question = asked.question
    # with articles chosen, a thin question that points at nothing ("Who is the chairman?") is asked of them,
    # not of the conversation's last subject
    chosen_alone = asked.filters.articles is not None and not points_back(question)
    resolved = resolve(question, () if chosen_alone else asked.history)
    passages, scopes = search.scoped(resolved.search, asked)
    found = None
    if resolved.articles and not any(p.article.id in resolved.articles for p in passages) and asked.filters.articles is None:
        # the conversation's story was not among the passages ("Summarise the earthquake story", then "Was
        # anyone hurt?"): its own passages are read first, and only without an answer there the rest
        own, _ = search.scoped(resolved.search, asked.within(frozenset(resolved.articles)))
        in_story = read(resolved.read, own, search, scopes) if own else None
        found = in_story if in_story is not None and in_story.found else None
    if found is None:
        found = read(resolved.read, resolved.focus(passages), search, scopes)
    if not found.found and resolved.search == question:
        searched = replace(asked, scopes=scopes)  # as searched: "applied" is False where nothing matched them
        found = _statements(searched, search) or _by_role(searched, passages, search) or found
    update = scopes.answer_fields()
    if resolved.search != question:
        reworded = resolved.read if not resolved.read.startswith(question) else None  # "What did Jorio Dauster say?"
        update |= {"question": question, "query": resolved.search, "follows": resolved.follows or asked.history[-1].question, "read_question": reworded}
    return found.model_copy(update=update) if update else found


def read(question: str, passages: list[Passage], search: Searcher, scopes: Scopes | None = None) -> Answer:
    """The reader's answer out of already retrieved passages, cited, with other stories' answers beside it
    (rag/answering/reports.py); under the threshold, "not found" with the passages as related and the
    withheld answer kept for evaluation. With the scopes the
    search was narrowed by, the reader reads the question without them (`Scopes.as_read`)."""
    asked = scopes.as_read(question) if scopes else question
    reading = search.loaded().reader.read(asked, passages)
    shown = None
    if reading.evidence:
        chosen = search.citer.supporting(reading.evidence, passages, search.threshold)
        best = chosen[0]
        passage = passages[best.passage]
        shown = Answer(
            question=question,
            found=True,
            answer=passage.chunk.slice(best.start, best.end),
            span=passage.chunk.slice(*best.span) if best.span else None,
            span_date=day_of(passage.chunk.slice(*best.span), passage.article.published) if best.span else None,
            score=reading.score,
            citations=[search.citer.of_evidence(n, e, passages[e.passage]) for n, e in enumerate(chosen, start=1)],
            passages=passages,
        )
    if shown is not None and reading.found:
        return compared(asked, shown, reading, passages, search)
    return Answer(
        question=question,
        found=False,
        score=reading.score,
        related=[search.citer.of_passage(n, p) for n, p in enumerate(passages, start=1)],
        passages=passages,
        withheld=shown,
    )


def _by_role(asked: Asked, passages: list[Passage], search: Searcher) -> Answer | None:
    """ "When did Hua speak?" over a story that says "a Foreign Ministry spokesperson said Wednesday" and
    "spokesperson Hua Chunying" elsewhere: read again as "When did the spokesperson speak?", over the
    top article only (it gave the role); None when the question names none of its people or the
    second reading finds nothing either."""
    if not passages:
        return None
    top = passages[0].article
    reading = by_role(asked.question, roles(top.text))
    if reading is None:
        return None
    again, _ = search.scoped(reading.question, asked.within(frozenset([top.id])))
    found = read(reading.question, again, search)
    return found.model_copy(update={"question": asked.question, "read_as": reading}) if found.found else None


def _statements(asked: Asked, search: Searcher) -> Answer | None:
    """ "What did Xinhua say about 5G?", when no one sentence answers it: what that source's articles say
    on the topic, quoted as "tell me more about 5G" quotes it. Only for a speaker that is the source the
    search was narrowed to, so every sentence is theirs, and only from their articles that name the
    topic; None otherwise (the reader's "not found" stands)."""
    said = said_about(asked.scopes.without_time(asked.question))
    source = asked.scopes.source
    if said is None or source is None or not source.applied or not set(terms(said.speaker)) & set(terms(source.text)):
        return None
    # sentences ranked by closeness to a statement on the topic, not to its bare name: the lead's "China
    # called on countries to view 5G risks objectively, a spokesperson said" before "5G is a new generation …"
    statements = sentences_on(said.topic, said.topic, without_history(asked), search, on_topic=True, closest_to=f"What was said about {said.topic}?")
    return statements if statements.found else None
