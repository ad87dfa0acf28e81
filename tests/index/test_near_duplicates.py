"""Wire copies: the same story under another outlet or headline, or trimmed, is one story; another day's is not."""

from __future__ import annotations

from rag.index.near_duplicates import WireCopies
from rag.schema import Article

STORY = (
    "Heavy rain closed 14 coastal roads in Brighton on Tuesday. The storm brought winds of 90 kilometres per hour, "
    "the Met Office said. Emergency crews rescued two fishermen near the harbour. Schools in the area will stay shut "
    "on Wednesday while engineers check the sea wall, the council said."
)


def article(id_: str, text: str, title: str = "Storm closes coastal roads") -> Article:
    return Article(id=id_, title=title, path=f"{id_}.txt", text=text)


def test_a_copy_under_another_headline_or_trimmed_is_the_same_story():
    copies = WireCopies()
    original = article("a", STORY)
    assert copies.same_story(original, article("b", STORY, title="Gale shuts coast road"))
    trimmed = STORY.rsplit(" Schools", 1)[0]
    assert copies.same_story(original, article("c", trimmed)) and copies.same_story(article("c", trimmed), original)


def test_the_same_topic_on_another_day_is_another_story():
    copies = WireCopies()
    monday = article("a", "The Bank of England forecast growth of 2.5 percent for the year, the bank said on Monday in London.")
    tuesday = article("b", "The Bank of England forecast growth of 3.1 percent for the year, its governor said on Tuesday in a speech.")
    assert not copies.same_story(monday, tuesday)
    assert not copies.same_story(article("c", "Too short"), article("d", "Too short"))  # no 5-word run: nothing to compare
