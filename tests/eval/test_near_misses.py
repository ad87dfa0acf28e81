"""Near-miss questions for abstention training (eval/near_misses.py), with spaCy's real English pipeline."""

from __future__ import annotations

import random

from eval.near_misses import KINDS, antonym, near_misses, negation, number_swap
from rag.query.entities import EntityTagger

PARSER = EntityTagger(parse=True)
PARAGRAPH = "In 1965 Paul VI addressed the United Nations in New York, the largest city of the state; Rome was his see."


def test_negation_goes_before_the_verb_its_auxiliary_serves():
    question = "Where did Hisham base his court?"
    assert negation(question, PARSER.analyse([question])[0]) == "Where did Hisham not base his court?"
    already = "Why didn't the pope go?"
    assert negation(already, PARSER.analyse([already])[0]) is None


def test_an_antonym_is_swapped_only_where_the_paragraph_lacks_it():
    assert antonym("What is the smallest city of the state?", PARAGRAPH) is None  # "largest" is in the paragraph
    assert antonym("What was the first city he addressed?", PARAGRAPH) == "What was the last city he addressed?"


def test_a_number_swap_gives_a_number_the_paragraph_does_not_hold():
    question = "Whom did Paul VI address in 1965?"
    changed = number_swap(question, PARSER.analyse([question])[0], PARAGRAPH, random.Random(0))
    assert changed is not None and "1965" not in changed and changed.startswith("Whom did Paul VI address in ")


def test_near_misses_are_changed_questions_their_paragraph_does_not_name():
    questions = [
        "What group did Paul VI address in New York in 1965?",
        "Which city did Paul VI visit in 1965?",
        "Where did Hisham base his court?",
        "What was the largest city Barack Obama visited in Kenya?",
        "What is the oldest church in Rome?",
    ]
    paragraphs = [PARAGRAPH] * 4 + ["Rome's oldest church is St John Lateran, which Constantine built."]
    made = near_misses(questions, paragraphs, seed=0, tagger=PARSER)
    assert made and all(m.kind in KINDS for m in made)
    assert len({m.source for m in made}) == len(made)  # one near miss a question at most
    for miss in made:
        assert miss.question != questions[miss.source]
    assert near_misses(questions, paragraphs, seed=0, tagger=PARSER) == made  # seeded
