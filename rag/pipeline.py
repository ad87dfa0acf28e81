"""Question in, cited Answer out: the one object the CLI, the UI and the eval runner call."""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from rag.article_facts import ArticleFact, article_fact
from rag.article_list import listing_topic, mentions
from rag.config import MAX_K, SENTENCE_READER_THRESHOLD, RetrieverMode, Settings, packaged_model_path
from rag.embedding import Encoder
from rag.followup import Turn, resolve
from rag.indexing import IndexBuilder, IndexReport
from rag.library import Library
from rag.more_sentences import asks_for_more, closest_sentences
from rag.near_duplicates import WireCopies
from rag.question_scope import QuestionScoper, Scopes
from rag.ingest import ArticleLoader, CorpusLoad
from rag.reader import Evidence, Reader, SentenceReader
from rag.reader_model import SHIPPED_READER
from rag.removal import RemovalError, remove_file
from rag.request import AskRequest
from rag.span_reader import QuestionCoverage, SentenceSimilarity, SpanReader, answer_key, read_calibration
from rag.retrieve import Filters, RetrievalRequest, Retriever
from rag.schema import Answer, Article, Citation, Passage
from rag.store import IndexData, IndexStore, IndexStoreError, IndexUnwritable


class IndexProgress(BaseModel):
    """How far an index run has got: chunks embedded of those it must embed (0 of 0 while reading)."""

    embedded: int = 0
    total: int = 0

    def label(self) -> str:
        if not self.total:
            return "updating the index: reading the articles…"
        return f"updating the index: {self.embedded} of {self.total} chunks embedded ({100 * self.embedded // self.total}%)…"


class Removal(BaseModel):
    """A file taken out of the library: its articles' titles, where the file is kept, the index update."""

    path: str
    titles: list[str]
    kept: str
    report: IndexReport

    def summary(self) -> str:
        what = f"“{self.titles[0]}”" if len(self.titles) == 1 else f"its {len(self.titles)} articles"
        return f"removed {self.path} ({what}) from the index; the file is kept in {self.kept}: move it back to restore it"


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says what to change."""


class IndexStatus(BaseModel):
    corpus: str
    index: str
    articles: int
    chunks: int
    model: str
    dense_index: str


def clean_question(question: str, max_chars: int) -> str:
    """Control characters become spaces and runs of white space one; errors name what is wrong."""
    if question is None:
        raise QuestionError("the question is empty")
    cleaned = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise QuestionError("the question is empty")
    if len(cleaned) > max_chars:
        raise QuestionError(f"the question is {len(cleaned)} characters long; the limit is {max_chars}")
    if not any(ch.isalnum() for ch in cleaned):
        raise QuestionError("the question has no words or numbers to search for")
    if not _reads_as_english(cleaned):
        raise QuestionError("only questions in English are understood: the models read English")
    return cleaned


_LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")


def _reads_as_english(question: str) -> bool:
    """Not a question in another script ("华为的创始人是谁？"): the encoder and the reader were trained on
    English only and would answer "not found" without saying why. A name in another script inside an
    English question ("Who is Владимир Путин?") is fine."""
    letters = [ch for ch in question if ch.isalpha()]
    latin = sum(1 for ch in letters if unicodedata.name(ch, "").startswith("LATIN"))
    return latin * 2 >= len(letters) or len(_LATIN_WORD.findall(question)) >= 2


class LoadedIndex:
    """One index generation with the retriever and reader built on it; swapped whole on reload."""

    def __init__(self, generation: str, data: IndexData, retriever: Retriever, reader: Reader):
        self.generation, self.data, self.retriever, self.reader = generation, data, retriever, reader
        self.scoper = QuestionScoper(data.articles.values())


class Pipeline:
    """Indexes a corpus folder and answers questions over it. Models load on first use."""

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
        # No folder named: the library, outside the checkout (the shipped articles and the uploads).
        self.library = Library(self.settings.data_dir) if self.settings.corpus is None else None
        self.corpus = self.library.folder if self.library else Path(self.settings.corpus)
        self.store = IndexStore(self.settings.index_dir_for(self.corpus))
        # An encoder may be shared between pipelines (tests, benchmarks): the model loads once.
        self.encoder = encoder or Encoder(self.settings.resolved_model_path(), self.settings.embed_batch_size)
        self.loader = ArticleLoader(self.settings.max_file_bytes, skip_dir_names=(self.store.path.name,))
        self._loaded: LoadedIndex | None = None
        self._load_lock = threading.Lock()
        self.indexing: IndexProgress | None = None  # an index run in progress in this process
        self.wire_copies = WireCopies()

    # ---- indexing -------------------------------------------------------------------------------

    def index(self, rebuild: bool = False, progress: bool = False) -> IndexReport:
        """Bring the index up to date with the corpus folder (incremental unless rebuild)."""
        self._refresh_library()
        return self._index_folder(rebuild, progress)

    def _index_folder(self, rebuild: bool, progress: bool) -> IndexReport:
        return self.index_articles(self.loader.load_folder(self.corpus), rebuild=rebuild, progress=progress)

    def index_articles(self, load: CorpusLoad, rebuild: bool = False, progress: bool = False) -> IndexReport:
        """Index articles that did not come from the corpus folder (benchmarks build them in memory).
        Meanwhile `indexing` says how far it got (the page shows it)."""
        self.indexing = IndexProgress()

        def track(embedded: int, total: int) -> None:
            self.indexing = IndexProgress(embedded=embedded, total=total)

        try:
            report = IndexBuilder(self.settings, self.encoder).update(load, self.store, str(self.corpus), rebuild, progress, track)
        finally:
            self.indexing = None
        if self._loaded is not None:
            self.loaded()  # a serving pipeline switches to the new index now; `rag index` need not load it at all
        return report

    def remove(self, relative: str) -> Removal:
        """Take a file's articles out of the index: the file moves into CORPUS/.removed/ (kept, not
        deleted), then the index is updated; RemovalError when it is no indexed file."""
        articles = [a for a in self.articles() if a.path == relative]
        if not articles:
            raise RemovalError(f"no indexed article comes from the file '{relative}'")
        emptied = len(articles) == len(self.loaded().data.articles)
        kept = remove_file(self.corpus, relative)
        # An update that finds no article keeps the old index (a folder gone missing must not empty it);
        # after removing the last file, empty is what was asked for.
        return Removal(path=relative, titles=[a.title for a in articles], kept=str(kept), report=self.index(rebuild=emptied))

    def _refresh_library(self) -> None:
        if self.library is not None:
            self.library.refresh()

    def is_current(self) -> bool:
        """Whether an index exists and was built from exactly the files now in the corpus folder."""
        if not self.store.exists():
            return False
        try:
            manifest = self.store.read_manifest()  # IndexIncompatible when another version wrote it
        except IndexStoreError:
            return False
        if manifest.mismatch(self.settings):
            return False  # built with another model or chunking: index() rebuilds it
        return self.loader.fingerprints(self.corpus) == manifest.files

    def ensure_index(self, progress: bool = False) -> IndexReport | None:
        """Index the corpus when there is no index or its files changed; None when it was current.

        When the index cannot be updated now (another process is indexing, the disk is full, the folder is
        read-only), the current index answers meanwhile: the report says why it was left as it was.
        """
        self._refresh_library()
        if self.is_current():
            return None
        try:
            return self._index_folder(rebuild=False, progress=progress)  # the library was refreshed just above
        except IndexUnwritable as exc:
            if not self.store.exists():
                raise
            return IndexReport.kept(self.store.read_manifest(), self.store.path, f"{exc.cause}; answering from it until it can be updated")

    # ---- loading --------------------------------------------------------------------------------

    def loaded(self) -> LoadedIndex:
        """The current index with its retriever and reader, reloaded when a newer generation was saved."""
        generation = self.store.current_generation().name
        loaded = self._loaded
        if loaded is not None and loaded.generation == generation:
            return loaded
        with self._load_lock:
            if self._loaded is None or self._loaded.generation != generation:
                data = self.store.load(self.settings)
                self._loaded = LoadedIndex(generation, data, Retriever(data, self.encoder, self.settings), self._make_reader(data))
            return self._loaded

    def _make_reader(self, data: IndexData) -> Reader:
        s = self.settings
        if s.reader == "sentence":
            return SentenceReader(data, self.encoder, reader_threshold(s), s.reader_weights)
        # The shipped reader takes its frozen word embeddings from the packaged MiniLM, whatever encoder is set.
        return SpanReader(
            s.reader_model_path or SHIPPED_READER, packaged_model_path(), s.abstain_threshold,
            similarity=SentenceSimilarity(data, self.encoder), coverage=QuestionCoverage(data),
        )

    @property
    def threshold(self) -> float:
        """The confidence below which the reader says "not found"."""
        return self.loaded().reader.threshold

    def status(self) -> IndexStatus:
        loaded = self.loaded()
        manifest = loaded.data.manifest
        return IndexStatus(
            corpus=str(self.corpus),
            index=str(self.store.path),
            articles=manifest.articles,
            chunks=manifest.chunks,
            model=manifest.model,
            dense_index=manifest.dense_index,
        )

    def articles(self) -> list[Article]:
        """The indexed articles, newest first (undated last): the library as the page lists it."""
        return sorted(
            self.loaded().data.articles.values(),
            key=lambda a: (a.published is not None, a.published or dt.date.min, a.published_time or dt.time(), a.title),
            reverse=True,
        )

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
        return self.loaded().retriever.run(self._request(query, k, retriever, filters))

    def _request(self, query: str, k: int | None, retriever: RetrieverMode | None, filters: Filters | None) -> RetrievalRequest:
        return RetrievalRequest(
            query=query, k=k or self.settings.k, mode=retriever or self.settings.retriever, filters=filters or Filters()
        )

    def ask(
        self,
        question: str,
        k: int | None = None,
        retriever: RetrieverMode | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] = (),
        time_filter: bool = True,
        source_filter: bool = True,
    ) -> Answer:
        """Answer a question; with the earlier turns of a chat, a follow-up is searched with their subject.

        A time the question names ("in February 2020", "last week") filters by publication date unless
        time_filter is off or the request sets dates itself; "latest" puts the newest articles first. A
        source it names ("What did Xinhua say …") filters by source and byline unless source_filter is off
        or the request names a source itself."""
        question = clean_question(question, self.settings.max_question_chars)
        filters = filters or Filters()
        scopes = self.loaded().scoper.scopes(question, filters, time_filter, source_filter)
        topic = listing_topic(question.replace(scopes.time.text, " ") if scopes.time and scopes.time.text else question)
        if topic is not None:
            return self._article_list(question, topic, retriever, filters, scopes)
        subject = asks_for_more(question)
        if subject is not None:
            return self._more(question, subject, history, retriever, filters, scopes)
        resolved = resolve(question, history)
        # after a list of articles, "When was it published?" asks about one of them, not about what it says
        follow_up = resolved.search != question and not history[-1].listed
        passages, scopes = self._scoped_retrieve(resolved.search, k, retriever, filters, scopes)
        answer = self.answer(resolved.read, resolved.focus(passages), follow_up)
        update = scopes.answer_fields()
        if resolved.search != question:
            update |= {"question": question, "query": resolved.search}
        return answer.model_copy(update=update) if update else answer

    def search(
        self, question: str, k: int | None = None, retriever: RetrieverMode | None = None, filters: Filters | None = None,
        time_filter: bool = True, source_filter: bool = True,
    ) -> list[Passage]:
        """The passages `ask` reads for a question asked on its own, to any depth k, within the time and
        source the question names: what the eval ranks."""
        question = clean_question(question, self.settings.max_question_chars)
        filters = filters or Filters()
        scopes = self.loaded().scoper.scopes(question, filters, time_filter, source_filter)
        return self._scoped_retrieve(question, k, retriever, filters, scopes)[0]

    def _scoped_retrieve(
        self, query: str, k: int | None, retriever: RetrieverMode | None, filters: Filters, scopes: Scopes
    ) -> tuple[list[Passage], Scopes]:
        """Passages within the dates and from the source the question names, newest first for "latest";
        when no article matches them, every date and source is searched and the scopes say so."""
        narrowed = scopes.narrow(filters)
        passages = self.retrieve(query, k, retriever, narrowed)
        if not passages and narrowed != filters:
            passages, scopes = self.retrieve(query, k, retriever, filters), scopes.unmatched()
        if scopes.time and scopes.time.latest:
            passages = newest_first(passages)
        return self.one_per_story(passages), scopes

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

    def answer(self, question: str, passages: list[Passage], follow_up: bool = False) -> Answer:
        """Read the answer out of already retrieved passages (ask = clean + retrieve + answer); a question
        about the top article itself (its byline, date, headline, dateline) is answered from its metadata."""
        fact = article_fact(question, passages, follow_up)
        if fact is not None:
            return self._fact_answer(question, fact, passages)
        reading = self.loaded().reader.read(question, passages)
        if not reading.found:
            return Answer(
                question=question,
                found=False,
                score=reading.score,
                related=[self._passage_citation(n, p) for n, p in enumerate(passages, start=1)],
                passages=passages,
            )
        chosen = self._citing_evidence(reading.evidence, passages)
        best = chosen[0]
        passage = passages[best.passage]
        return Answer(
            question=question,
            found=True,
            answer=passage.chunk.slice(best.start, best.end),
            span=passage.chunk.slice(best.span_start, best.span_end) if best.span_start is not None else None,
            score=reading.score,
            citations=[self._evidence_citation(n, e, passages[e.passage]) for n, e in enumerate(chosen, start=1)],
            passages=passages,
        )

    def _article_list(self, question: str, topic: str, retriever: RetrieverMode | None, filters: Filters, scopes: Scopes) -> Answer:
        """Every article that names the topic, newest first, each cited at its first mention. BM25 by
        default: the topic's own words are what must be there."""
        passages, scopes = self._scoped_retrieve(topic, MAX_K, retriever if retriever and retriever != "hybrid" else "bm25", filters, scopes)
        found = mentions(topic, passages)
        citations = [self._citation(n, m.passage, m.start, m.end, (m.mention_start, m.mention_end)) for n, m in enumerate(found, start=1)]
        count = "1 article mentions" if len(found) == 1 else f"{len(found)} articles mention"
        return Answer(
            question=question,
            found=bool(found),
            answer=f"{count} “{topic}”, newest first" if found else None,
            score=1.0 if found else 0.0,
            citations=citations,
            listing=topic,
            passages=passages,
            **scopes.answer_fields(),
        )

    def _more(
        self, question: str, subject: str, history: Sequence[Turn], retriever: RetrieverMode | None, filters: Filters, scopes: Scopes
    ) -> Answer:
        """The other sentences on the subject (the conversation's when the question names none), from the
        articles the previous answer cited, none quoted before in the chat."""
        if not subject and not history:
            raise QuestionError("there is nothing to say more about yet: ask a question first, or name a subject (“tell me more about …”)")
        search = subject
        if not subject:
            previous = history[-1]
            subject = previous.question  # shown, and carried on by a "tell me more" after this one
            search = f"{previous.answer or ''} {resolve(previous.question, history[:-1]).search}".strip()
            if previous.articles and filters.articles is None:
                filters = filters.model_copy(update={"articles": frozenset(previous.articles)})
        passages, scopes = self._scoped_retrieve(search, None, retriever, filters, scopes)
        vector = self.encoder.encode_query(search)
        sentences = self.loaded().data.sentences
        quoted = {q for turn in history for q in turn.quoted}
        chosen = closest_sentences(passages, lambda p: sentences.of_chunk(p.row) @ vector, quoted, self.settings.max_citations)
        citations = [self._citation(n, passages[s.passage], s.start, s.end, None) for n, s in enumerate(chosen, start=1)]
        return Answer(
            question=question,
            found=bool(chosen),
            answer=" … ".join(passages[s.passage].chunk.slice(s.start, s.end) for s in chosen) or None,
            score=1.0 if chosen else 0.0,  # quoted as they stand, not read as an answer to a question
            citations=citations,
            related=[] if chosen else [self._passage_citation(n, p) for n, p in enumerate(passages, start=1)],
            more=subject,
            passages=passages,
            **scopes.answer_fields(),
        )

    def _fact_answer(self, question: str, fact: ArticleFact, passages: list[Passage]) -> Answer:
        passage = passages[fact.passage]
        if fact.start is None:  # a header field: the article is cited, no sentence of it is quoted
            citation = self._citation(1, passage, passage.chunk.start, passage.chunk.start, None)
        else:
            citation = self._citation(1, passage, fact.start, fact.end, (fact.start, fact.start + len(fact.span)))
        # Read from the article's own fields, not inferred: the confidence a parsed field deserves.
        return Answer(question=question, found=True, answer=fact.answer, span=fact.span, score=1.0, citations=[citation], fact=fact.field, passages=passages)

    def _citing_evidence(self, evidence: list[Evidence], passages: list[Passage]) -> list[Evidence]:
        """The answer, then up to max_citations-1 other articles that give the same answer, one citation each.

        A second sentence of the same article, or another article's different answer, is not support:
        shown as [2] it reads as if it were (issue 13: "[1] [2] [3] with identical titles", "the
        Argentina story cited for the Foreign Ministry spokesperson")."""
        best = evidence[0]
        chosen = [best]
        if best.span_start is None:
            return chosen
        key = answer_key(passages[best.passage].chunk.slice(best.span_start, best.span_end))
        cited = {passages[best.passage].article.id}
        for item in evidence[1:]:
            if item.score < self.threshold or len(chosen) == self.settings.max_citations:
                break
            article = passages[item.passage].article.id
            if item.span_start is None or article in cited:
                continue
            if answer_key(passages[item.passage].chunk.slice(item.span_start, item.span_end)) == key:
                cited.add(article)
                chosen.append(item)
        return chosen

    def _display_path(self, rel: str) -> str:
        """The article's path as the user would type it: relative to the working folder when inside it."""
        path = self.corpus / rel
        relative = os.path.relpath(path)
        return str(path.resolve()) if relative.startswith("..") else relative

    def _citation(self, n: int, passage: Passage, start: int, end: int, span: tuple[int, int] | None) -> Citation:
        article = passage.article
        return Citation(
            n=n,
            article_id=article.id,
            title=article.title,
            published=article.published,
            path=self._display_path(article.path),
            start=start,
            end=end,
            passage=passage.chunk.text,
            source=article.source,
            passage_start=passage.chunk.start,
            span_start=span[0] if span else None,
            span_end=span[1] if span else None,
            also_in=[_copy_name(copy, self._display_path(copy.path)) for copy in passage.copies],
        )

    def _evidence_citation(self, n: int, evidence: Evidence, passage: Passage) -> Citation:
        span = (evidence.span_start, evidence.span_end) if evidence.span_start is not None else None
        return self._citation(n, passage, evidence.start, evidence.end, span)

    def _passage_citation(self, n: int, passage: Passage) -> Citation:
        return self._citation(n, passage, passage.chunk.start, passage.chunk.end, None)


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


def _copy_name(article: Article, path: str) -> str:
    outlet = article.source or article.byline
    return f"{article.title} ({outlet}, {path})" if outlet else f"{article.title} ({path})"


def reader_threshold(settings: Settings) -> float:
    """The confidence below which the configured reader says "not found": the setting, else the reader's own."""
    if settings.abstain_threshold is not None:
        return settings.abstain_threshold
    if settings.reader == "sentence":
        return SENTENCE_READER_THRESHOLD
    return read_calibration(settings.reader_model_path or SHIPPED_READER).threshold
