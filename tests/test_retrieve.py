import datetime as dt

import pytest

from rag.retrieve import Filters


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
