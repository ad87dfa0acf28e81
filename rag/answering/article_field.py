""" "Who wrote this article?", "From which city was the report on the Cuban drought filed?": a field of
an article itself, read from its metadata (its dateline from its text), or what it lacks."""

from __future__ import annotations

from rag.answering import read
from rag.answering.context import Asked, Searcher
from rag.answering.summary import the_article
from rag.query.article_facts import MISSING, article_fact
from rag.query.intents import AboutArticle, Read
from rag.schema import Answer


def answer(intent: AboutArticle, asked: Asked, search: Searcher) -> Answer:
    """The article the question describes (searched for), else the one the conversation is about, else
    the one the question's own words find (the answer cites it, so the reader sees which)."""
    scopes = asked.scopes
    article = the_article(asked, search) if not intent.story else None
    if article is None:
        found, scopes = search.scoped(intent.story or asked.question, asked)
        article = found[0].article if found else None
    own = search.top_of(article) if article is not None else []
    fact = article_fact(intent.field, own)
    if fact is None and intent.story:
        # a story described by what it reports and without the field: the question may be about something
        # the text reports ("Who reported on the sideline for ESPN?"), so the reader answers
        return read.answer(Read(), asked, search)
    if fact is None:
        return Answer(
            question=asked.question,
            kind="article_field",
            found=False,
            score=0.0,
            fact=intent.field,
            reason=MISSING[intent.field] if own else None,
            related=[search.citer.of_passage(1, own[0])] if own else [],
            passages=own,
            **scopes.answer_fields(),
        )
    passage = own[fact.passage]
    if fact.start is None or fact.end is None:  # a header field: the article is cited, no sentence of it is quoted
        citation = search.citer.citation(1, passage, passage.chunk.start, passage.chunk.start, None)
    else:
        citation = search.citer.citation(1, passage, fact.start, fact.end, (fact.start, fact.start + len(fact.span)))
    # Read from the article's own fields, not inferred: the confidence a parsed field deserves.
    return Answer(
        question=asked.question,
        kind="article_field",
        found=True,
        answer=fact.answer,
        span=fact.span,
        score=1.0,
        citations=[citation],
        fact=fact.field,
        passages=own,
        **scopes.answer_fields(),
    )
