"""What every handler answers from: the request as it was asked, and the search services over the loaded index."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from rag.config import MAX_K, RetrieverMode, Settings
from rag.index.index_keeper import IndexKeeper, LoadedIndex
from rag.index.near_duplicates import WireCopies
from rag.query.citations import Citer
from rag.query.followup import Turn
from rag.query.question_scope import Scopes
from rag.query.retrieve import Filters, RetrievalRequest
from rag.schema import Article, Passage


@dataclass(frozen=True)
class Asked:
    """One question as the handlers see it: cleaned, with the filters it was asked under (the chosen
    articles as ids), the time and source it names itself, and the conversation before it."""

    question: str
    filters: Filters
    scopes: Scopes
    history: tuple[Turn, ...] = ()
    k: int | None = None
    retriever: RetrieverMode | None = None

    def within(self, articles: frozenset[str]) -> Asked:
        """The same question over only these articles."""
        return replace(self, filters=self.filters.model_copy(update={"articles": articles}))


class Searcher:
    """Retrieval over the current index as the handlers use it: within the question's scopes, wire copies
    shown once, an article's top passage; and the citer and encoder they cite and rank with."""

    def __init__(self, settings: Settings, keeper: IndexKeeper, citer: Citer):
        self.settings, self.keeper, self.citer = settings, keeper, citer
        self.encoder = keeper.encoder
        self.wire_copies = WireCopies()

    def loaded(self) -> LoadedIndex:
        return self.keeper.loaded()

    @property
    def threshold(self) -> float:
        """The confidence below which the reader says "not found"."""
        return self.loaded().reader.threshold

    def retrieve(self, query: str, k: int | None = None, retriever: RetrieverMode | None = None, filters: Filters | None = None) -> list[Passage]:
        request = RetrievalRequest(query=query, k=k or self.settings.k, mode=retriever or self.settings.retriever, filters=filters or Filters())
        return self.loaded().retriever.run(request)

    def scoped(self, query: str, asked: Asked, k: int | None = None, retriever: RetrieverMode | None = None) -> tuple[list[Passage], Scopes]:
        """Passages within the dates and from the source the question names, newest first for "latest";
        when no article matches them, every date and source is searched and the scopes say so."""
        filters, scopes = asked.filters, asked.scopes
        k, retriever = k or asked.k, retriever or asked.retriever
        narrowed = scopes.narrow(filters)
        passages = self.retrieve(query, k, retriever, narrowed)
        if not passages and narrowed != filters:
            passages, scopes = self.retrieve(query, k, retriever, filters), scopes.unmatched()
        if scopes.time and scopes.time.latest:
            passages = newest_first(passages)
        return self.one_per_story(passages), scopes

    def top_of(self, article: Article) -> list[Passage]:
        """The article's passages that best match its headline, its top (where the lead and the dateline
        are) first: what a question about the article as a whole cites."""
        found = self.retrieve(article.title, MAX_K, "hybrid", Filters(articles=frozenset([article.id])))
        return sorted(found, key=lambda p: p.chunk.start)

    def admitted(self, filters: Filters) -> list[Article]:
        """The indexed articles the filters admit, newest first (undated last)."""
        return [a for a in self.keeper.articles() if filters.admits(a)]

    def one_per_story(self, passages: list[Passage]) -> list[Passage]:
        """Wire copies of one story shown once: a passage of a copy of an article retrieved higher up is
        dropped, and that passage's article lists it (issue 11: "also in: …")."""
        kept: list[Passage] = []
        copies: dict[str, list[Article]] = {}  # each kept article's id: the copies shown in its place
        originals: list[Article] = []
        dropped: set[str] = set()
        for passage in passages:
            article = passage.article
            if article.id in dropped:
                continue
            if article.id not in copies:  # an article's first passage: is it a copy of one kept higher up?
                original = next((o for o in originals if self.wire_copies.same_story(o, article)), None)
                if original is not None:
                    copies[original.id].append(article)
                    dropped.add(article.id)
                    continue
                copies[article.id] = []
                originals.append(article)
            kept.append(passage)
        # every passage of an article carries its copies, whichever of them is cited
        return [p.model_copy(update={"copies": copies[p.article.id]}) if copies[p.article.id] else p for p in kept]


# "Latest" reorders only the passages that score at least this share of the best one: the k passages
# also hold weak matches (a newer story about something else must not come first).
LATEST_RELEVANT_SHARE = 0.5


def newest_first(passages: list[Passage]) -> list[Passage]:
    """The relevant passages newest first, then the rest in retrieval order; stable, so among equally
    new articles the retrieval order stays."""
    if not passages:
        return passages
    floor = LATEST_RELEVANT_SHARE * max(p.score for p in passages)
    relevant = [p for p in passages if p.score >= floor]
    rest = [p for p in passages if p.score < floor]
    return sorted(relevant, key=lambda p: p.article.published or dt.date.min, reverse=True) + rest
