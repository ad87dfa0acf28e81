"""Questions that ask how a story developed, and which stories name its topic."""

import pytest

from rag.query.story_timeline import asks_for_timeline, names_topic


@pytest.mark.parametrize(
    "question, topic",
    [
        ("How did the Ecuador earthquake story develop?", "Ecuador earthquake"),
        ("Timeline of the USAir bid for Piedmont", "USAir bid for Piedmont"),
        ("Give me a timeline of the coffee talks", "coffee talks"),
        ("USAir bid timeline", "USAir bid"),
        ("What happened with the coffee talks over the week?", "coffee talks"),
        ("How has the seamen's strike unfolded so far?", "seamen's strike"),
        ("How has the strike played out?", "strike"),
        ("How did it develop?", ""),  # the conversation's subject
        ("How did the dollar move?", None),  # a fact, for the reader
        ("How did the refinery fire start?", None),
        ("What happened to the ferry?", None),  # no stretch of time named
        ("Who owns the ferry?", None),
    ],
)
def test_a_timeline_question_and_its_topic(question, topic):
    assert asks_for_timeline(question) == topic


def test_a_story_names_a_topic_by_all_its_words_or_all_but_one_at_its_top():
    assert names_topic("Ecuador earthquake", "ECUADOR SUSPENDS OIL EXPORTS", "QUITO - Ecuador halted exports after an earthquake damaged a pipeline.")
    ferry = "BRUSSELS - A British ferry capsized off the Belgian port. The disaster killed at least 26 people."
    assert names_topic("Zeebrugge ferry disaster", "FERRY DISASTER", ferry)  # all but "Zeebrugge", at its top
    passing = "ROME - " + "Markets were quiet. " * 30 + "Italy's government said a crisis in the textile trade was over."
    assert not names_topic("Italy government crisis", "LIRA STEADY", passing.replace("crisis", "slump"))
    assert not names_topic("the", "ANY", "any text")


def test_a_change_is_a_timeline_only_over_a_stretch_of_time():
    assert asks_for_timeline("How did the shortage forecast change?") is None  # a fact: by how much
    assert asks_for_timeline("How did the shortage forecast change over the week?") == "shortage forecast"
    # the dates a question named are taken out before the router reads it ("… during March 5?")
    assert asks_for_timeline("How did the shortage forecast change ?", timed=True) == "shortage forecast"
    assert asks_for_timeline("What happened with the coffee talks?", timed=True) == "coffee talks"
