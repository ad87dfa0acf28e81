"""A person named by name in the question and by role in the story: the roles read from the article's appositions."""

import pytest

from rag.query.roles import RoleReading, by_role, roles


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Spokesperson Hua Chunying told an online press briefing.", {"Hua": "spokesperson", "Chunying": "spokesperson"}),
        ("Hua Chunying, Spokesperson, Foreign Ministry", {"Hua": "spokesperson", "Chunying": "spokesperson"}),
        ("Chief executive Roisin Callery apologised.", {"Roisin": "chief executive", "Callery": "chief executive"}),
        ("the deal brokered by transport minister Pieter Vollan.", {"Pieter": "transport minister", "Vollan": "transport minister"}),
        ("Marta Sousa, the chief executive of Ferrovia, said so.", {"Marta": "chief executive", "Sousa": "chief executive"}),
        ("Foreign Ministry spokesperson Hua Chunying said.", {"Hua": "Foreign Ministry spokesperson", "Chunying": "Foreign Ministry spokesperson"}),
        ("The strike ended, said Marguerite Lanois on Monday.", {}),  # a verb before a name is no role
        ("The minister said the plan would go ahead.", {}),  # a role with no name
    ],
)
def test_roles_are_read_from_the_articles_appositions(text, expected):
    assert roles(text) == expected


def test_a_question_naming_a_person_is_read_with_their_role():
    known = {"Hua": "spokesperson", "Chunying": "spokesperson"}
    assert by_role("When did Hua speak?", known) == RoleReading(question="When did the spokesperson speak?", name="Hua", role="spokesperson")
    assert by_role("When did Hua Chunying speak?", known).question == "When did the spokesperson speak?"
    assert by_role("Who is the spokesperson, Hua?", known) is None  # it says the role already
    assert by_role("When did Lanois speak?", known) is None
    assert by_role("When did Hua speak?", {}) is None


def test_the_seed_answers_when_hua_spoke_from_what_the_spokesperson_said(news_pipeline):
    answer = news_pipeline.ask("When did Hua speak?")
    assert answer.found and answer.span == "Wednesday" and answer.question == "When did Hua speak?"
    assert answer.contract()["span_date"] == "2020-02-05"  # the seed was published on that Wednesday
    assert answer.contract()["read_as"] == {"question": "When did the spokesperson speak?", "name": "Hua", "role": "spokesperson"}
    assert answer.read_as.label() == "read as “When did the spokesperson speak?”: the article calls Hua the spokesperson"
    assert "read_as" not in news_pipeline.ask("Who is the Foreign Ministry spokesperson?").contract()  # answered at first reading
