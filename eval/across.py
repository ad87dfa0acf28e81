"""Answers across stories (issue 34), scored on eval/gold/reuters-across.jsonl (its .md has the format).

- disagree: the answer must show every story of `reports` (a story of `same_as` may stand for the report
  it agrees with), each with one of its answers, newest first. Scored: the share of questions so shown,
  and the recall and precision of the report stories shown.
- agree: the stories say the same; shown as a disagreement is a false alarm. Scored: the false-alarm share.
- timeline: the answer must be a timeline holding the `stories` in date order; a story neither there nor
  in `also` is unrelated. Scored: recall, in-order share, unrelated stories per timeline, precision.
- ordinary: with `--ordinary GOLD` (the reuters-dev gold), the share of its answers shown with
  reports: how often an ordinary question gets the disagreement block.

A story shown stands for its wire copies (`also in`). Latency p50 is per kind.

    .venv/bin/python -m eval.across --corpus <copy of ../shared/data/reuters-dev/corpus> \
        [--gold eval/gold/reuters-across.jsonl] [--half da|db] [--ordinary <reuters-dev gold>] [--out R.json] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from eval.metrics import normalize_answer, percentile
from rag.pipeline import Pipeline
from rag.schema import Answer, Citation

GOLD = Path(__file__).resolve().parent / "gold" / "reuters-across.jsonl"


def _stories(answer: Answer, citations: list[Citation]) -> list[set[str]]:
    """For each citation, the files it stands for: its article's and those of the wire copies shown with it."""
    copies = {p.article.id: {c.path for c in p.copies} for p in answer.passages}
    paths = {p.article.id: p.article.path for p in answer.passages}
    return [{paths.get(c.article_id, Path(c.path).name), *copies.get(c.article_id, set())} for c in citations]


def _holds(span: str | None, answers: list[str]) -> bool:
    shown = normalize_answer(span or "")
    return bool(shown) and any(normalize_answer(a) in shown or shown in normalize_answer(a) for a in answers)


def score_disagree(case: dict, answer: Answer) -> dict[str, Any]:
    shown = _stories(answer, answer.reports)
    gold = case["reports"]
    same_as: dict[str, int] = case.get("same_as", {})
    matched: list[int | None] = []  # for each gold report, the position of the report shown for it
    for n, report in enumerate(gold):
        docs = {report["doc"], *(doc for doc, index in same_as.items() if index == n)}
        at = next((i for i, files in enumerate(shown) if files & docs and _holds(answer.reports[i].span_text, report["answers"])), None)
        matched.append(at)
    positions = [m for m in matched if m is not None]
    accepted = {report["doc"] for report in gold} | set(same_as)
    right = sum(1 for files in shown if files & accepted)
    return {
        "all_shown_in_order": all(m is not None for m in matched) and positions == sorted(positions),
        "recall": len(positions) / len(gold),
        "shown": len(shown),
        "precision_right": right,
    }


def score_timeline(case: dict, answer: Answer) -> dict[str, Any]:
    shown = _stories(answer, answer.citations) if answer.kind == "timeline" else []
    required, also = case["stories"], set(case.get("also", []))
    positions = [next((i for i, files in enumerate(shown) if doc in files), None) for doc in required]
    found = [p for p in positions if p is not None]
    unrelated = sum(1 for files in shown if not files & (set(required) | also))
    return {
        "is_timeline": answer.kind == "timeline",
        "recall": len(found) / len(required),
        "in_order": found == sorted(found),
        "unrelated": unrelated,
        "shown": len(shown),
    }


def _share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0


def run(pipeline: Pipeline, cases: list[dict], ordinary: list[dict], verbose: bool = False) -> dict[str, Any]:
    results: dict[str, list[dict]] = {"disagree": [], "agree": [], "timeline": [], "ordinary": []}
    for case in [*cases, *({**o, "kind": "ordinary"} for o in ordinary)]:
        started = time.perf_counter()
        answer = pipeline.ask(case["question"])
        ms = (time.perf_counter() - started) * 1000
        kind = case["kind"]
        if kind == "disagree":
            scored = score_disagree(case, answer)
        elif kind == "timeline":
            scored = score_timeline(case, answer)
        else:
            scored = {"shown_as_disagreeing": bool(answer.reports)}
        scored |= {"id": case["id"], "ms": round(ms, 1), "reports": [f"{c.span_text} ({c.published})" for c in answer.reports]}
        results[kind].append(scored)
        if verbose:
            print(json.dumps(scored, ensure_ascii=False))
    disagree, agree, timeline, plain = results["disagree"], results["agree"], results["timeline"], results["ordinary"]
    shown_reports = sum(r["shown"] for r in disagree)
    report: dict[str, Any] = {
        "disagree": {
            "questions": len(disagree),
            "all_shown_newest_first": _share([r["all_shown_in_order"] for r in disagree]),
            "report_recall": _mean([r["recall"] for r in disagree]),
            "report_precision": round(sum(r["precision_right"] for r in disagree) / shown_reports, 3) if shown_reports else 0.0,
            "p50_ms": round(percentile([r["ms"] for r in disagree], 50), 1) if disagree else 0.0,
        },
        "agree": {"questions": len(agree), "shown_as_disagreeing": _share([r["shown_as_disagreeing"] for r in agree])},
        "timeline": {
            "questions": len(timeline),
            "routed_as_timeline": _share([r["is_timeline"] for r in timeline]),
            "recall": _mean([r["recall"] for r in timeline]),
            "in_date_order": _share([r["in_order"] for r in timeline]),
            "unrelated_per_timeline": _mean([r["unrelated"] for r in timeline]),
            "p50_ms": round(percentile([r["ms"] for r in timeline], 50), 1) if timeline else 0.0,
        },
        "cases": results,
    }
    if plain:
        report["ordinary"] = {"questions": len(plain), "shown_with_reports": _share([r["shown_as_disagreeing"] for r in plain])}
    return report


def read_jsonl(path: Path, half: str | None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if half is None or r["id"].startswith(half)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--half", choices=["da", "db"], help="only the questions whose id starts so (da: tuning, db: reporting)")
    parser.add_argument("--ordinary", type=Path, help="a gold file of ordinary questions: how often they are shown with reports")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    pipeline = Pipeline(corpus=args.corpus)
    pipeline.ensure_index()
    pipeline.load_models()
    ordinary = read_jsonl(args.ordinary, args.half) if args.ordinary else []
    report = run(pipeline, read_jsonl(args.gold, args.half), [o for o in ordinary if o.get("answers")], args.verbose)
    summary = {k: v for k, v in report.items() if k != "cases"}
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
