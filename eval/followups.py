"""Follow-up questions scored with and without the chat history.

Gold file: JSON Lines, one case a line, the gold-question contract plus the turns before it:

    {"id": "f01", "history": ["Who is the Foreign Ministry spokesperson?"],
     "question": "When did she say that?", "answers": ["Wednesday"], "doc": "000_2479b7865a29b2a5.txt"}

`history` holds the earlier questions, oldest first; each is asked through the pipeline as the
chat asks it (with the turns before it), and its answer becomes part of the history. The last
question is then asked twice: with that history and alone. An answerable case is right when a
gold answer stands inside the answer sentence shown (the `contains_answer` of `rag eval`); an
unanswerable one (`answers: []`) is right when the answer is "not found".

With one seed article, retrieval cannot miss it; `--distractors N` asks over a temporary copy of
the corpus plus N SQuAD dev paragraphs (from ../shared/data) as other articles, where a
follow-up without its history also has to find the right article.

    .venv/bin/python -m eval.followups --corpus seeds [--distractors 400] [--out report.json] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from pydantic import BaseModel

from eval.metrics import contains_answer
from eval.runner import GoldItem
from rag.config import Settings
from rag.pipeline import Pipeline
from rag.query.followup import Turn
from rag.schema import Answer

SQUAD_DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-v1.1-dev" / "dev-v1.1.json"


class FollowUpCase(GoldItem):
    history: list[str]


class CaseResult(BaseModel):
    id: str
    question: str
    query: str = ""  # what was searched for with the history
    with_history: bool
    without_history: bool
    answer_with: str | None
    answer_without: str | None


def read_cases(path: Path) -> list[FollowUpCase]:
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    return [FollowUpCase.model_validate_json(line) for line in lines if line.strip()]


def is_right(answer: Answer, case: FollowUpCase) -> bool:
    if not case.answerable:
        return not answer.found
    return answer.found and bool(contains_answer(answer.answer or "", case.answers))


def run_case(pipeline: Pipeline, case: FollowUpCase) -> CaseResult:
    turns: list[Turn] = []
    for question in case.history:
        turns.append(Turn.of(pipeline.ask(question, history=turns)))
    with_history = pipeline.ask(case.question, history=turns)
    alone = pipeline.ask(case.question)
    return CaseResult(
        id=case.id,
        question=case.question,
        query=with_history.query or with_history.question,
        with_history=is_right(with_history, case),
        without_history=is_right(alone, case),
        answer_with=with_history.span or with_history.answer,
        answer_without=alone.span or alone.answer,
    )


def with_distractors(corpus: Path, scratch: Path, count: int) -> Path:
    """A copy of the corpus (without its index) plus `count` SQuAD dev paragraphs as one JSON file of articles."""
    data = json.loads(SQUAD_DEV.read_text(encoding="utf-8"))["data"]
    paragraphs = [
        {"title": f"{article['title'].replace('_', ' ')} ({n})", "text": paragraph["context"]}
        for article in data
        for n, paragraph in enumerate(article["paragraphs"], start=1)
    ]
    copy = scratch / "corpus"
    shutil.copytree(corpus, copy, ignore=shutil.ignore_patterns(".*"))
    (copy / "squad-distractors.json").write_text(json.dumps(paragraphs[:count], ensure_ascii=False), encoding="utf-8")
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("seeds"))
    parser.add_argument("--gold", type=Path, default=Path("eval/gold/followups.jsonl"))
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    parser.add_argument("--distractors", type=int, default=0, help="add this many SQuAD dev paragraphs as other articles")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        corpus = with_distractors(args.corpus, Path(scratch), args.distractors) if args.distractors else args.corpus
        pipeline = Pipeline(Settings(), corpus=corpus)
        pipeline.index()  # incremental: nothing is embedded when the index is current
        results = [run_case(pipeline, case) for case in read_cases(args.gold)]
    total = len(results)
    with_history = sum(r.with_history for r in results)
    without_history = sum(r.without_history for r in results)
    if args.verbose:
        for r in results:
            marks = f"{'ok ' if r.with_history else 'MISS'} / {'ok ' if r.without_history else 'MISS'}"
            print(f"{r.id} {marks}  {r.question!r} -> {r.answer_with!r} (alone: {r.answer_without!r}); searched: {r.query!r}")
    print(f"follow-ups right with history: {with_history}/{total}; without history: {without_history}/{total}")
    if args.out:
        summary = {"cases": total, "right_with_history": with_history, "right_without_history": without_history}
        args.out.write_text(json.dumps({**summary, "results": [r.model_dump() for r in results]}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
