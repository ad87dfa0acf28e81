"""Questions that ask for articles ("Which articles mention 5G?"): every article that names the topic, newest first.

Such a question wants a list, not one sentence. The topic is searched with BM25 (which finds the
words wherever they are, as many passages as a request may ask for), and an article is listed
when its text names the topic itself, with the first sentence that does.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from rag.schema import Passage

_ASK_FOR_ARTICLES = re.compile(
    r"""^\W*(?:
        (?:which|what)\s+(?:news\s+)?(?:articles|stories|pieces|reports)\s+
            (?:mention|mentions|mentioned|cover|covers|covered|are\s+about|were\s+about|talk\s+about|discuss|refer\s+to|name)
      | (?:list|show|find|give)(?:\s+me)?\s+(?:all\s+|the\s+)?(?:news\s+)?(?:articles|stories)\s+(?:about|on|mentioning|that\s+mention|covering)
      | (?:which|what)\s+(?:news\s+)?(?:articles|stories|reports)\s+(?:are\s+there|do\s+you\s+have|do\s+we\s+have|exist)\s+(?:about|on|mentioning|covering)
    )\s+(?P<topic>.+?)\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "What's the latest news?", "Show me the newest articles", "What's new?": the newest articles, no topic
_ASK_FOR_NEWEST = re.compile(
    r"""^\W*(?:(?:so|and|ok|okay|please)\W+)*(?:
        (?:what(?:'s|\s+is|\s+are)|show\s+me|give\s+me|tell\s+me|list)\s+(?:the\s+)?(?:latest|newest|most\s+recent|recent)
            (?:\s+(?:news|headlines|stories|articles|reports))?
      | (?:the\s+)?(?:latest|newest|most\s+recent)\s+(?:news|headlines|stories|articles|reports)
      | what(?:'s|\s+is)\s+new | anything\s+new | any\s+news
    )(?:\s+(?:today|now|please))?\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»"


def listing_topic(question: str) -> str | None:
    """What the question wants articles about ("5G" of "Which articles mention 5G?"); None for other questions."""
    found = _ASK_FOR_ARTICLES.match(" ".join(question.split()))
    if found is None:
        return None
    topic = _LEADING_ARTICLE.sub("", found["topic"].strip(_QUOTES + " ")).strip(_QUOTES + " ")
    return topic if any(ch.isalnum() for ch in topic) else None


def asks_for_newest(question: str) -> bool:
    """Whether the question asks for the newest articles on no topic in particular ("What's the latest news?")."""
    return _ASK_FOR_NEWEST.match(" ".join(question.split())) is not None


class Mention(BaseModel):
    """An article that names the topic: the retrieved passage, and article offsets of the sentence and the mention."""

    passage: Passage
    start: int
    end: int
    mention_start: int
    mention_end: int


def mentions(topic: str, passages: list[Passage]) -> list[Mention]:
    """Each article among the passages that names the topic, at its first mention, newest article first."""
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, topic.split())) + r"(?!\w)", re.IGNORECASE)
    first: dict[str, Mention] = {}
    for passage in passages:
        chunk = passage.chunk
        found = pattern.search(chunk.text)
        if found is None:
            continue
        at, until = chunk.start + found.start(), chunk.start + found.end()
        known = first.get(passage.article.id)
        if known is not None and known.mention_start <= at:
            continue
        start, end = next(((s, e) for s, e in chunk.sentences if s <= at < e), (chunk.start, chunk.end))
        first[passage.article.id] = Mention(passage=passage, start=min(start, at), end=max(end, until), mention_start=at, mention_end=until)
    return sorted(first.values(), key=lambda m: m.passage.article.when, reverse=True)
