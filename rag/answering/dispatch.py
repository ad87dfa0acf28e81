"""Each intent to its one handler, by a table keyed by the intent's type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag.answering import article_field, latest, listing, more, newest, read, summary, timeline
from rag.answering.context import Asked, Searcher
from rag.query.intents import AboutArticle, Intent, LatestOn, ListArticles, More, NewestArticles, Read, Summary, Timeline
from rag.schema import Answer

HANDLERS: dict[type, Callable[[Any, Asked, Searcher], Answer]] = {
    ListArticles: listing.answer,
    NewestArticles: newest.answer,
    LatestOn: latest.answer,
    Timeline: timeline.answer,
    Summary: summary.answer,
    More: more.answer,
    AboutArticle: article_field.answer,
    Read: read.answer,
}


def respond(intent: Intent, asked: Asked, search: Searcher) -> Answer:
    """The answer of the intent's handler."""
    return HANDLERS[type(intent)](intent, asked, search)
