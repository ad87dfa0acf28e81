"""What a question asks for, as typed values: the router's verdict, each answered by one handler.

An intent holds only what the question itself says (a topic, a field, a subject); which articles the
conversation is about and which dates and source it names travel beside it, in the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.query.article_facts import ArticleField


@dataclass(frozen=True)
class ListArticles:
    """ "Which articles mention Brazil?": every article that names the topic, newest first."""

    topic: str


@dataclass(frozen=True)
class NewestArticles:
    """ "What's the latest news?", "What did Reuters report on March 1?": the newest stories within the
    question's dates and source."""


@dataclass(frozen=True)
class LatestOn:
    """ "What's the latest on the tin quota?": the newest story on the topic, its closest sentences."""

    topic: str


@dataclass(frozen=True)
class Timeline:
    """ "How did the Ecuador earthquake story develop?": one line from each story on the topic, oldest
    first; topic "" is the conversation's subject."""

    topic: str


@dataclass(frozen=True)
class Summary:
    """ "Summarise the refinery story": a story's lead; topic "" is the story the conversation is about."""

    topic: str


@dataclass(frozen=True)
class More:
    """ "Tell me more about the trains": further sentences; subject "" is the conversation's."""

    subject: str


@dataclass(frozen=True)
class AboutArticle:
    """ "Who wrote this article?", "From which city was the report on the drought filed?": a field of an
    article itself; story is the description of the article ("the drought"), "" for this article."""

    field: ArticleField
    story: str = ""


@dataclass(frozen=True)
class Read:
    """Any other question: the reader finds the answer in the articles' text (the default)."""


Intent = ListArticles | NewestArticles | LatestOn | Timeline | Summary | More | AboutArticle | Read
