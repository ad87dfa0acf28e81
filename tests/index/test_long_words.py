"""An article holding a huge word without spaces (a base64 data URI) indexes and answers in bounded size."""

import base64
import json
import random
import time

from rag.index.chunking import MAX_CHUNK_CHARS
from rag.pipeline import Pipeline

# What one reply may hold: the answer's sentence and a passage for each citation and related article, and their fields.
MAX_REPLY_CHARS = 10 * MAX_CHUNK_CHARS


def test_a_two_megabyte_word_indexes_in_bounded_time_and_a_question_citing_it_gets_a_bounded_reply(tmp_path, settings, encoder):
    """Issue: a 19 MB data URI was one chunk and one sentence, quoted whole (57 MB of JSON) in every reply that cited it."""
    uri = "data:image/png;base64," + base64.b64encode(random.Random(0).randbytes(1_500_000)).decode("ascii")  # 2 MB
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "flood.md").write_text(
        "---\ntitle: Council publishes flood map\ndate: 2023-05-04\n---\n"
        "The Fenwick council published its flood report on Tuesday. "
        f"The council attached a flood map to its flood report: {uri} "
        "The mayor said the new flood wall would cost 4 million dollars.\n",
        encoding="utf-8",
    )
    pipeline = Pipeline(settings, corpus=corpus, encoder=encoder)
    started = time.perf_counter()
    pipeline.index()
    assert time.perf_counter() - started < 300  # about 1,000 chunks of 2,000 characters: tens of seconds on 2 cores
    cost, attached = (pipeline.ask(q) for q in ("How much will the new flood wall cost?", "What did the council attach to its flood report?"))
    for answer in (cost, attached):
        assert answer.citations or answer.related  # it cites the article
        assert len(json.dumps(answer.contract(), ensure_ascii=False)) < MAX_REPLY_CHARS
    assert cost.found and cost.answer == "The mayor said the new flood wall would cost 4 million dollars."  # not quoted with the word's last piece
