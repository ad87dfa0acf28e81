"""How often a question's words become a date filter (rag/query/question_time.py), on question sets that name no
publication date: SQuAD's questions are about Wikipedia articles, so each filter found there is a year or
date of the story ("in 1998, who …"), which in a dated news corpus would filter by it.

    python -m eval.question_times ../shared/data/squad-v1.1-dev/dev-v1.1.json [more SQuAD files]

A SQuAD corpus has no dated article, so the product never filters there (its figures cannot change);
this counts what the parser would do if those questions were asked of a dated corpus.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from rag.query.question_time import QuestionTime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("squad", type=Path, nargs="+", help="SQuAD JSON files")
    parser.add_argument("--newest", type=dt.date.fromisoformat, default=dt.date(2020, 2, 5), help="the corpus's newest article date")
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args(argv)
    times = QuestionTime()
    for path in args.squad:
        questions = [qa["question"] for a in json.loads(path.read_text(encoding="utf-8"))["data"] for p in a["paragraphs"] for qa in p["qas"]]
        scopes = [(q, times.scope(q, args.newest)) for q in questions]
        dated = [(q, s) for q, s in scopes if s is not None and s.filters_dates]
        latest = sum(1 for _, s in scopes if s is not None and s.latest)
        print(f"{path.name}: {len(questions)} questions; a date filter in {len(dated)} ({len(dated) / len(questions):.1%}); 'latest' in {latest}")
        for question, scope in dated[: args.examples]:
            print(f"  {question!r} -> {scope.label()}")


if __name__ == "__main__":
    main()
