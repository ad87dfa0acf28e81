import datetime as dt

import numpy as np
import pytest

from rag.config import Settings
from rag.query.retrieve import Candidates, Filters, fuse


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_right_article(news_pipeline, mode):
    passages = news_pipeline.retrieve("interest rate central bank inflation", k=3, retriever=mode)
    assert passages[0].article.title == "Central bank holds rates steady"
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_hybrid_records_both_ranks(news_pipeline):
    [top] = news_pipeline.retrieve("Hua Chunying spokesperson", k=1)
    assert top.dense_rank is not None and top.bm25_rank is not None
    assert top.chunk.text in top.article.text


def test_date_filters(news_pipeline):
    since = news_pipeline.retrieve("storm", k=10, filters=Filters(since=dt.date(2022, 1, 1)))
    assert {p.article.title for p in since} == {"Storm closes coastal roads"}
    until = news_pipeline.retrieve("storm", k=10, filters=Filters(until=dt.date(2020, 12, 31)))
    assert {p.article.published.year for p in until} == {2020}
    assert news_pipeline.retrieve("storm", filters=Filters(since=dt.date(2030, 1, 1))) == []


def test_source_filter_is_case_insensitive(news_pipeline):
    passages = news_pipeline.retrieve("news", k=10, filters=Filters(source="xinhua"))
    assert passages and {p.article.source for p in passages} == {"Xinhua"}


def test_query_with_no_known_words_still_gets_dense_results(news_pipeline):
    assert news_pipeline.retrieve("zzzqqq xxyyzz", retriever="bm25") == []
    assert news_pipeline.retrieve("zzzqqq xxyyzz", retriever="hybrid")


@pytest.mark.parametrize("fusion", ["score", "rrf"])
def test_both_fusions_rank_by_both_retrievers(fresh_pipeline, fusion):
    pipeline = fresh_pipeline(fusion=fusion)
    pipeline.index()
    passages = pipeline.retrieve("How many roads did the storm close?", k=3)
    assert passages[0].article.title == "Storm closes coastal roads"
    assert passages[0].dense_rank is not None and passages[0].bm25_rank is not None
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def candidates(bm25, dense, sentence, bm25_rank, dense_rank) -> Candidates:
    return Candidates(
        rows=np.arange(len(bm25)),
        bm25=np.array(bm25, dtype=float),
        dense=np.array(dense, dtype=float),
        sentence=np.array(sentence, dtype=float),
        bm25_rank=np.array(bm25_rank),
        dense_rank=np.array(dense_rank),
    )


def test_score_fusion_weighs_bm25_against_its_best_and_the_cosines_as_they_are():
    settings = Settings(fusion="score", bm25_weight=1.0, dense_weight=0.25, sentence_weight=2.0)
    fused = fuse(candidates([10.0, 5.0, 0.0], [0.2, 0.4, 0.8], [0.5, 0.5, 0.1], [1, 2, 0], [3, 2, 1]), settings)
    assert np.allclose(fused, [1.0 + 0.05 + 1.0, 0.5 + 0.1 + 1.0, 0.0 + 0.2 + 0.2])
    no_terms = fuse(candidates([0.0, 0.0], [0.3, 0.1], [0.0, 0.0], [0, 0], [1, 2]), settings)
    assert np.allclose(no_terms, [0.075, 0.025])


def test_rrf_fusion_uses_ranks_only_and_a_missing_rank_adds_nothing():
    settings = Settings(fusion="rrf", rrf_k=60, bm25_weight=1.0, dense_weight=2.0)
    fused = fuse(candidates([9.0, 1.0], [0.1, 0.9], [0.0, 0.0], [1, 0], [2, 1]), settings)
    assert np.allclose(fused, [1 / 61 + 2 / 62, 2 / 61])
