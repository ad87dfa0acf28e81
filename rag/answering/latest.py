""" "What's the latest on the Port Kessing strike?": the newest article on the topic, its sentences
closest to the topic, quoted as "tell me more about" quotes them; not one span read out of it."""

from __future__ import annotations

from rag.answering.context import Asked, Searcher, newest_first
from rag.answering.more import sentences_on, without_history
from rag.query.intents import LatestOn
from rag.query.more_sentences import names_topic
from rag.schema import Answer


def answer(intent: LatestOn, asked: Asked, search: Searcher) -> Answer:
    passages, _ = search.scoped(intent.topic, asked)
    # newest first also for "Any news on …?", which names no "latest" for the time scope to see
    newest = next((p.article.id for p in newest_first(passages) if names_topic(p, intent.topic)), None)
    if newest is not None:
        asked = asked.within(frozenset([newest]))
    return sentences_on(intent.topic, intent.topic, without_history(asked), search, on_topic=True)
