import pytest

from eval.runner import EvalRunner, GoldError, GoldItem, format_table, read_gold
from tests.helpers import write_wire_copies


def test_gold_errors_name_file_and_line(tmp_path):
    gold = tmp_path / "g.jsonl"
    gold.write_text('{"id": "q1", "question": "Q?", "answers": [], "doc": null}\n{"id": "q2", "answers": []}\n', encoding="utf-8")
    with pytest.raises(GoldError, match=r"g.jsonl:2: question: Field required"):
        read_gold(gold)


def test_runner_scores_answers_and_retrieval(news_pipeline):
    gold = [
        GoldItem(id="a", question="How many coastal roads did the rain close?", answers=["14"], doc="storm.json"),
        GoldItem(id="b", question="What rate did the central bank keep?", answers=["1.5 percent"], doc="markets.md"),
        GoldItem(id="c", question="Who won the 2022 World Cup?", answers=[], doc=None),
    ]
    runner = EvalRunner(news_pipeline)
    results = runner.ask_all(gold)
    report = runner.report(results)
    assert (report.questions, report.answerable, report.unanswerable) == (3, 2, 1)
    assert report.retrieval["recall@1"] == 1.0 and report.retrieval["mrr@10"] == 1.0
    assert report.answer["contains_answer"] == 1.0 and report.answer["citation_accuracy"] == 1.0
    assert report.answer["abstain_accuracy"] == 1.0
    assert results[0].exact_match == 1.0
    assert report.index["articles"] == 3 and report.latency_ms["p50"] > 0


def test_the_models_load_before_the_first_timed_question(news_pipeline, monkeypatch):
    asked = []
    answer = news_pipeline.answer
    monkeypatch.setattr(news_pipeline, "answer", lambda question, passages, *args: asked.append(question) or answer(question, passages, *args))
    gold = [GoldItem(id="a", question="Who is the Foreign Ministry spokesperson?", answers=["Hua Chunying"], doc=None)]
    results = EvalRunner(news_pipeline).ask_all(gold)
    assert len(results) == 1 and len(asked) == 2  # an untimed first question pays for loading, then the timed one


def test_questions_go_through_ask_and_the_report_has_a_table_per_kind(news_pipeline):
    gold = [
        GoldItem(id="a", question="How many roads did Coast Daily say were closed?", answers=["14"], doc="storm.json", kind="source"),
        GoldItem(id="b", question="Who wrote this article?", answers=["Xinhua"], doc="000_2479b7865a29b2a5.txt", kind="article"),
        GoldItem(id="c", question="Which articles mention the central bank?", answers=["central bank"], doc="markets.md", kind="listing"),
        GoldItem(id="d", question="Who won the 2022 World Cup?", answers=[], doc=None, kind="unanswerable"),
        GoldItem(id="e", question="这篇文章讲什么？", answers=[], doc=None),  # refused by the product: not found
    ]
    runner = EvalRunner(news_pipeline)
    results = runner.ask_all(gold)
    report = runner.report(results)
    assert [r.contains_answer for r in results[:3]] == [1.0, 1.0, 1.0]  # the source filter, the byline, the list
    assert not results[4].found and results[4].ranked_docs == []
    assert sorted(report.by_kind) == ["article", "listing", "source", "unanswerable"]
    assert report.by_kind["source"]["questions"] == 1 and report.by_kind["unanswerable"]["abstain_accuracy"] == 1.0
    assert "by_kind" in report.contract() and "kind listing" in format_table(report)
    assert "by_kind" not in runner.report(results[4:]).contract()


def test_a_wire_copy_of_the_gold_article_counts_as_the_gold_article(tmp_path, settings, encoder):
    from rag.pipeline import Pipeline

    corpus = tmp_path / "copies"
    corpus.mkdir()
    pipeline = Pipeline(settings, corpus=write_wire_copies(corpus), encoder=encoder)
    pipeline.index()
    gold = [GoldItem(id=doc, question="How many coastal roads did the rain close?", answers=["14"], doc=doc) for doc in ("wire.md", "copy.md")]
    runner = EvalRunner(pipeline)
    report = runner.report(runner.ask_all(gold))
    assert report.retrieval["recall@1"] == 1.0 and report.answer["citation_accuracy"] == 1.0
