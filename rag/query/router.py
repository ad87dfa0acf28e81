"""Which intent a question has: one ordered table of routes, the first that claims the question wins.

The order is data, in ROUTES, and each route only recognises; answering is the handlers' (rag/answering).
The order matters where phrasings overlap: "Which articles mention the latest on X?" is a list;
"What's the latest news?" asks for the newest stories before "the latest on" can take "news" as a
topic; "How did the strike develop?" is a timeline before the reader sees a "how" question; a
summary or "tell me more" before a question about the article's own fields; the reader ("read") is
the default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.query.article_facts import asked_field
from rag.query.article_list import asks_for_newest, listing_topic
from rag.query.followup import Turn, leans_on_history
from rag.query.intents import AboutArticle, Intent, LatestOn, ListArticles, More, NewestArticles, Read, Summary, Timeline
from rag.query.more_sentences import asks_for_more, asks_for_summary, latest_on
from rag.query.question_scope import Scopes
from rag.query.story_timeline import asks_for_timeline
from rag.text import terms


@dataclass(frozen=True)
class RoutedQuestion:
    """A question as the router reads it: its words, the time and source it names, the conversation before it."""

    text: str
    scopes: Scopes = Scopes()
    history: tuple[Turn, ...] = ()

    @property
    def without_time(self) -> str:
        return self.scopes.without_time(self.text)

    @property
    def without_scopes(self) -> str:
        return self.scopes.without_scopes(self.text)

    @property
    def refers_back(self) -> bool:
        """Whether its "it" or "this" is what the previous answer was about, rather than an article: the
        previous answer read a fact out of a story about a thing that is itself written or published ("Who
        published the 5G security report?" → "When was it published?": the report), and this question
        leans on it. After "What was Piedmont's February load factor?", "When was it published?" can only
        mean the story."""
        if not self.history or not leans_on_history(self.text):
            return False
        previous = self.history[-1]
        return not (previous.listed or previous.about_article) and bool(set(terms(previous.question)) & _DOCUMENT_WORDS)


# Things that are written and published themselves, so that "it" after a question about one may be it.
_DOCUMENT_WORDS = frozenset(terms("report study survey paper letter statement book plan document proposal analysis review memo filing prospectus bulletin"))


@dataclass(frozen=True)
class Route:
    name: str
    claim: Callable[[RoutedQuestion], Intent | None]


# "What did Reuters report on March 1?", "Which stories were published last week?": the newest stories
# within the time or source the question names (the words that named them are gone here)
_STORIES_OF = re.compile(
    r"""^\W*(?:what\s+(?:(?:did|has|have|had)\s+)?(?:\w+\s+){0,2}?(?:report|reported|publish|published|write|written|carry|carried|run|say|said)
      | what\s+(?:was|were|got)\s+(?:reported|published|filed)
      | (?:which|what)\s+(?:news\s+)?(?:stories|articles|reports|news)\s+(?:were|was|are|did\s+\w+)
        \s*(?:published|reported|filed|out|run|carried|publish|report)?
    )(?:\s+(?:on|in|from|during|at))?\W*$""",
    re.IGNORECASE | re.VERBOSE,
)


def _list_articles(question: RoutedQuestion) -> Intent | None:
    topic = listing_topic(question.without_time)
    return ListArticles(topic) if topic is not None else None


def _newest(question: RoutedQuestion) -> Intent | None:
    if asks_for_newest(question.without_scopes):
        return NewestArticles()
    scoped = question.scopes.time is not None or question.scopes.source is not None
    return NewestArticles() if scoped and _STORIES_OF.match(" ".join(question.without_scopes.split())) else None


# "Any news on who wrote it?" asks a question, not for news on a topic called "who wrote it"
_ASKS_A_QUESTION = re.compile(r"^(?:who|whom|whose|what|when|where|why|how|which)\b", re.IGNORECASE)


def _latest_on(question: RoutedQuestion) -> Intent | None:
    topic = latest_on(question.without_time)
    return LatestOn(topic) if topic is not None and not _ASKS_A_QUESTION.match(topic) else None


def _timeline(question: RoutedQuestion) -> Intent | None:
    topic = asks_for_timeline(question.without_time, timed=question.scopes.time is not None)
    return Timeline(topic) if topic is not None else None


def _summary(question: RoutedQuestion) -> Intent | None:
    topic = asks_for_summary(question.text)
    return Summary(topic) if topic is not None else None


def _more(question: RoutedQuestion) -> Intent | None:
    subject = asks_for_more(question.text)
    return More(subject) if subject is not None else None


# Words that name a news outlet in general: "On what date did the agency publish …".
_OUTLET_WORDS = frozenset(terms("agency wire service newspaper paper"))


def _about_article(question: RoutedQuestion) -> Intent | None:
    asked = asked_field(question.text, follow_up=question.refers_back)
    if asked is None:
        return None
    if asked.agency is not None:  # "On what date did Reuters publish …": Reuters must be a source, not Chrysler
        named = set(terms(asked.agency))
        source = question.scopes.source
        if not (named & _OUTLET_WORDS or (source is not None and named & set(terms(source.text)))):
            return None
    return AboutArticle(asked.field, asked.story)


ROUTES: tuple[Route, ...] = (
    Route("list articles", _list_articles),
    Route("newest", _newest),
    Route("latest on", _latest_on),
    Route("timeline", _timeline),
    Route("summary", _summary),
    Route("more", _more),
    Route("article field", _about_article),
)


def route(question: RoutedQuestion, routes: Sequence[Route] = ROUTES) -> Intent:
    """The intent of the first route that claims the question; Read when none does."""
    for candidate in routes:
        intent = candidate.claim(question)
        if intent is not None:
            return intent
    return Read()


def route_name(question: RoutedQuestion, routes: Sequence[Route] = ROUTES) -> str:
    """The name of the route that claims the question ("read" for the default): what the routing table tests pin."""
    return next((candidate.name for candidate in routes if candidate.claim(question) is not None), "read")
