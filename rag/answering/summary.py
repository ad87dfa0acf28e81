""" "What is this article about?", "Summarise the Dorrell refinery story": the story's lead, its first
sentences, as a news story puts what it is about first."""

from __future__ import annotations

from rag.answering.context import Asked, Searcher
from rag.query.intents import Summary
from rag.query.more_sentences import lead_sentences
from rag.query.request import QuestionError
from rag.schema import Answer, Article


def answer(intent: Summary, asked: Asked, search: Searcher) -> Answer:
    """The story is the one the topic finds, else the only one searched, else the first the
    conversation's last answer cited; with several and nothing to choose by, QuestionError asks which."""
    article = the_article(asked, search) if not intent.topic else None
    if article is None and not intent.topic and len(search.admitted(asked.filters)) > 1:
        raise QuestionError(
            f"which article? {len(search.admitted(asked.filters))} are searched: name its subject (“summarise the story about the refinery fire”), "
            "or choose it (“Ask only about these articles” in the chat, --article on the command line)"
        )
    scopes = asked.scopes
    if article is None:
        found, scopes = search.scoped(intent.topic or asked.question, asked)
        article = found[0].article if found else None
    if article is None:
        return Answer(question=asked.question, kind="summary", found=False, score=0.0, **scopes.answer_fields())
    top = search.top_of(article)[0]  # the earliest of its passages that best match its headline holds the lead
    sentences = lead_sentences(top, search.settings.max_citations)
    citations = [search.citer.citation(n, top, start, end, None) for n, (start, end) in enumerate(sentences, start=1)]
    return Answer(
        question=asked.question,
        kind="summary",
        found=bool(sentences),
        answer=" … ".join(top.chunk.slice(start, end) for start, end in sentences) or None,
        score=1.0 if sentences else 0.0,  # quoted as they stand, as "tell me more" quotes
        citations=citations,
        related=[] if sentences else [search.citer.of_passage(1, top)],
        more=article.title,
        passages=[top],
        **scopes.answer_fields(),
    )


def the_article(asked: Asked, search: Searcher) -> Article | None:
    """The article "this article" is: the only one searched, else the first the conversation's last
    answer cited; None when neither says."""
    admitted = {a.id: a for a in search.admitted(asked.filters)}
    if len(admitted) == 1:
        return next(iter(admitted.values()))
    return next((admitted[i] for i in (asked.history[-1].articles if asked.history else []) if i in admitted), None)
