"""Follow-up questions: one that leans on the conversation is searched with the previous turn's subject.

"When did she say that?" names nothing to search for. When a question refers back (a pronoun,
"what about …", or almost no words of its own), the words of the previous question and the
answer it got are appended to the retrieval query, and the answer is read from the articles the
previous answer cited when retrieval finds them. A question that stands on its own is left
exactly as it is, so history cannot change its answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from rag.query.question_source import SourceScope
from rag.query.question_time import TimeScope
from rag.schema import ARTICLE_KINDS, LISTING_KINDS, Answer, Passage
from rag.text import STOPWORDS, TOKEN_PATTERN


class Turn(BaseModel):
    """One earlier exchange of the conversation."""

    question: str
    answer: str | None = Field(None, description="the narrowed answer (a name, date, …), None when not found")
    articles: list[str] = Field(default_factory=list, description="ids of the articles the answer cited")
    listed: bool = Field(False, description="the answer was a list of articles: a follow-up's 'it' is one of them")
    about_article: bool = Field(False, description="the answer was about the article itself (a field, its lead): a follow-up's 'it' is that article")
    quoted: list[tuple[str, int, int]] = Field(default_factory=list, description="the sentences the answer quoted: article id, start, end")
    follow_up: bool = Field(False, description="the question was read as a follow-up: searched with the chat's subject")
    time_scope: TimeScope | None = Field(None, description="the dates the question named and the answer searched")
    source_scope: SourceScope | None = Field(None, description="the source the question named and the answer searched")

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        if not answer.found:
            return cls(question=answer.question, follow_up=answer.query is not None, time_scope=answer.time_scope, source_scope=answer.source_scope)
        articles = list(dict.fromkeys(c.article_id for c in answer.citations))
        return cls(
            # "Tell me more" again continues the subject the first one searched for
            question=answer.more or answer.question,
            answer=answer.span,
            articles=articles,
            listed=answer.kind in LISTING_KINDS,
            about_article=answer.kind in ARTICLE_KINDS,
            quoted=[(c.article_id, c.start, c.end) for c in answer.citations if c.end > c.start],
            follow_up=answer.query is not None,
            time_scope=answer.time_scope,
            source_scope=answer.source_scope,
        )


# Words that point back at something said before.
_PRONOUNS = frozenset("he she him her hers his they them their theirs it its".split())
_DEMONSTRATIVES = frozenset("this that these those there then same".split())
_CONTINUATION = re.compile(r"^\W*(?:and|also|so|what about|how about)\b", re.IGNORECASE)
# Words that carry no subject: question words, auxiliaries, pronouns, fillers.
_FUNCTION_WORDS = (
    STOPWORDS
    | _PRONOUNS
    | _DEMONSTRATIVES
    | frozenset(
        "who whom whose what which when where why how many much did does do done has have had was were been being "
        "can could would should shall may might must about according also so any some one i me my we us our you your "
        "tell say said says know anyone anybody someone somebody everyone everybody anything something nothing nobody".split()
    )
)
# A question with this many subject words or fewer is too thin to stand on its own ("And when?").
_THIN = 1
# How many turns back a chain of follow-ups ("And then?" "Why?") may reach for its subject.
_REACH = 4
# Pronouns and demonstratives are often plain grammar inside a question that names its own subject
# ("How many residents left their homes in Riverton?", "Who said that countries …"): only short
# questions lean on them.
_SHORT = 3


def subject_words(text: str) -> list[str]:
    """The words of a text that name something, in order, each once (case-insensitively)."""
    seen: set[str] = set()
    words = []
    for word in TOKEN_PATTERN.findall(text):
        key = word.lower()
        if key not in _FUNCTION_WORDS and key not in seen:
            seen.add(key)
            words.append(word)
    return words


def leans_on_history(question: str) -> bool:
    """Whether the question refers back to the conversation instead of standing on its own."""
    words = TOKEN_PATTERN.findall(question)
    lowered = {w.lower() for w in words}
    own = len(subject_words(question))
    if own <= _THIN or _CONTINUATION.match(question):
        return True
    if own > _SHORT:
        return False
    if lowered & _DEMONSTRATIVES:
        return True
    # a pronoun after a name of the question's own is that name's ("What did OPEC say about its ceiling?")
    return bool(lowered & _PRONOUNS) and not _named_before_pronoun(words)


def points_back(question: str) -> bool:
    """Whether a word of the question points at the conversation: a pronoun, "this", "that", "And …",
    "What about …". A question without one ("Who is the chairman?") leans on history only by being thin."""
    lowered = {w.lower() for w in TOKEN_PATTERN.findall(question)}
    return bool(lowered & (_PRONOUNS | _DEMONSTRATIVES)) or bool(_CONTINUATION.match(question))


def _named_before_pronoun(words: list[str]) -> bool:
    """Whether a capitalised name (not the question's first word) comes before its first pronoun."""
    for position, word in enumerate(words):
        if word.lower() in _PRONOUNS:
            return False
        if position > 0 and word[:1].isupper() and word.lower() not in _FUNCTION_WORDS:
            return True
    return False


# "he", "she" and their other forms stand for a person the previous turn named.
_PERSONAL = {"he": "", "she": "", "him": "", "her": "", "his": "'s", "hers": "'s"}
_PERSONAL_PATTERN = re.compile(r"\b(?:he|she|him|his|hers|her)\b", re.IGNORECASE)
_WHO_IS = re.compile(r"^\W*who\s+(?:is|was)\s+(?P<name>[A-Z][^?]*?)\W*$", re.IGNORECASE)


def person_of(turn: Turn) -> str | None:
    """The person a turn's question asked about by name ("Jorio Dauster" of "Who is Jorio Dauster?"); None
    otherwise. Only the user's own words: an answer may be wrong, and a wrong name put into the next
    question would carry the mistake on (measured on reuters-dev's follow-ups)."""
    asked = _WHO_IS.match(" ".join(turn.question.split()))
    return asked["name"] if asked and _is_name(asked["name"]) else None


def _is_name(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 4 and all(w[:1].isupper() for w in words) and not any(ch.isdigit() for ch in text)


def with_person(question: str, person: str) -> str:
    """The question with "he"/"she" (and "his", "him", "her") as the person: "What did Jorio Dauster say?"."""

    def named(found: re.Match[str]) -> str:
        return person + _PERSONAL[found.group().lower()]

    return _PERSONAL_PATTERN.sub(named, question)


class Resolved(BaseModel):
    """What to search for, what the reader answers, and which articles the conversation is about."""

    search: str
    read: str
    articles: list[str] = Field(default_factory=list, description="answer from these when retrieval found them")
    follows: str | None = Field(None, description="the question whose subject a follow-up took: the first of a chain of follow-ups")

    def focus(self, passages: list[Passage]) -> list[Passage]:
        """The passages of the conversation's articles when there are any, else all of them."""
        return [p for p in passages if p.article.id in self.articles] or passages


_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "fifth": 4, "5th": 4, "last": -1}
_ORDINAL_REFERENCE = re.compile(
    rf"\b(?:the\s+)?(?P<nth>{'|'.join(_ORDINALS)})\s+(?:one|article|story|item|result|piece)\b(?:\s+(?:in|on|of)\s+the\s+list)?", re.IGNORECASE
)


class ListedArticle(BaseModel):
    """A question that points at one article of the list the chat just gave ("Summarise the second one")."""

    question: str  # the question with the pointer as "this article": "Summarise this article"
    article: str  # its id


def listed_article(question: str, history: Sequence[Turn]) -> ListedArticle | None:
    """The article "the second one" / "the last article" is, in the latest list of articles the chat
    gave, when every turn since was about one of its articles ("Summarise the second one", then "When
    was the last one published?"); None otherwise."""
    found = _ORDINAL_REFERENCE.search(question)
    listing = _latest_listing(history)
    if found is None or listing is None or not listing.articles:
        return None
    nth = _ORDINALS[found["nth"].lower()]
    if nth >= len(listing.articles):
        return None
    return ListedArticle(question=question[: found.start()] + "this article" + question[found.end() :], article=listing.articles[nth])


def _latest_listing(history: Sequence[Turn]) -> Turn | None:
    """The latest list of articles within reach, if the turns after it stayed among its articles."""
    for back, turn in enumerate(reversed(history[-_REACH:])):
        if turn.listed:
            since = history[len(history) - back :]
            return turn if all(t.articles and set(t.articles) <= set(turn.articles) for t in since) else None
    return None


def resolve(question: str, history: Sequence[Turn]) -> Resolved:
    """Retrieval gets the question plus the latest turn's subject when the question leans on it.

    The history says where to look; the question's own words say what to look for. So the reader
    gets the bare question whenever it names anything itself ("What does it offer?"), and otherwise
    the previous question's words but not its answer ("When did she say that?" must not find the
    sentence that named her again). It reads the articles the previous answer came from, when
    retrieval found them.
    """
    if not history or not leans_on_history(question):
        return Resolved(search=question, read=question)
    *earlier, previous = history[-_REACH:]
    # A follow-up of a follow-up keeps the subject the conversation started with, and says it follows that.
    started = resolve(previous.question, earlier)
    topic = started.search
    follows = started.follows or previous.question
    own = {w.lower() for w in TOKEN_PATTERN.findall(question)}

    def with_words_of(text: str) -> str:
        extra = [w for w in subject_words(text) if w.lower() not in own]
        return f"{question} {' '.join(extra)}" if extra else question

    person = person_of(previous) if _PERSONAL_PATTERN.search(question) else None
    if person is not None:  # "What did he say?" after "Who is Jorio Dauster?": what Jorio Dauster said, not another man
        question = with_person(question, person)
        own |= {w.lower() for w in TOKEN_PATTERN.findall(person)}
    read = question if subject_words(question) else with_words_of(topic)
    return Resolved(search=with_words_of(f"{previous.answer or ''} {topic}"), read=read, articles=previous.articles, follows=follows)
