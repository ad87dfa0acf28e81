""" "What's the latest news?", "What did Reuters report on March 1?": the newest stories within the
question's dates and source, newest first, each cited at its lead; wire copies once."""

from __future__ import annotations

from rag.answering.context import Asked, Searcher
from rag.query.intents import NewestArticles
from rag.query.more_sentences import lead_sentences
from rag.query.question_scope import Scopes
from rag.query.retrieve import Filters
from rag.schema import Answer, Passage


def answer(intent: NewestArticles, asked: Asked, search: Searcher) -> Answer:
    """Every date and source when no article is in the question's, and the scopes say so."""
    articles = search.admitted(Filters())  # newest first, undated last
    scopes = asked.scopes
    narrowed = scopes.narrow(asked.filters)
    newest = [a for a in articles if narrowed.admits(a)]
    if not newest and narrowed != asked.filters:
        newest, scopes = [a for a in articles if asked.filters.admits(a)], scopes.unmatched()
    k = asked.k or search.settings.k
    stories: list[Passage] = []
    for article in newest:
        if len(stories) == k:
            break
        # the earliest of its passages that match its headline: its top, where the lead is (the single best
        # match was a mid-story passage where a later paragraph repeats the headline's words)
        stories = search.one_per_story([*stories, *search.top_of(article)[:1]])
    citations = [search.citer.citation(n, p, *(lead_sentences(p) or [(p.chunk.start, p.chunk.end)])[0], None) for n, p in enumerate(stories, start=1)]
    return Answer(
        question=asked.question,
        kind="newest",
        found=bool(stories),
        answer=heading(len(stories), len(newest), scopes) if stories else None,
        score=1.0 if stories else 0.0,
        citations=citations,
        passages=stories,
        **scopes.answer_fields(),
    )


def heading(shown: int, matching: int, scopes: Scopes) -> str:
    """What the list is, in the question's own terms: "The 3 articles from Reuters of 1 March 1987", "The
    5 newest of 12 articles of 1 March 1987", "The 5 newest articles" (no dates asked: the newest of all)."""
    source = f" from {scopes.source.source}" if scopes.source and scopes.source.applied else ""
    time = scopes.time
    if not (time and time.applied and time.filters_dates):
        return f"The newest article{source}" if shown == 1 else f"The {shown} newest articles{source}"
    articles = "article" if matching == 1 else "articles"
    count = f"{shown} newest of {matching}" if matching > shown else ("" if matching == 1 else str(matching))
    return " ".join(f"The {count} {articles}{source} {time.spoken()}".split())
