"""The routing table: which intent each kind of question gets, overlaps included (issue 30)."""

import datetime as dt

import pytest

from rag.query.followup import Turn
from rag.query.intents import AboutArticle, LatestOn, ListArticles, More, NewestArticles, Read, Summary
from rag.query.question_scope import QuestionScoper
from rag.query.retrieve import Filters
from rag.query.router import ROUTES, RoutedQuestion, route, route_name
from rag.schema import Article

ARTICLES = [
    Article(id="a", title="Coffee talks fail", published=dt.date(1987, 3, 1), source="Reuters", path="a.json", text="LONDON, March 1 - ..."),
    Article(id="b", title="5G report", published=dt.date(1987, 3, 2), source="Xinhua", path="b.json", text="BEIJING, March 2 - ..."),
]
SCOPER = QuestionScoper(ARTICLES)
ANSWERED = Turn(question="Who spoke for the Foreign Ministry?", answer="Hua Chunying", articles=["b"])
LISTED = Turn(question="Which articles mention Brazil?", answer=None, articles=["a", "b"], listed=True)


def routed(question: str, history: tuple[Turn, ...] = ()) -> RoutedQuestion:
    return RoutedQuestion(question, SCOPER.scopes(question, Filters()), history)


@pytest.mark.parametrize(
    "question, history, name",
    [
        ("Which articles mention Brazil?", (), "list articles"),
        ("Which stories mention the latest on the strike?", (), "list articles"),
        ("What's the latest news?", (), "newest"),
        ("What did Reuters report on March 1?", (), "newest"),
        ("What was reported on March 2?", (), "newest"),
        ("Which stories were published on March 2?", (), "newest"),
        ("What's the latest on the tin quota?", (), "latest on"),
        ("Any news on who wrote it?", (), "article field"),
        ("How did the Ecuador earthquake story develop?", (), "timeline"),
        ("Timeline of the USAir bid for Piedmont", (), "timeline"),
        ("What happened with the coffee talks over the week?", (), "timeline"),
        ("How did the refinery fire start?", (), "read"),  # "how did X start" asks a fact, not a timeline
        ("What happened to the ferry?", (), "read"),  # no stretch of time: a question the reader answers
        ("Summarise the Dorrell refinery story", (), "summary"),
        ("What is this article about?", (), "summary"),
        ("Tell me more", (ANSWERED,), "more"),
        ("Tell me more about this story", (ANSWERED,), "more"),
        ("Who wrote this article?", (), "article field"),
        ("Who wrote it?", (), "article field"),
        ("When was it published?", (LISTED,), "article field"),
        # after a fact read out of a story about no document, "it" can only be the story (it had been "read": not found)
        ("When was it published?", (Turn(question="What was Piedmont's February load factor?", answer="55.5 pct", articles=["p"]),), "article field"),
        ("What is the date of this article?", (ANSWERED,), "article field"),
        ("From which city was the story filed?", (ANSWERED,), "article field"),
        ("From which city was the report on Zambia's copper output datelined?", (), "article field"),
        ("On what date did Reuters publish the story about the coffee talks?", (), "article field"),
        ("On what date did Reuters report that the coffee talks failed?", (), "article field"),
        ("Which news agency reported that Tanzania secured aid?", (), "article field"),
        ("In what year was the report on the coffee cooperative's exports published?", (), "article field"),
        ("Who reported on the Veltro Motors brake recall?", (), "article field"),
        ("What articles are there about Port Kessing?", (), "list articles"),
        # the same shapes about something the text reports: the reader's
        ("On what date did Chrysler report that February production fell?", (), "read"),
        ("When was the report published?", (), "read"),
        ("Who published it?", (Turn(question="What does the security report propose?", answer="measures", articles=["b"]),), "read"),
        ("What was Japan's unemployment rate in January?", (), "read"),
        ("What did Xinhua say about 5G?", (), "read"),
        ("Who is the Foreign Ministry spokesperson?", (), "read"),
        ("What did OPEC say about its output ceiling?", (ANSWERED,), "read"),
        ("Who wrote about the great pestilence in 1893?", (), "read"),  # SQuAD: a writer the text names
    ],
)
def test_each_question_gets_its_route(question, history, name):
    assert route_name(routed(question, history)) == name


def test_routes_carry_what_the_question_names():
    assert route(routed("Which articles mention Brazil?")) == ListArticles("Brazil")
    assert route(routed("What's the latest on the tin quota?")) == LatestOn("the tin quota")
    assert route(routed("Summarise the Dorrell refinery story")) == Summary("Dorrell refinery")
    assert route(routed("Tell me more about the trains")) == More("the trains")
    assert route(routed("What did Reuters report on March 1?")) == NewestArticles()
    assert route(routed("From which city was the report on Zambia's copper output datelined?")) == AboutArticle("dateline", "Zambia's copper output")
    assert route(routed("Who wrote this article?")) == AboutArticle("byline", "")
    assert route(routed("Who is the Foreign Ministry spokesperson?")) == Read()


def test_the_order_is_data_and_reading_is_the_default():
    assert [r.name for r in ROUTES] == ["list articles", "newest", "latest on", "timeline", "summary", "more", "article field"]
    assert route(routed("Which articles mention Brazil?"), routes=()) == Read()
    assert route_name(routed("Which articles mention Brazil?"), routes=ROUTES[1:]) == "read"
