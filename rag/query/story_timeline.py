""" "How did the Ecuador earthquake story develop?": the question that asks for a story's timeline, and
which of the retrieved stories name its topic, each with the sentence that says what it added.

A story is on the topic when its headline and text hold the content words of the topic (stemmed, as
the index compares words): "the Ecuador earthquake" is a story that names Ecuador and an earthquake,
wherever it names them. One that holds all but one of three or more at its top may be on it too (the
handler asks the story's vector). Its line is its lead when the lead names the topic, else its first sentence
that names most of it.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from rag.index.chunking import is_story_sentence
from rag.query.more_sentences import MIN_WORDS, lead_sentences
from rag.schema import Passage
from rag.text import content_terms, terms

_DEVELOP = r"(?:develop(?:ed)?|unfold(?:ed)?|evolved?|progress(?:ed)?|play(?:ed)?\s+out)"  # not "move" or "change": "How did the dollar move?" asks a fact
# "How did the forecast change over the week?": a timeline only with a stretch of time ("How did the
# dollar move?" asks a fact)
_CHANGE = r"(?:change[ds]?|move[ds]?|shift(?:ed)?)"
_OVER_TIME = r"""(?:over|during|through|in|across)\s+(?:the|this|that)\s+(?:past\s+|last\s+)?(?:week|days|few\s+days|month|period)
    | (?:over|during|in)\s+(?:the\s+)?(?:past|last)\s+(?:\w+\s+)?(?:days|weeks)
    | so\s+far | day\s+by\s+day | over\s+time | since\s+it\s+(?:began|started|broke)"""
_ASKS_FOR_TIMELINE = re.compile(
    rf"""^\W*(?:(?:so|and|ok|okay|please)\W+)*(?:
        how\s+(?:did|has|have|had)\s+(?P<developed>.+?)\s+{_DEVELOP}(?:\s+(?:{_OVER_TIME}))?
      | how\s+(?:did|has|have|had)\s+(?P<changed>.+?)\s+{_CHANGE}\s+(?:{_OVER_TIME})
      | (?:give\s+me\s+|show\s+me\s+|make\s+|build\s+|what\s+is\s+|what's\s+)?(?:a|the)?\s*(?:timeline|chronology|time\s+line)\s+(?:of|for|on)\s+(?P<of>.+?)
      | (?P<before>.+?)\s+(?:timeline|chronology)
      | what\s+(?:happened|has\s+happened|went\s+on)\s+(?:with|to|in|on)\s+(?P<happened>.+?)\s+(?:{_OVER_TIME})
      | (?:trace|follow|chronicle)\s+(?P<traced>.+?)(?:\s+(?:{_OVER_TIME}))?
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "the ferry story", "the USAir saga": the words that say it is a story are not its topic
_STORY_WORDS = re.compile(r"\s+(?:story|stories|saga|affair|news|coverage|situation|events?)$", re.IGNORECASE)
_LEADING = re.compile(r"^(?:the|a|an|this|that)\s+", re.IGNORECASE)
_BACK_REFERENCE = frozenset(["it", "this", "that", "things", "events", "the story", "this story", "that story"])


def asks_for_timeline(question: str, timed: bool = False) -> str | None:
    """The topic of a question asking how a story developed ("the Ecuador earthquake" of "How did the
    Ecuador earthquake story develop?"); "" for "How did it develop?"; None for any other question.
    `timed`: the question named dates, taken out of it ("How did the forecast change during March 5?")."""
    text = " ".join(question.split())
    found = _ASKS_FOR_TIMELINE.match(f"{text.rstrip(' ?.!')} over time" if timed else text)
    if found is None:
        return None
    topic = next(found[name] for name in ("developed", "changed", "of", "before", "happened", "traced") if found[name]).strip(" \"'“”‘’")
    if topic.lower() in _BACK_REFERENCE:
        return ""
    topic = _LEADING.sub("", _STORY_WORDS.sub("", topic))
    return topic if content_terms(topic) else None


# The top of a story: its dateline and lead sentence, about two wire paragraphs.
LEAD_CHARS = 400


class TimelineLine(BaseModel):
    """A story on the topic: the passage its line is quoted from, and the line's article offsets."""

    passage: Passage
    start: int
    end: int


def names_topic(topic: str, headline: str, text: str) -> str | None:
    """How a story names the topic: "all" when its headline and text hold every content word of it,
    "most" when its top (headline and lead, where a story puts what it is about) holds all but one of
    three or more (a story of "the Zeebrugge ferry disaster" may say "the Belgian port"); None otherwise."""
    wanted = content_terms(topic)
    if not wanted:
        return None
    top = set(terms(headline)) | set(terms(text[:LEAD_CHARS]))
    if wanted <= top | set(terms(text)):
        return "all"
    return "most" if len(wanted) >= 3 and len(wanted & top) >= len(wanted) - 1 else None


def story_line(topic: str, passages: list[Passage]) -> TimelineLine | None:
    """The line of one story, from its passages (its top first): the lead when it names a word of the
    topic, else the sentence that names most of it (the first of those); None when no sentence of
    them names any word of it."""
    wanted = content_terms(topic)
    named = lambda start, end, passage: len(wanted & set(terms(passage.chunk.slice(start, end))))  # noqa: E731
    top = passages[0]
    lead = lead_sentences(top) if top.chunk.start == 0 else []
    if lead and named(*lead[0], top):
        return TimelineLine(passage=top, start=lead[0][0], end=lead[0][1])
    best: tuple[int, TimelineLine] | None = None
    for passage in passages:
        chunk = passage.chunk
        for start, end in chunk.sentences:
            if not is_story_sentence(chunk.text, start - chunk.start, end - chunk.start) or len(chunk.slice(start, end).split()) < MIN_WORDS:
                continue
            count = named(start, end, passage)
            if count and (best is None or count > best[0]):
                best = (count, TimelineLine(passage=passage, start=start, end=end))
    return best[1] if best else None
