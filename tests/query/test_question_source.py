"""A source named in a question as a filter: which names, and only where they are the speaker or publisher."""

from __future__ import annotations

import pytest

from rag.query.question_source import SourceNames, SourceScope, source_names

NAMES = SourceNames(source_names(["Xinhua", "By Xinhua", "Coast Daily", "By Jane Doe and John Roe, Reuters", "Reuters Breakingviews", "AP", None, "By X"]))


def test_names_come_from_source_and_byline_fields_longest_first():
    assert NAMES.names == ["Reuters Breakingviews", "Coast Daily", "Jane Doe", "John Roe", "Reuters", "Xinhua", "AP"]


@pytest.mark.parametrize(
    "question, source, text",
    [
        ("What did Xinhua say about 5G?", "Xinhua", "did Xinhua"),
        ("According to Reuters, how many people left?", "Reuters", "According to Reuters"),
        ("what does the coast daily report about the storm?", "Coast Daily", "does the coast daily"),
        ("How many roads did Coast Daily say were closed?", "Coast Daily", "did Coast Daily"),
        ("Reuters reported what about the tin quota?", "Reuters", "Reuters reported"),
        ("What did Reuters Breakingviews write about banks?", "Reuters Breakingviews", "did Reuters Breakingviews"),
        ("Who was quoted in Xinhua's story?", "Xinhua", "in Xinhua"),
        ("What did AP say about the vote?", "AP", "did AP"),
        ("Which articles mention Xinhua?", None, None),
        ("Who runs Reuters?", None, None),
        ("What did the spokesperson say?", None, None),
        ("What did the capital say?", None, None),  # "AP" only as a whole word
        ("Is the Xinhuanet site blocked?", None, None),
    ],
)
def test_a_source_is_a_filter_only_as_the_speaker_or_publisher(question, source, text):
    scope = NAMES.scope(question)
    assert (scope.source, scope.text) == (source, text) if source else scope is None


def test_labels_and_the_json_key():
    scope = SourceScope(source="Xinhua", text="did Xinhua")
    assert scope.label() == "searched articles from Xinhua (“did Xinhua”)"
    assert scope.contract() == {"source": "Xinhua", "text": "did Xinhua", "applied": True, "label": scope.label()}
    assert scope.model_copy(update={"applied": False}).label() == "no article is from Xinhua with these filters, so every source was searched"
