"""Answers as HTML for the page. Every piece of article or user text goes through html.escape here.

The chat message is one HTML block with no blank line in it, so the chat's Markdown renderer
passes it through untouched: an article's `*`, `[x](y)` or `<script>` shows as typed.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence

from rag.index.index_keeper import IndexStatus, Removal
from rag.index.indexing import IndexReport
from rag.schema import Answer, Article, Citation
from rag.text import spoken_date
from rag.trust import confidence_numbers, trust
from ui.uploads import UploadOutcome

NOT_FOUND = "Not found in the articles"
# How an answer from an article's own field says where it came from ("from the article's publication date").
_FACT_NAMES = {"published": "publication date", "updated": "update date", "title": "headline"}
# Characters of the passage shown on each side of the cited sentence.
CONTEXT_CHARS = 280

Range = tuple[int, int]


def highlight(
    text: str,
    offset: int,
    sentence: Range | None = None,
    span: Range | None = None,
    sentences: Sequence[Range] = (),
    spans: Sequence[Range] = (),
    anchors: dict[int, str] | None = None,
) -> str:
    """Escaped text with each sentence in <mark>, each span in <strong>, and each anchor's markup
    (already HTML) inserted where it starts.

    `text` starts at character `offset` of its article; the ranges and anchor positions are article offsets too.
    """
    sentences = [*sentences, *([sentence] if sentence else [])]
    spans = [*spans, *([span] if span else [])]
    anchors = anchors or {}
    inside = lambda x: min(max(x - offset, 0), len(text))  # noqa: E731 (an offset clipped into the text)
    cuts = sorted({0, len(text), *(inside(x) for r in (*sentences, *spans) for x in r), *(inside(x) for x in anchors)})
    pieces = []
    for a, b in itertools.pairwise(cuts):
        pieces += [markup for at, markup in anchors.items() if inside(at) == a]
        piece = html.escape(text[a:b])
        if any(lo <= offset + a and offset + b <= hi for lo, hi in spans):
            piece = f"<strong>{piece}</strong>"
        if any(lo <= offset + a and offset + b <= hi for lo, hi in sentences):
            piece = f"<mark>{piece}</mark>"
        pieces.append(piece)
    return "".join(pieces)


def _one_block(markup: str) -> str:
    # A blank line would end the HTML block and hand the rest to Markdown.
    return re.sub(r"\s*\n\s*", " ", markup)


def question_message(question: str) -> str:
    return _one_block(f'<div class="question">{html.escape(question)}</div>')


def _confidence(score: float, threshold: float | None, answered: bool = True) -> str:
    """How far to trust the answer, in words, with the numbers behind them a click away; for a "not
    found", only the numbers (how close the best candidate came to the bar)."""
    words = ""
    if answered:
        level = trust(score)
        words = f'<span class="level level-{level.level}">{html.escape(level.words)}</span> '
    summary = "why?" if answered else "how close?"
    return f'{words}<details class="numbers"><summary>{summary}</summary><span class="confidence">{confidence_numbers(score, threshold)}</span></details>'


def answer_message(answer: Answer, threshold: float | None = None) -> str:
    """The chat's reply: the quoted sentence with the span in bold, citation markers, confidence."""
    context = ""
    if answer.query:  # in words a person would write: the earlier question, and this one as it was read
        about = f"“{answer.follows}”" if answer.follows else answer.query.removeprefix(answer.question).strip()
        reworded = f", as “{html.escape(answer.read_question)}”" if answer.read_question else ""
        context = f'<div class="followup">read as a follow-up to {html.escape(about)}{reworded}</div>'
    for scope in (answer.time_scope, answer.source_scope, answer.read_as):
        if scope is not None:
            context += f'<div class="scope">{html.escape(scope.label())}</div>'
    markers = " ".join(f'<a class="marker" href="#source-{c.n}">[{c.n}]</a>' for c in answer.citations)
    if answer.kind == "timeline" and answer.found:
        lines = "".join(
            f'<li><span class="when">{html.escape(_spoken(c))}</span> · {html.escape(c.title)}: '
            f'“{html.escape(c.passage[c.start - c.passage_start : c.end - c.passage_start])}” <a class="marker" href="#source-{c.n}">[{c.n}]</a></li>'
            for c in answer.citations
        )
        body = f'<p class="listing">{html.escape(answer.answer or "")}</p><ol class="timeline">{lines}</ol>'
    elif answer.kind == "article_list" or (answer.kind == "newest" and answer.found):
        text = answer.answer if answer.found else f"No article mentions “{answer.listing}”."
        body = f'<p class="listing">{html.escape(text or "")} {markers}</p>'
    elif answer.kind in ("more", "summary") and answer.found:
        quotes = "".join(
            f'<p class="quote">“{html.escape(c.passage[c.start - c.passage_start : c.end - c.passage_start])}” '
            f'<a class="marker" href="#source-{c.n}">[{c.n}]</a></p>'
            for c in answer.citations
        )
        body = f'{quotes}<p class="meta">more on: {html.escape(answer.more or "")}</p>'
    elif not answer.found and answer.reason:  # known why: "this article names no author"
        body = f'<p class="not-found"><strong>{html.escape(answer.reason[:1].upper() + answer.reason[1:])}</strong>.</p>'
    elif not answer.found:
        related = " The nearest passages are shown under <em>Related</em>." if answer.related else ""
        body = f'<p class="not-found"><strong>{NOT_FOUND}.</strong>{related}</p><div class="meta">{_confidence(answer.score, threshold, answered=False)}</div>'
    else:
        first = answer.citations[0]
        quote = highlight(answer.answer or "", first.start, span=first.span)
        quote = f"“{quote}”" if answer.quotes_text else quote
        day = f" ({spoken_date(answer.span_date)})" if answer.span_date else ""
        span = f"answer: <strong>{html.escape(answer.span)}</strong>{day} · " if answer.span else ""
        origin = f"from the article's {_FACT_NAMES.get(answer.fact, answer.fact)} · " if answer.kind == "article_field" and answer.fact else ""
        body = f'<p class="quote">{quote} {markers}</p><div class="meta">{span}{origin}{_confidence(answer.score, threshold)}</div>{_reports(answer)}'
    return _one_block(f'<div class="answer">{body}{context}</div>')


_DIFFERENCES = {"number": "another number", "date": "another date", "name": "another name"}


def _spoken(c: Citation) -> str:
    """When a story was published, as a timeline or a report says it: "6 March 1987, 23:27" (stories of
    one day follow each other by the hour)."""
    if c.published is None:
        return "undated"
    return f"{spoken_date(c.published)}, {c.published_time:%H:%M}" if c.published_time else spoken_date(c.published)


def _reports(answer: Answer) -> str:
    """Stories that answer differently, newest first: "The stories differ (another number), newest first:
    latest: 32 (Reuters, 7 March 1987) [3] · earlier: at least 26 (Reuters, 6 March 1987) [1]"."""
    if not answer.reports:
        return ""
    items = "".join(
        f"<li>{'latest: ' if n == 0 else 'earlier: '}<strong>{html.escape(' '.join((c.span_text or '').split()))}</strong> "
        f'({html.escape(", ".join(x for x in (c.source, _spoken(c)) if x))}) <a class="marker" href="#source-{c.n}">[{c.n}]</a></li>'
        for n, c in enumerate(answer.reports)
    )
    found = _DIFFERENCES.get(answer.differ or "", "other answers")
    return f'<div class="reports"><p>The stories differ ({found}), newest first:</p><ul>{items}</ul></div>'


def wait_message(reason: str) -> str:
    """Nothing is wrong with the question; it cannot be answered yet."""
    return _one_block(f'<div class="answer"><p class="problem">{html.escape(reason[:1].upper() + reason[1:])}.</p></div>')


def error_message(problem: str) -> str:
    return _one_block(f'<div class="answer"><p class="problem">Please rephrase: {html.escape(problem)}.</p></div>')


def _date(c: Citation) -> str:
    return c.published.isoformat() if c.published else "undated"


def citation_text(c: Citation) -> str:
    """A plain-text reference to paste elsewhere: quote, title, source, date, file and characters."""
    quoted = " ".join(c.passage[c.start - c.passage_start : c.end - c.passage_start].split())
    parts = [c.title, c.source, _date(c), f"{c.path}, characters {c.start}-{c.end}" if quoted else c.path]
    return (f"“{quoted}” — " if quoted else "") + ", ".join(p for p in parts if p)


def _window(text: str, a: int, b: int, context: int) -> tuple[int, int]:
    """A slice around text[a:b] with up to `context` characters on each side, cut at white space."""
    lo, hi = max(0, a - context), min(len(text), b + context)
    if lo > 0:
        cut = text.find(" ", lo, a)
        lo = cut + 1 if cut != -1 else a
    if hi < len(text):
        cut = text.rfind(" ", b, hi)
        hi = cut if cut != -1 else b
    return lo, hi


def _passage(citations: list[Citation], answer_span: str | None) -> str:
    """One passage of an article around its cited sentences (its start, for related passages): each
    sentence marked, each answer span bold, each citation's anchor (the chat's [n] links here) before it."""
    c = citations[0]
    text, offset = c.passage, c.passage_start
    found = answer_span is not None
    sentences = [(x.start, x.end) for x in citations] if found else []
    spans = [r for x in citations if found and (r := x.span) and (x.n == 1 or (answer_span and _span_text(x) == answer_span))]
    if sentences:
        a, b = min(lo for lo, _ in sentences) - offset, max(hi for _, hi in sentences) - offset
        lo, hi = _window(text, a, b, CONTEXT_CHARS)
    else:
        lo, hi = _window(text, 0, 0, 2 * CONTEXT_CHARS)
    anchors = {x.start if found else offset + lo: f'<span class="anchor" id="source-{x.n}"></span>' for x in citations}
    lead, tail = ("…" if lo > 0 else ""), ("…" if hi < len(text) else "")
    return lead + highlight(text[lo:hi], offset + lo, sentences=sentences, spans=spans, anchors=anchors) + tail


def _span_text(c: Citation) -> str:
    """The citation's span as the panel compares spans: one line, lower case ("" without a span)."""
    return " ".join((c.span_text or "").split()).lower()


def _card(citations: list[Citation], answer_span: str | None) -> str:
    """One article's card: its title, its citations' markers, and each of its passages with the cited
    sentences marked; answer_span None for related passages. A span is bold where it is the answer: in
    the first citation, and in each other one that says the same (several articles agreeing)."""
    c = citations[0]
    markers = "".join(f'<span class="marker">[{x.n}]</span>' for x in citations)
    meta = [_date(c), c.source, c.path]
    quotes = "".join(f'<blockquote class="passage">{_passage(group, answer_span)}</blockquote>' for group in _joined_passages(citations))
    copies = ""
    if answer_span is not None:
        copies = "".join(
            f'<button class="copy" type="button" data-citation="{html.escape(citation_text(x))}">'
            f"Copy citation{f' [{x.n}]' if len(citations) > 1 else ''}</button>"
            for x in citations
        )
    return (
        f'<article class="source">'
        f"<h3>{markers} {html.escape(c.title)}</h3>"
        f'<p class="meta">{" · ".join(html.escape(m) for m in meta if m)}</p>'
        f"{quotes}{_also_in(c)}{copies}</article>"
    )


def _joined_passages(citations: list[Citation]) -> list[list[Citation]]:
    """One article's passages in the article's order, overlapping ones joined into one, each with the
    citations it holds: chunks overlap by a sentence, so two neighbours retrieved together showed it twice."""
    joined: list[list[Citation]] = []
    for x in sorted(citations, key=lambda c: c.passage_start):
        last = joined[-1][0] if joined else None
        if last is None or x.passage_start >= last.passage_start + len(last.passage):
            joined.append([x])
            continue
        end = last.passage_start + len(last.passage)
        text = last.passage + x.passage[end - x.passage_start :]
        joined[-1] = [c.model_copy(update={"passage": text, "passage_start": last.passage_start}) for c in [*joined[-1], x]]
    return joined


def by_article(citations: Sequence[Citation]) -> list[list[Citation]]:
    """The citations grouped by article, in the order the articles are first cited."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.article_id, []).append(c)
    return list(groups.values())


def _also_in(c: Citation) -> str:
    """The same story under other outlets or headlines, shown once (issue 11: wire copies)."""
    if not c.also_in:
        return ""
    return f'<p class="also-in">also in: {"; ".join(html.escape(copy) for copy in c.also_in)}</p>'


EMPTY_SOURCES = '<div class="sources empty"><h2>Sources</h2><p>Ask a question: the articles behind the answer show here, with the answer highlighted.</p></div>'


def sources_panel(answer: Answer | None) -> str:
    """The citations of the latest answer, or the nearest passages as "related" when nothing was found."""
    if answer is None:
        return EMPTY_SOURCES
    if answer.found:
        answer_span = " ".join((answer.span or answer.listing or "").split()).lower()  # a listing bolds each mention
        cited = {c.n for c in answer.citations}
        others = sorted((c for c in answer.reports if c.n not in cited), key=lambda c: c.n)
        heading, cards = "Sources", [_card(group, answer_span) for group in by_article(answer.citations)]
        cards += [_card([c], _span_text(c)) for c in others]
    else:
        heading, cards = "Related", [_card(group, None) for group in by_article(answer.related)]
        if not cards:
            cards = ["<p>No passage came close to the question.</p>"]
    note = "" if answer.found else '<p class="hint">Nothing here answers the question; these passages came nearest.</p>'
    return f'<div class="sources"><h2>{heading}</h2>{note}{"".join(cards)}</div>'


LIBRARY_COLUMNS = ["Title", "Published", "Source or byline", "File"]


def library_rows(articles: Sequence[Article]) -> list[list[str]]:
    """The library table: one row an article, as the pipeline orders them (plain text: the table escapes it)."""
    rows = []
    for article in articles:
        when = article.published.isoformat() if article.published else "undated"
        if article.published and article.published_time:
            when += f" {article.published_time:%H:%M}"
        where = article.path + (f" (record {article.record})" if article.record is not None else "")
        rows.append([article.title, when, article.source or article.byline or "", where])
    return rows


def article_choices(articles: Sequence[Article]) -> list[tuple[str, str]]:
    """The chosen-articles menu: (what it shows, the article's id), as the pipeline orders them."""
    return [(f"{a.title or a.path} ({a.published.isoformat() if a.published else 'undated'})", a.id) for a in articles]


def file_choices(articles: Sequence[Article]) -> list[tuple[str, str]]:
    """The remove menu: (what it shows, the file's path), one a file, by its article's title ("Storm
    closes coast roads · uploads/storm.json"); a file of several articles by its first and their count."""
    titles: dict[str, list[str]] = {}
    for article in articles:
        titles.setdefault(article.path, []).append(article.title)
    labels = {path: names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more" for path, names in titles.items()}
    return sorted(((f"{label} · {path}", path) for path, label in labels.items()), key=lambda choice: choice[0].lower())


def removal_question(path: str, titles: Sequence[str]) -> str:
    """What a removal would take out, asked before it is done."""
    what = f"“{titles[0]}”" if len(titles) == 1 else f"its {len(titles)} articles"
    return f'<p class="removal ask">Remove {html.escape(what)} ({html.escape(path)}) from the library? The file is kept and the removal can be undone.</p>'


def removal_report(removal: Removal | None, problem: str | None = None, undo: bool = False) -> str:
    """What a removal (or its undo) did, or why it did not happen."""
    if removal is None:
        return f'<p class="removal problem">{"Not restored" if undo else "Not removed"}: {html.escape(problem or "")}.</p>'
    summary = removal.summary()
    return f'<p class="removal">{html.escape(summary[:1].upper() + summary[1:])}.</p>'


def header(title: str, status: IndexStatus | None, progress: str | None = None) -> str:
    """The page title and the index status line (articles, chunks, model, corpus; "no index yet"), with
    an index run's progress under it."""
    if status is None:
        line = "no index yet: questions are answered once the first index is built"
    else:
        articles = f"{status.articles} article{'s' if status.articles != 1 else ''}"
        line = f"{articles} · {status.chunks} chunks · model {status.model} ({status.precision}) · corpus {status.corpus}"
        if status.backend != "embedded":  # the folder is the default; another store is named, with where it is
            line += f" · index on {status.index}"
    running = f'<p class="status progress" id="index-progress">{html.escape(progress)}</p>' if progress else ""
    return (
        f'<div class="header"><div><h1>{html.escape(title)}</h1>'
        '<p class="tagline">Answers quoted from the articles, with their sources.</p></div>'
        f'<div><p class="status">{html.escape(line)}</p>{running}</div></div>'
    )


def upload_report(outcomes: list[UploadOutcome], report: IndexReport | None) -> str:
    """HTML list of what happened to each file (names and reasons escaped)."""
    rows = []
    for o in outcomes:
        if o.stored is None:
            state = f'<span class="bad">not added</span>: {html.escape("; ".join(o.problems))}'
        else:
            state = f'<span class="ok">added</span> as {html.escape(o.stored)}'
            if o.problems:
                state += f' <span class="bad">left out</span>: {html.escape("; ".join(o.problems))}'
            if o.notes:
                state += f" <em>note</em>: {html.escape('; '.join(o.notes))}"
        rows.append(f"<li><strong>{html.escape(o.name)}</strong> {state}</li>")
    summary = ""
    if report is not None:
        summary = f"<p>{report.embedded_chunks} new chunks embedded, {report.reused_chunks} reused, in {report.seconds:.1f}s.</p>"
    return f'<div class="uploads"><ul>{"".join(rows)}</ul>{summary}</div>'
