"""Question in, cited Answer out: the one object the CLI, the UI and the eval runner call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.answering.context import Asked, Searcher
from rag.answering.dispatch import respond
from rag.answering.read import read
from rag.config import RetrieverMode, Settings
from rag.embedding import Encoder
from rag.index.index_keeper import (
    IndexKeeper,
    IndexProgress,
    IndexStatus,
    LoadedIndex,
    Removal,
)
from rag.index.indexing import IndexReport
from rag.index.ingest import CorpusLoad
from rag.query.citations import Citer
from rag.query.followup import listed_article
from rag.query.request import AskRequest, QuestionError, clean_question
from rag.query.retrieve import Filters
from rag.query.router import RoutedQuestion, route
from rag.schema import Answer, Article, Passage

__all__ = ["Pipeline", "QuestionError", "clean_question"]


class Pipeline:
    """Question in, cited Answer out, over an IndexKeeper's current index. Models load on first use."""

    def __init__(
        self,
        settings: Settings | None = None,
        corpus: Path | None = None,
        index_path: Path | None = None,
        encoder: Encoder | None = None,
    ):
        settings = settings or Settings()
        updates = {k: v for k, v in (("corpus", corpus), ("index_path", index_path)) if v is not None}
        self.settings = settings.model_copy(update=updates) if updates else settings
        self.keeper = IndexKeeper(self.settings, encoder)
        self.citer = Citer(self.keeper.corpus, self.settings.max_citations)
        self.searcher = Searcher(self.settings, self.keeper, self.citer)
        self.corpus, self.store, self.encoder, self.loader = self.keeper.corpus, self.keeper.store, self.keeper.encoder, self.keeper.loader

    # ---- the index: its lifecycle is the keeper's (rag/index/index_keeper.py) ----------------------------

    def index(self, rebuild: bool = False, progress: bool = False, ray: str | None = None) -> IndexReport:
        return self.keeper.index(rebuild, progress, ray)

    def ensure_index(self, progress: bool = False) -> IndexReport | None:
        return self.keeper.ensure_index(progress)

    def is_current(self) -> bool:
        return self.keeper.is_current()

    def index_articles(self, load: CorpusLoad, rebuild: bool = False, progress: bool = False) -> IndexReport:
        return self.keeper.index_articles(load, rebuild, progress)

    def remove(self, relative: str) -> Removal:
        return self.keeper.remove(relative)

    def restore(self, relative: str) -> Removal:
        return self.keeper.restore(relative)

    def loaded(self) -> LoadedIndex:
        return self.keeper.loaded()

    def load_models(self) -> None:
        self.keeper.load_models()

    def status(self) -> IndexStatus:
        return self.keeper.status()

    def articles(self) -> list[Article]:
        return self.keeper.articles()

    @property
    def indexing(self) -> IndexProgress | None:
        """An index run in progress in this process, how far it got."""
        return self.keeper.indexing

    @property
    def threshold(self) -> float:
        """The confidence below which the reader says "not found"."""
        return self.loaded().reader.threshold

    def filters(self, request: AskRequest) -> Filters:
        """A request's filters, its chosen articles found in the index; QuestionError names one it lacks."""
        filters = request.filters()
        if request.articles is None:
            return filters
        named: dict[str, set[str]] = {}  # an id names its article, a file's path every article in it
        for article in self.loaded().data.articles.values():
            named.setdefault(article.id, set()).add(article.id)
            named.setdefault(article.path, set()).add(article.id)
        chosen: set[str] = set()
        for name in request.articles:
            if name not in named:
                raise QuestionError(f"no indexed article has the id or file '{name}': the library lists them")
            chosen |= named[name]
        return filters.model_copy(update={"articles": frozenset(chosen)})

    # ---- asking ---------------------------------------------------------------------------------

    def retrieve(self, query: str, k: int | None = None, retriever: RetrieverMode | None = None, filters: Filters | None = None) -> list[Passage]:
        return self.searcher.retrieve(query, k, retriever, filters)

    def ask(self, request: AskRequest | str, **fields: Any) -> Answer:
        """Answer a request (or a bare question with the request's fields as keywords): cleaned, read for
        the time and source it names, resolved against the chat's earlier turns, routed to its intent and
        answered by that intent's handler (rag/query/router.py, rag/answering/)."""
        request = request if isinstance(request, AskRequest) else AskRequest.of(question=request, **fields)
        question = clean_question(request.question, self.settings.max_question_chars)
        filters = self.filters(request)
        pointed = listed_article(question, request.history)
        if pointed is not None and filters.articles is None:  # "Summarise the second one", after a list of articles
            only_it = request.model_copy(update={"question": pointed.question, "articles": (pointed.article,)})
            return self.ask(only_it).model_copy(update={"question": question})
        scopes = self.loaded().scoper.scopes(question, filters, request.time_filter, request.source_filter)
        asked = Asked(question, filters, scopes, request.history, request.k, request.retriever)
        return respond(route(RoutedQuestion(question, scopes, request.history)), asked, self.searcher)

    def search(
        self,
        question: str,
        k: int | None = None,
        retriever: RetrieverMode | None = None,
        filters: Filters | None = None,
        time_filter: bool = True,
        source_filter: bool = True,
    ) -> list[Passage]:
        """The passages `ask` reads for a question asked on its own, to any depth k, within the time and
        source the question names: what the eval ranks."""
        question = clean_question(question, self.settings.max_question_chars)
        filters = filters or Filters()
        scopes = self.loaded().scoper.scopes(question, filters, time_filter, source_filter)
        return self.searcher.scoped(question, Asked(question, filters, scopes, k=k, retriever=retriever))[0]

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        """The reader's answer out of already retrieved passages (ask = clean + retrieve + answer)."""
        return read(question, passages, self.searcher)

    def one_per_story(self, passages: list[Passage]) -> list[Passage]:
        """Wire copies of one story shown once (Searcher.one_per_story)."""
        return self.searcher.one_per_story(passages)
