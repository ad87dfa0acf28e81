"""Question in, cited Answer out: the one object the CLI, the UI and the eval runner call."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from rag.config import MAX_K, RetrieverMode, Settings
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
from rag.index.near_duplicates import WireCopies
from rag.query.article_facts import ArticleFact, article_fact
from rag.query.article_list import asks_for_newest, listing_topic, mentions
from rag.query.citations import Citer
from rag.query.followup import Turn, listed_article, resolve
from rag.query.more_sentences import asks_for_more, asks_for_summary, closest_sentences, latest_on, lead_sentences, names_topic, said_about
from rag.query.question_scope import Scopes
from rag.query.request import AskRequest
from rag.query.retrieve import Filters, RetrievalRequest
from rag.query.roles import by_role, roles
from rag.query.span_dates import day_of
from rag.schema import Answer, Article, Passage
from rag.text import terms


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says what to change."""


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
    if _SMALL_TALK.fullmatch(cleaned):  # "Thanks!" would otherwise quote "thanks to the wettest spring"
        raise QuestionError(f"“{cleaned}” asks nothing about the articles: ask a question about them, e.g. “What's the latest news?”")
    return cleaned


_SMALL_TALK = re.compile(
    r"\W*(?:hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|thanks?(?:\s+you)?(?:\s+(?:so\s+much|a\s+lot|very\s+much))?"
    r"|many\s+thanks|cheers|ok(?:ay)?|great|cool|nice|perfect|bye|goodbye|see\s+you)\W*",
    re.IGNORECASE,
)


_LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")


def _reads_as_english(question: str) -> bool:
    """Not a question in another script ("华为的创始人是谁？"): the encoder and the reader were trained on
    English only and would answer "not found" without saying why. A name in another script inside an
    English question ("Who is Владимир Путин?") is fine."""
    letters = [ch for ch in question if ch.isalpha()]
    latin = sum(1 for ch in letters if unicodedata.name(ch, "").startswith("LATIN"))
    return latin * 2 >= len(letters) or len(_LATIN_WORD.findall(question)) >= 2


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
        self.wire_copies = WireCopies()
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
        return self.loaded().retriever.run(self._request(query, k, retriever, filters))

    def _request(self, query: str, k: int | None, retriever: RetrieverMode | None, filters: Filters | None) -> RetrievalRequest:
        return RetrievalRequest(query=query, k=k or self.settings.k, mode=retriever or self.settings.retriever, filters=filters or Filters())

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
        pointed = listed_article(question, history)
        if pointed is not None and filters.articles is None:  # "Summarise the second one", after a list of articles
            only_it = filters.model_copy(update={"articles": frozenset([pointed.article])})
            return self.ask(pointed.question, k, retriever, only_it, history, time_filter, source_filter).model_copy(update={"question": question})
        scopes = self.loaded().scoper.scopes(question, filters, time_filter, source_filter)
        topic = listing_topic(scopes.without_time(question))
        if topic is not None:
            return self._article_list(question, topic, retriever, filters, scopes)
        if asks_for_newest(scopes.without_scopes(question)):
            return self._newest(question, filters, scopes)
        topic = latest_on(scopes.without_time(question))
        if topic is not None:
            return self._latest(question, topic, retriever, filters, scopes)
        subject = asks_for_summary(question)
        if subject is not None:
            return self._summary(question, subject, history, retriever, filters, scopes)
        subject = asks_for_more(question)
        if subject is not None:
            return self._more(question, subject, history, retriever, filters, scopes)
        resolved = resolve(question, history)
        # after a list of articles or an answer about an article itself ("Who wrote this article?"),
        # "When was it published?" asks about the article, not about what it says
        follow_up = resolved.search != question and not (history[-1].listed or history[-1].about_article)
        passages, scopes = self._scoped_retrieve(resolved.search, k, retriever, filters, scopes)
        answer = self.answer(resolved.read, resolved.focus(passages), follow_up)
        if not answer.found and resolved.search == question:
            answer = self._statements(question, retriever, filters, scopes) or self._by_role(question, passages, k, retriever, filters, scopes) or answer
        update = scopes.answer_fields()
        if resolved.search != question:
            update |= {"question": question, "query": resolved.search}
        return answer.model_copy(update=update) if update else answer

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
        return self._scoped_retrieve(question, k, retriever, filters, scopes)[0]

    def _scoped_retrieve(self, query: str, k: int | None, retriever: RetrieverMode | None, filters: Filters, scopes: Scopes) -> tuple[list[Passage], Scopes]:
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
        read = None
        if reading.evidence:
            chosen = self.citer.supporting(reading.evidence, passages, self.threshold)
            best = chosen[0]
            passage = passages[best.passage]
            read = Answer(
                question=question,
                found=True,
                answer=passage.chunk.slice(best.start, best.end),
                span=passage.chunk.slice(*best.span) if best.span else None,
                span_date=day_of(passage.chunk.slice(*best.span), passage.article.published) if best.span else None,
                score=reading.score,
                citations=[self.citer.of_evidence(n, e, passages[e.passage]) for n, e in enumerate(chosen, start=1)],
                passages=passages,
            )
        if read is not None and reading.found:
            return read
        return Answer(
            question=question,
            found=False,
            score=reading.score,
            related=[self.citer.of_passage(n, p) for n, p in enumerate(passages, start=1)],
            passages=passages,
            withheld=read,
        )

    def _article_list(self, question: str, topic: str, retriever: RetrieverMode | None, filters: Filters, scopes: Scopes) -> Answer:
        """Every article that names the topic, newest first, each cited at its first mention. BM25 by
        default: the topic's own words are what must be there."""
        passages, scopes = self._scoped_retrieve(topic, MAX_K, retriever if retriever and retriever != "hybrid" else "bm25", filters, scopes)
        found = mentions(topic, passages)
        citations = [self.citer.citation(n, m.passage, m.start, m.end, (m.mention_start, m.mention_end)) for n, m in enumerate(found, start=1)]
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

    def _summary(self, question: str, topic: str, history: Sequence[Turn], retriever: RetrieverMode | None, filters: Filters, scopes: Scopes) -> Answer:
        """ "What is this article about?", "Summarise the Dorrell refinery story": the story's lead, its first
        sentences, as a news story puts what it is about first. The story is the one the topic finds, else
        the only one searched, else the first the conversation's last answer cited; with several and
        nothing to choose by, QuestionError asks which."""
        article = None
        if not topic:
            admitted = {a.id: a for a in self.loaded().data.articles.values() if filters.admits(a)}
            cited = [admitted[i] for i in (history[-1].articles if history else []) if i in admitted]
            if len(admitted) > 1 and not cited:
                raise QuestionError(
                    f"which article? {len(admitted)} are searched: name its subject (“summarise the story about the refinery fire”), "
                    "or choose it (“Ask only about these articles” in the chat, --article on the command line)"
                )
            article = next(iter(admitted.values())) if len(admitted) == 1 else (cited[0] if cited else None)
        if article is None:
            found, scopes = self._scoped_retrieve(topic or question, None, retriever, filters, scopes)
            article = found[0].article if found else None
        if article is None:
            return Answer(question=question, found=False, score=0.0, **scopes.answer_fields())
        # the article's passages that best match its headline; the earliest holds the lead
        top = min(self.retrieve(article.title, MAX_K, "hybrid", Filters(articles=frozenset([article.id]))), key=lambda p: p.chunk.start)
        sentences = lead_sentences(top, self.settings.max_citations)
        citations = [self.citer.citation(n, top, start, end, None) for n, (start, end) in enumerate(sentences, start=1)]
        return Answer(
            question=question,
            found=bool(sentences),
            answer=" … ".join(top.chunk.slice(start, end) for start, end in sentences) or None,
            score=1.0 if sentences else 0.0,  # quoted as they stand, as "tell me more" quotes
            citations=citations,
            related=[] if sentences else [self.citer.of_passage(1, top)],
            more=article.title,
            fact="lead",  # about the article itself: a follow-up's "it" is this article
            passages=[top],
            **scopes.answer_fields(),
        )

    def _newest(self, question: str, filters: Filters, scopes: Scopes) -> Answer:
        """ "What's the latest news?": the k newest stories within the question's dates and source (every
        date and source when none is in them, said so), newest first, each cited at its lead; wire
        copies once."""
        articles = self.articles()  # newest first, undated last
        narrowed = scopes.narrow(filters)
        newest = [a for a in articles if narrowed.admits(a)]
        if not newest and narrowed != filters:
            newest, scopes = [a for a in articles if filters.admits(a)], scopes.unmatched()
        k = self.settings.k
        stories: list[Passage] = []
        for article in newest:
            if len(stories) == k:
                break
            # the article's passage that best matches its headline: its top, where the lead is
            stories = self.one_per_story([*stories, *self.retrieve(article.title, 1, "hybrid", Filters(articles=frozenset([article.id])))])
        citations = [self.citer.citation(n, p, *(lead_sentences(p) or [(p.chunk.start, p.chunk.end)])[0], None) for n, p in enumerate(stories, start=1)]
        heading = "The newest article" if len(stories) == 1 else f"The {len(stories)} newest articles"
        return Answer(
            question=question,
            found=bool(stories),
            answer=heading if stories else None,
            score=1.0 if stories else 0.0,
            citations=citations,
            listing="" if stories else None,
            passages=stories,
            **scopes.answer_fields(),
        )

    def _latest(self, question: str, topic: str, retriever: RetrieverMode | None, filters: Filters, scopes: Scopes) -> Answer:
        """ "What's the latest on the Port Kessing strike?": the newest article on the topic (the question's
        "latest" put the newest relevant ones first), its sentences closest to the topic, quoted as "tell me
        more about" quotes them; not one span read out of it ("February 8")."""
        passages, _ = self._scoped_retrieve(topic, None, retriever, filters, scopes)
        # newest first also for "Any news on …?", which names no "latest" for the time scope to see
        newest = next((p.article.id for p in newest_first(passages) if names_topic(p, topic)), None)
        if newest is not None:
            filters = filters.model_copy(update={"articles": frozenset([newest])})
        return self._more(question, topic, (), retriever, filters, scopes, on_topic=True)

    def _by_role(
        self, question: str, passages: list[Passage], k: int | None, retriever: RetrieverMode | None, filters: Filters, scopes: Scopes
    ) -> Answer | None:
        """ "When did Hua speak?" over a story that says "a Foreign Ministry spokesperson said Wednesday" and
        "spokesperson Hua Chunying" elsewhere: read again as "When did the spokesperson speak?", over the
        top article only (it gave the role); None when the question names none of its people or the
        second reading finds nothing either."""
        if not passages:
            return None
        top = passages[0].article
        reading = by_role(question, roles(top.text))
        if reading is None:
            return None
        again, _ = self._scoped_retrieve(reading.question, k, retriever, filters.model_copy(update={"articles": frozenset([top.id])}), scopes)
        answer = self.answer(reading.question, again)
        return answer.model_copy(update={"question": question, "read_as": reading}) if answer.found else None

    def _statements(self, question: str, retriever: RetrieverMode | None, filters: Filters, scopes: Scopes) -> Answer | None:
        """ "What did Xinhua say about 5G?", when no one sentence answers it: what that source's articles say
        on the topic, quoted as "tell me more about 5G" quotes it. Only for a speaker that is the source the
        search was narrowed to, so every sentence is theirs, and only from their articles that name the
        topic; None otherwise (the reader's "not found" stands)."""
        asked = said_about(scopes.without_time(question))
        source = scopes.source
        if asked is None or source is None or not source.applied or not set(terms(asked.speaker)) & set(terms(source.text)):
            return None
        # sentences ranked by closeness to a statement on the topic, not to its bare name: the lead's "China
        # called on countries to view 5G risks objectively, a spokesperson said" before "5G is a new generation …"
        statements = self._more(question, asked.topic, (), retriever, filters, scopes, on_topic=True, closest_to=f"What was said about {asked.topic}?")
        return statements if statements.found else None

    def _more(
        self,
        question: str,
        subject: str,
        history: Sequence[Turn],
        retriever: RetrieverMode | None,
        filters: Filters,
        scopes: Scopes,
        on_topic: bool = False,
        closest_to: str | None = None,
    ) -> Answer:
        """The other sentences on the subject (the conversation's when the question names none), from the
        articles the previous answer cited, none quoted before in the chat; on_topic: only from passages
        that hold a word of the subject; closest_to: the text the sentences are ranked by (the subject's search by default)."""
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
        if on_topic:
            passages = [p for p in passages if names_topic(p, subject)]
        vector = self.encoder.encode_query(closest_to or search)
        quoted = {q for turn in history for q in turn.quoted}
        chosen = closest_sentences(passages, lambda p: self.loaded().data.sentence_vectors_of(p.row) @ vector, quoted, self.settings.max_citations)
        citations = [self.citer.citation(n, passages[s.passage], s.start, s.end, None) for n, s in enumerate(chosen, start=1)]
        return Answer(
            question=question,
            found=bool(chosen),
            answer=" … ".join(passages[s.passage].chunk.slice(s.start, s.end) for s in chosen) or None,
            score=1.0 if chosen else 0.0,  # quoted as they stand, not read as an answer to a question
            citations=citations,
            related=[] if chosen else [self.citer.of_passage(n, p) for n, p in enumerate(passages, start=1)],
            more=subject,
            passages=passages,
            **scopes.answer_fields(),
        )

    def _fact_answer(self, question: str, fact: ArticleFact, passages: list[Passage]) -> Answer:
        passage = passages[fact.passage]
        if fact.start is None or fact.end is None:  # a header field: the article is cited, no sentence of it is quoted
            citation = self.citer.citation(1, passage, passage.chunk.start, passage.chunk.start, None)
        else:
            citation = self.citer.citation(1, passage, fact.start, fact.end, (fact.start, fact.start + len(fact.span)))
        # Read from the article's own fields, not inferred: the confidence a parsed field deserves.
        return Answer(question=question, found=True, answer=fact.answer, span=fact.span, score=1.0, citations=[citation], fact=fact.field, passages=passages)


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
