"""`rag eval --squad / --beir` end to end on small slices of the public benchmarks in ../shared/data.

The slices (a few SQuAD paragraphs, a few SciFact queries with their abstracts and some others)
are written to tmp folders, so the smoke runs embed a few dozen chunks, not the whole sets.
"""

import csv
import json

import pytest

from eval.datasets import load_beir, load_squad, squad_titles
from rag.cli import main
from tests.helpers import SHARED_DATA

SQUAD_V2 = SHARED_DATA / "squad-v2.0-dev-half" / "dev-v2.0-cs224n-half.json"
SCIFACT = SHARED_DATA / "beir-scifact"

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"benchmark data not found at {SHARED_DATA}")


@pytest.fixture(scope="module")
def squad_slice(tmp_path_factory):
    """Two articles of the SQuAD 2.0 half, 6 paragraphs each: answerable and impossible questions."""
    data = json.loads(SQUAD_V2.read_text(encoding="utf-8"))["data"][:2]
    for article in data:
        article["paragraphs"] = article["paragraphs"][:6]
    path = tmp_path_factory.mktemp("squad") / "slice.json"
    path.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scifact_slice(tmp_path_factory):
    """Eight SciFact test queries, their relevant abstracts and 30 others, in BEIR layout."""
    folder = tmp_path_factory.mktemp("scifact")
    with open(SCIFACT / "qrels/test.tsv", encoding="utf-8") as handle:
        qrels = list(csv.DictReader(handle, delimiter="\t"))[:8]
    relevant = {row["corpus-id"] for row in qrels}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    kept = [doc for doc in corpus if doc["_id"] in relevant] + [doc for doc in corpus if doc["_id"] not in relevant][:30]
    queries = [json.loads(line) for line in (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in kept), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries if q["_id"] in {row["query-id"] for row in qrels}), encoding="utf-8")
    (folder / "qrels").mkdir()
    (folder / "qrels/test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{r['query-id']}\t{r['corpus-id']}\t{r['score']}\n" for r in qrels), encoding="utf-8"
    )
    return folder


def test_squad_file_becomes_a_corpus_and_gold_items(squad_slice):
    bench = load_squad(squad_slice)
    assert len(bench.articles) == 12 and bench.articles[0].title == bench.articles[0].path.split("/")[0].replace("_", " ")
    answerable = [i for i in bench.items if i.answers]
    impossible = [i for i in bench.items if not i.answers]
    assert answerable and impossible and all(i.doc is None for i in impossible)
    texts = {a.id: a.text for a in bench.articles}
    assert all(any(answer in texts[i.doc] for answer in i.answers) for i in answerable)  # answers are spans of `doc`


def test_sample_is_fixed_by_seed_and_split_by_article(squad_slice):
    bench = load_squad(squad_slice)
    first = bench.select(limit=10, seed=3)
    assert [i.id for i in first] == [i.id for i in bench.select(limit=10, seed=3)]
    assert [i.id for i in first] != [i.id for i in bench.select(limit=10, seed=4)]
    second_article = {i.id for i in bench.select((1, 2))}
    assert second_article and all(i.doc is None or i.doc.startswith(bench.articles[-1].title.replace(" ", "_")) for i in bench.select((1, 2)))
    assert not second_article & {i.id for i in bench.select((0, 1))}


def test_questions_of_articles_tuned_on_can_be_left_out(squad_slice, tmp_path):
    bench = load_squad(squad_slice)
    tuned = tmp_path / "tuned.json"
    tuned.write_text(json.dumps({"data": [{"title": bench.group_titles[1], "paragraphs": []}]}), encoding="utf-8")
    outside = {i.id for i in bench.select(excluded_titles=squad_titles(tuned))}
    assert outside == {i.id for i in bench.select((0, 1))}


def test_eval_squad_smoke_run_with_report(squad_slice, tmp_path, capsys):
    out, report = tmp_path / "squad.json", tmp_path / "report"
    args = ["eval", "--squad", str(squad_slice), "--limit", "20", "--seed", "1", "--out", str(out)]
    args += ["--index", str(tmp_path / "index"), "--retriever", "bm25,dense,hybrid", "--report", str(report)]
    assert main(args) == 0
    runs = json.loads(out.read_text())["runs"]
    assert list(runs) == ["bm25", "dense", "hybrid"]
    for run in runs.values():
        assert run["questions"] == 20 and run["answerable"] + run["unanswerable"] == 20 and run["unanswerable"] > 0
        assert list(run["retrieval"]) == ["recall@1", "recall@5", "recall@10", "mrr@10"]
        assert run["retrieval"]["recall@10"] >= 0.9  # 12 paragraphs: the gold one is nearly always in the top 10
        assert set(run["answer"]) >= {"exact_match", "f1", "contains_answer", "abstain_accuracy", "false_abstain_rate"}
        assert run["index"]["articles"] == 12
    page = (report / "report.md").read_text(encoding="utf-8")
    assert "Threshold chosen on these questions" in page and "| hybrid |" in page
    assert "networks on openvino, int8, every core for each call" in page  # what the figures were measured on
    for plot in ("recall_at_k.png", "answers.png", "calibration.png", "latency.png", "threshold.png"):
        assert (report / plot).stat().st_size > 1000 and f"({plot})" in page
    assert "== hybrid on" in capsys.readouterr().out


def test_eval_beir_reports_ndcg_and_no_answers(scifact_slice, tmp_path):
    out = tmp_path / "beir.json"
    assert main(["eval", "--beir", str(scifact_slice), "--out", str(out), "--index", str(tmp_path / "index")]) == 0
    report = json.loads(out.read_text())
    assert "answer" not in report and report["questions"] == len(load_beir(scifact_slice).items)
    assert list(report["retrieval"]) == ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "recall@100"]
    assert report["retrieval"]["recall@100"] == 1.0  # 38 abstracts: every relevant one is within 100
    assert report["retrieval"]["ndcg@10"] > 0.5


def test_benchmark_mistakes_are_one_line_errors(squad_slice, tmp_path, capsys):
    assert main(["eval", "--squad", str(squad_slice), "--articles", "3", "--out", str(tmp_path / "r.json")]) != 0
    assert "--articles takes START:END" in capsys.readouterr().err
    assert main(["eval", "--beir", str(tmp_path), "--out", str(tmp_path / "r.json")]) != 0
    assert "is not a BEIR folder" in capsys.readouterr().err


def test_cold_start_breakdown_runs_rag_asks_steps_on_a_corpus(tmp_path):
    import shutil

    from eval.cold_start import phases
    from tests.helpers import SEEDS

    shutil.copytree(SEEDS, tmp_path / "corpus")
    steps = phases(tmp_path / "corpus", "Who published the 5G security report?")
    assert list(steps) == ["imports", "index (checked current, loaded)", "models (encoder and reader networks loaded)", "answer"]
    assert steps["index (checked current, loaded)"] > 0 and steps["answer"] > 0
    assert (tmp_path / "corpus" / ".rag-index").is_dir()  # indexed on the way, as `rag ask` does
