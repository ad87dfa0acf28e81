"""What a question asks for and whether a span is one (rag/query/answer_type.py); the last tests run spaCy's real model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.query.answer_type import AnswerTypeCheck, ExpectedType, expected_type, folded_words, names_present, span_fit
from rag.query.entities import Entity
from rag.schema import Article, Chunk, Passage

CHECK = AnswerTypeCheck()


def test_without_a_parse_the_wh_word_alone_decides():
    assert expected_type("How many people were killed?") is ExpectedType.COUNT
    assert expected_type("Which engine maker did Qantas choose?") is ExpectedType.ANY  # the head noun needs the parse
    assert expected_type("Who is the chairman?") is ExpectedType.PERSON


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many people were killed in the New Zealand earthquake?", ExpectedType.COUNT),
        ("What was Sears's first-quarter revenue?", ExpectedType.AMOUNT),
        ("At what rate did Taiwan's textile makers want the dollar held?", ExpectedType.AMOUNT),
        ("How much did the bank lend?", ExpectedType.AMOUNT),
        ("How long did the strike last?", ExpectedType.MEASURE),
        ("When did the ferry capsize?", ExpectedType.DATE),
        ("In what year did the war end?", ExpectedType.DATE),
        ("Where was the report filed?", ExpectedType.PLACE),
        ("Which country imports most of the coffee?", ExpectedType.PLACE),
        ("Which engine maker did Qantas choose for the 747-400?", ExpectedType.ORGANISATION),
        ("Which Soviet ministry signed the letter of intent?", ExpectedType.ORGANISATION),
        ("Who is the chairman of the union?", ExpectedType.PERSON),
        ("What is the latest Bank of England growth forecast?", ExpectedType.AMOUNT),  # "Bank" is a name's word
        ("What payment did the bank offer each employee who agreed to resign?", ExpectedType.AMOUNT),  # not "who"
        ("What did OPEC say about its output ceiling?", ExpectedType.ANY),
        ("What kind of exchange rate arrangement did Bergsten urge?", ExpectedType.ANY),
        ("Why did the shares fall?", ExpectedType.ANY),
    ],
)
def test_expected_type_from_the_wh_word_and_the_parsed_head_noun(question, expected):
    assert CHECK.expected(question) is expected


SENTENCE = "Edgecumbe, population 16,000, was shaken, police said in Wellington on Tuesday."
ENTITIES = [Entity(0, 9, "GPE", "Edgecumbe"), Entity(22, 28, "CARDINAL", "16,000"), Entity(56, 66, "GPE", "Wellington"), Entity(70, 77, "DATE", "Tuesday")]


def span(text: str) -> tuple[int, int]:
    start = SENTENCE.index(text)
    return start, start + len(text)


def test_a_span_of_the_kind_asked_for_fits_and_a_plainly_wrong_one_does_not():
    assert span_fit(ExpectedType.COUNT, span("16,000"), SENTENCE, ENTITIES) == 1.0
    assert span_fit(ExpectedType.COUNT, span("Wellington"), SENTENCE, ENTITIES) == -1.0  # no number at all
    assert span_fit(ExpectedType.PLACE, span("Wellington"), SENTENCE, ENTITIES) == 1.0
    assert span_fit(ExpectedType.PLACE, span("Tuesday"), SENTENCE, ENTITIES) == -1.0
    assert span_fit(ExpectedType.DATE, span("Tuesday"), SENTENCE, ENTITIES) == 1.0
    assert span_fit(ExpectedType.PERSON, span("police"), SENTENCE, ENTITIES) == 0.0  # no entity: cannot be told
    assert span_fit(ExpectedType.ANY, span("16,000"), SENTENCE, ENTITIES) == 0.0


@given(st.sampled_from(list(ExpectedType)), st.integers(0, len(SENTENCE)), st.integers(0, len(SENTENCE)))
def test_span_fit_is_always_one_of_three_values(expected, a, b):
    assert span_fit(expected, (min(a, b), max(a, b)), SENTENCE, ENTITIES) in (-1.0, 0.0, 1.0)


def test_names_present_counts_the_question_s_subjects_not_its_dates():
    question = [Entity(0, 6, "ORG", "Qantas"), Entity(20, 27, "PRODUCT", "747-400"), Entity(30, 34, "DATE", "1987")]
    assert names_present(question, folded_words("Qantas Airways will buy Boeing 747-400s and 747-400 jets.")) == 1.0
    assert names_present(question, folded_words("Qantas Airways will buy new aircraft.")) == 0.5
    assert names_present([Entity(0, 4, "DATE", "1987")], "no names") == 1.0  # nothing named: no evidence against


def test_names_match_across_wire_wraps_possessives_and_a_leading_article():
    story = folded_words("ROME, March 3 - Banca Nazionale\ndel Lavoro lent the Soviet Union money; General Motors' board met.")
    named = [Entity(0, 1, "ORG", "Banca Nazionale del Lavoro"), Entity(0, 1, "GPE", "the Soviet Union"), Entity(0, 1, "ORG", "General Motors'")]
    assert names_present(named, story) == 1.0
    assert names_present([Entity(0, 1, "ORG", "Banca Nazionale del Tesoro")], story) == 0.75  # three of its four words


def test_the_check_reads_the_quoted_sentence_with_the_real_pipeline():
    text = "WELLINGTON, March 3 - The town of Edgecumbe, population 16,000, was shaken but no deaths were reported."
    chunk = Chunk(id="c", article_id="a", text=text, start=0, end=len(text), sentences=[(0, len(text))])
    passage = Passage(row=0, chunk=chunk, article=Article(id="a", title="Quake shakes New Zealand town", path="a.txt", text=text), score=1.0)
    check = CHECK
    number = text.index("16,000")
    sentence = (0, len(text))
    assert check.type_fit("How many people live in Edgecumbe?", passage, sentence, (number, number + 6)) == 1.0
    town = text.index("Edgecumbe")
    assert check.type_fit("How many people were killed?", passage, sentence, (town, town + 9)) == -1.0
    assert check.names_present("How many people were killed in the Ecuador earthquake?", passage) == 0.0
    assert check.names_present("How many people live in Edgecumbe?", passage) == 1.0


def test_spacy_loads_without_torch_and_torch_stays_importable():
    """thinc is refused torch while the pipeline imports (1.8 s saved cold); anyone else still gets it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rag.query.entities import EntityTagger\n"
        "tagger = EntityTagger()\n"
        "tagger.load_in_background()\n"
        "assert tagger.entities(['Qantas bought jets in Sydney.'])[0][0].label == 'ORG'\n"
        "assert 'torch' not in sys.modules\n"
        "import thinc.compat\n"
        "assert not thinc.compat.has_torch\n"
        "import torch\n"
        "print(torch.tensor([1]).item())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
