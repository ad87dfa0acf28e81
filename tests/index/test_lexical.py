"""The BM25 wrapper (rag/index/lexical.py): scores, masks, document frequencies, save and load; no model."""

from __future__ import annotations

import numpy as np

from rag.index.lexical import LexicalIndex
from rag.text import terms

DOCUMENTS = ["The harbour reopened on Monday.", "Rain closed the harbour road.", "The council voted on Tuesday."]


def lexical() -> LexicalIndex:
    return LexicalIndex.build([terms(d) for d in DOCUMENTS])


def test_scores_rank_the_documents_holding_the_terms():
    scores = lexical().scores(terms("harbour reopened"))
    assert scores.shape == (3,) and scores[0] > scores[1] > scores[2] == 0


def test_a_mask_zeroes_what_is_not_allowed_and_unknown_terms_score_nothing():
    index = lexical()
    masked = index.scores(terms("harbour"), allowed=np.array([False, True, True]))
    assert masked[0] == 0 and masked[1] > 0
    assert not index.scores(terms("zebra")).any() and index.scores([]).shape == (3,)


def test_document_frequency_counts_chunks_holding_a_term():
    index = lexical()
    assert index.document_frequency(terms("harbour")[0]) == 2
    assert index.document_frequency(terms("council")[0]) == 1
    assert index.document_frequency("zebra") == 0


def test_save_and_load_give_the_same_scores(tmp_path):
    index = lexical()
    files = index.save(tmp_path / "bm25")
    assert files and all(f.parent == tmp_path / "bm25" for f in files)
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert np.array_equal(loaded.scores(terms("harbour road")), index.scores(terms("harbour road")))
    assert loaded.documents == 3 and loaded.nbytes > 0


def test_an_empty_corpus_indexes():
    assert LexicalIndex.build([]).scores(["word"]).shape == (1,)
