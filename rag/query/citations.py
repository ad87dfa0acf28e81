"""Citations: which evidence is cited, and each citation as the contract and the page show it."""

from __future__ import annotations

import os
from pathlib import Path

from rag.query.reader import Evidence
from rag.query.span_reader import answer_key
from rag.schema import Article, Citation, Passage


class Citer:
    """Citations of a corpus's passages, with each article's path as the user would type it."""

    def __init__(self, corpus: Path, max_citations: int):
        self.corpus, self.max_citations = Path(corpus), max_citations

    def supporting(self, evidence: list[Evidence], passages: list[Passage], threshold: float) -> list[Evidence]:
        """The answer, then up to max_citations-1 other articles that give the same answer, one citation each.

        A second sentence of the same article, or another article's different answer, is not support:
        shown as [2] it reads as if it were (issue 13: "[1] [2] [3] with identical titles", "the
        Argentina story cited for the Foreign Ministry spokesperson")."""
        best = evidence[0]
        chosen = [best]
        if best.span is None:
            return chosen
        key = answer_key(passages[best.passage].chunk.slice(*best.span))
        cited = {passages[best.passage].article.id}
        for item in evidence[1:]:
            if item.score < threshold or len(chosen) == self.max_citations:
                break
            article = passages[item.passage].article.id
            if item.span is None or article in cited:
                continue
            if answer_key(passages[item.passage].chunk.slice(*item.span)) == key:
                cited.add(article)
                chosen.append(item)
        return chosen

    def display_path(self, rel: str) -> str:
        """The article's path as the user would type it: relative to the working folder when inside it."""
        path = self.corpus / rel
        relative = os.path.relpath(path)
        return str(path.resolve()) if relative.startswith("..") else relative

    def citation(self, n: int, passage: Passage, start: int, end: int, span: tuple[int, int] | None) -> Citation:
        article = passage.article
        return Citation(
            n=n,
            article_id=article.id,
            title=article.title,
            published=article.published,
            published_time=article.published_time,
            path=self.display_path(article.path),
            start=start,
            end=end,
            passage=passage.chunk.text,
            source=article.source,
            passage_start=passage.chunk.start,
            span_start=span[0] if span else None,
            span_end=span[1] if span else None,
            also_in=[_copy_name(copy, self.display_path(copy.path)) for copy in passage.copies],
        )

    def of_evidence(self, n: int, evidence: Evidence, passage: Passage) -> Citation:
        return self.citation(n, passage, evidence.start, evidence.end, evidence.span)

    def of_passage(self, n: int, passage: Passage) -> Citation:
        return self.citation(n, passage, passage.chunk.start, passage.chunk.end, None)


def _copy_name(article: Article, path: str) -> str:
    outlet = article.source or article.byline
    return f"{article.title} ({outlet}, {path})" if outlet else f"{article.title} ({path})"
