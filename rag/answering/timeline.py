""" "How did the Ecuador earthquake story develop?", "Timeline of the USAir bid": one line from each story
that names the topic, oldest first, each dated and cited; wire copies once (issue 34)."""

from __future__ import annotations

from rag.answering.context import Asked, Searcher
from rag.answering.listing import articles_answer, topic_retriever
from rag.config import MAX_K
from rag.query.intents import Timeline
from rag.query.story_timeline import TimelineLine, names_topic, story_line
from rag.schema import Answer, Passage

# The most stories one timeline shows: a topic with more is a topic too wide for one (narrow it by dates).
MAX_STORIES = 25
# A story whose top names all but one of the topic's words is on it when its top passage is this close to
# the topic (the cosine of their vectors): "OPEC's oil output" is not a story of China's crop output
# (0.24) or of Mobil's reorganised output (0.34); tuned on the da half of eval/gold/reuters-across.jsonl.
MOST_NAMED_COSINE = 0.40


def answer(intent: Timeline, asked: Asked, search: Searcher) -> Answer:
    """The stories are found as "which articles mention" finds them (BM25: the topic's own words must be
    there), within the dates the question names; when no story there names the topic, every date is
    searched and the scopes say so."""
    topic = intent.topic or (asked.history[-1].question if asked.history else "")
    retriever = topic_retriever(asked)
    lines: list[TimelineLine] = []
    scopes = asked.scopes
    if topic:
        passages, scopes = search.scoped(topic, asked, MAX_K, retriever)
        lines = _lines(topic, passages, search)
        if not lines and scopes.narrow(asked.filters) != asked.filters:
            passages, scopes = search.one_per_story(search.retrieve(topic, MAX_K, retriever, asked.filters)), scopes.unmatched()
            lines = _lines(topic, passages, search)
    citations = [search.citer.citation(n, line.passage, line.start, line.end, None) for n, line in enumerate(lines, start=1)]
    count = "1 story" if len(lines) == 1 else f"{len(lines)} stories"
    return articles_answer(asked, "timeline", f"How “{topic}” developed: {count}, oldest first", citations, topic, [line.passage for line in lines], scopes)


def _lines(topic: str, passages: list[Passage], search: Searcher) -> list[TimelineLine]:
    """One line for each story among the passages that names the topic, oldest first."""
    stories: dict[str, list[Passage]] = {}
    naming: dict[str, str | None] = {}
    for passage in passages:
        article = passage.article
        if article.id not in naming:
            naming[article.id] = names_topic(topic, article.headline, article.text)
        if naming[article.id]:
            stories.setdefault(article.id, []).append(passage)
    topic_vector = search.encoder.encode_query(topic)
    lines = []
    for story in sorted(stories.values(), key=lambda found: found[0].article.when):
        top = story if story[0].chunk.start == 0 else [*search.top_of(story[0].article)[:1], *story]
        if naming[story[0].article.id] == "most" and float(search.loaded().data.chunk_vectors_at([top[0].row])[0] @ topic_vector) < MOST_NAMED_COSINE:
            continue  # names most of the topic's words, but its top is about something else
        line = story_line(topic, [p.model_copy(update={"copies": story[0].copies}) for p in top])
        if line is not None:
            lines.append(line)
        if len(lines) == MAX_STORIES:
            break
    return lines
