"""Questions that ask for more ("Tell me more", "What else did she say?"): the other relevant sentences.

Such a question wants no new fact: it wants the rest of what the articles say about the subject of
the conversation. The answer stays extractive: the sentences of the articles the previous answer
came from that are closest to the conversation's subject (by the index's sentence vectors), without
those already quoted, each quoted and cited, in the order the article tells them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel

from rag.index.chunking import is_story_sentence, is_teaser
from rag.schema import Passage
from rag.text import content_terms, terms

_ASKS_FOR_MORE = re.compile(
    r"""^\W*(?:(?:and|ok|okay|so|please|can\s+you|could\s+you)\W+)*(?:
        (?:tell|give|show)\s+me\s+more(?:\s+(?:details|detail|information|info))?
      | (?:i\s+want\s+|i'd\s+like\s+)?more(?:\s+(?:details|detail|information|info))?
      | (?:any|more)\s+(?:other\s+)?details | what\s+are\s+the\s+details | what\s+more | anything\s+else | go\s+on | elaborate
      | what\s+else\s+(?:did|does|do|has|have|is|was|were|can)\b.*?
    )(?P<topic>\s+(?:about|on|of|regarding)\s+.+?)?\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
_BACK_REFERENCE = frozenset(["that", "this", "it", "them", "him", "her", "these", "those"])
# "the report" stays a topic: a report is something a story mentions (as in article_facts)
_THIS_STORY = re.compile(r"(?:(?:this|that|the)\s+(?:news\s+)?(?:article|story|piece)|(?:this|that)\s+one)", re.IGNORECASE)
# "What did Xinhua say about 5G?", "What has Reuters reported on the tin quota?"
_SAID_ABOUT = re.compile(
    r"""^\W*what\s+(?:did|does|do|has|have|had)\s+(?P<speaker>\S.*?)\s+
        (?:say|said|write|written|wrote|report|reported)\s+(?:about|on|regarding)\s+(?P<topic>\S.*?)\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "What is this article about?", "Summarise the Dorrell refinery story", "Give me a summary of the strike";
# not "What is the report about?": a report is something a story mentions (as in article_facts)
_ASKS_FOR_SUMMARY = re.compile(
    r"""^\W*(?:(?:and|ok|okay|so|please|can\s+you|could\s+you)\W+)*(?:
        what(?:'s|\s+is|\s+was)\s+(?:this|that|it|the\s+(?:article|story|piece))(?:\s+(?:article|story|piece))?\s+about
      | (?:summari[sz]e|sum\s+up)(?:\s+(?P<what>.+?))?
      | (?:give\s+me\s+)?(?:a\s+|the\s+)?(?:summary|gist)(?:\s+of\s+(?P<of>.+?))?
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
_THE_STORY = re.compile(r"^(?:(?:the|this|that|a)\s+)?(?:(?:article|story|piece|news)(?:\s+(?:about|on|of)\s+(?P<about>.+))?|it|this|that)$", re.IGNORECASE)
_STORY_SUFFIX = re.compile(r"^(?:(?:the|this|that|a)\s+)?(?P<topic>.+?)\s+(?:article|story|piece)$", re.IGNORECASE)
# A sentence with fewer words is a caption, a heading or a sign-off rather than something the article says.
MIN_WORDS = 5


def asks_for_summary(question: str) -> str | None:
    """What a question asking what a story is about names: "" for the story itself ("What is this article
    about?", "Summarise it"), its topic for "Summarise the Dorrell refinery story"; None for any other question."""
    found = _ASKS_FOR_SUMMARY.match(" ".join(question.split()))
    if found is None:
        return None
    what = (found["what"] or found["of"] or "").strip()
    story = _THE_STORY.match(what)
    if not what or story:
        return (story["about"] or "").strip() if story else ""
    suffixed = _STORY_SUFFIX.match(what)
    return suffixed["topic"] if suffixed else what


def lead_sentences(passage: Passage, count: int = 1) -> list[tuple[int, int]]:
    """Article offsets of the passage's first `count` sentences that are the story's own: no dateline, no
    link to another story, no caption (fewer than MIN_WORDS words)."""
    chunk = passage.chunk
    own = [
        (s, e) for s, e in chunk.sentences if is_story_sentence(chunk.text, s - chunk.start, e - chunk.start) and len(chunk.slice(s, e).split()) >= MIN_WORDS
    ]
    return own[:count]


def names_topic(passage: Passage, topic: str) -> bool:
    """Whether the passage holds a word of the topic (stemmed, as the index compares words)."""
    return bool(content_terms(topic) & set(terms(passage.chunk.text)))


def asks_for_more(question: str) -> str | None:
    """The subject a question asking for more names ("the trains" of "Tell me more about the trains"),
    "" when it names none; None for any other question."""
    found = _ASKS_FOR_MORE.match(" ".join(question.split()))
    if found is None:
        return None
    topic = re.sub(r"^\s*(?:about|on|of|regarding)\s+", "", found["topic"] or "", flags=re.IGNORECASE).strip()
    # "more on that", "more about this story": the conversation's subject, in the articles it cited
    return "" if topic.lower() in _BACK_REFERENCE or _THIS_STORY.fullmatch(topic) else topic


# "What's the latest on the tin quota?", "Any news about the strike?", "latest updates on X"
_LATEST_ON = re.compile(
    r"""^\W*(?:(?:what(?:'s|\s+is|\s+are)\s+the|give\s+me\s+the|tell\s+me\s+the|the)\s+
        (?:latest|newest|most\s+recent)(?:\s+(?:news|word|updates?|developments?|reports?))?
      | (?:latest|newest|most\s+recent)(?:\s+(?:news|word|updates?|developments?|reports?))?
      | any\s+(?:news|updates?|developments?)
    )\s+(?:on|about|regarding|in|with)\s+(?P<topic>\S.*?)\W*$""",
    re.IGNORECASE | re.VERBOSE,
)


def latest_on(question: str) -> str | None:
    """The topic of "What's the latest on the tin quota?" ("the tin quota"); None for any other question."""
    found = _LATEST_ON.match(" ".join(question.split()))
    return found["topic"] if found else None


class SaidAbout(NamedTuple):
    speaker: str  # "Xinhua"
    topic: str  # "5G"


def said_about(question: str) -> SaidAbout | None:
    """Who and what of "What did Xinhua say about 5G?"; None for any other question."""
    found = _SAID_ABOUT.match(" ".join(question.split()))
    return SaidAbout(found["speaker"], found["topic"]) if found else None


class Sentence(BaseModel):
    """One sentence of a retrieved passage: its passage's rank, article offsets, closeness to the subject."""

    passage: int
    start: int
    end: int
    closeness: float


def closest_sentences(
    passages: list[Passage],
    cosines: Callable[[Passage], np.ndarray],
    quoted: Collection[tuple[str, int, int]] = (),
    count: int = 3,
) -> list[Sentence]:
    """Up to `count` sentences of the passages closest to the subject (`cosines` gives each of a
    passage's sentences its cosine with it), none already quoted (article id, start, end) and no links
    to other stories or captions; in the order of the first passage's article, then the next's."""
    seen = set(quoted)
    candidates = []
    for rank, passage in enumerate(passages):
        chunk = passage.chunk
        for (start, end), closeness in zip(chunk.sentences, cosines(passage), strict=True):
            text = chunk.slice(start, end)
            if (passage.article.id, start, end) in seen or is_teaser(text) or len(text.split()) < MIN_WORDS:
                continue
            seen.add((passage.article.id, start, end))  # overlapping chunks hold a sentence twice
            candidates.append(Sentence(passage=rank, start=start, end=end, closeness=float(closeness)))
    chosen = sorted(candidates, key=lambda s: -s.closeness)[:count]
    article_order = {p.article.id: n for n, p in reversed(list(enumerate(passages)))}
    return sorted(chosen, key=lambda s: (article_order[passages[s.passage].article.id], s.start))
