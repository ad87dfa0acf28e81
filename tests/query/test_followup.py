import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.query.followup import Turn, leans_on_history, resolve

SPOKESPERSON = Turn(question="Who is the Foreign Ministry spokesperson?", answer="Hua Chunying")


@pytest.mark.parametrize(
    "question",
    ["When did she say that?", "What does it offer?", "And the date?", "Why?", "What about the report?", "Who said so?"],
)
def test_questions_that_refer_back_lean_on_history(question):
    assert leans_on_history(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2022 World Cup?",
        "Who said that countries must embrace open and cooperative cybersecurity?",
        "Which organizations published the 5G security report?",
        "How many residents left their homes in Riverton?",
        "What did the Bank of England forecast for its interest rate in March?",
        "What did OPEC say about its output ceiling?",  # its: OPEC's, named before it
    ],
)
def test_questions_that_stand_alone_do_not(question):
    assert not leans_on_history(question)


def test_a_question_that_names_its_own_subject_is_never_rewritten():
    interlaken = Turn(question="How many Australians died in the Interlaken canyoning accident?", answer="14", articles=["x"])
    resolved = resolve("What did OPEC say about its output ceiling?", [interlaken])
    assert resolved.search == resolved.read == "What did OPEC say about its output ceiling?" and resolved.articles == []
    assert leans_on_history("What did he say about OPEC?")  # "he" comes first: someone named before


def test_he_is_the_person_the_previous_question_named():
    dauster = Turn(question="Who is Jorio Dauster?", answer="president of the Brazilian Coffee Institute", articles=["ibc"])
    resolved = resolve("What did he say?", [dauster])
    assert resolved.read == "What did Jorio Dauster say?" and resolved.search.startswith("What did Jorio Dauster say?")
    assert resolve("What was his export target?", [dauster]).read == "What was Jorio Dauster's export target?"
    # an answer may be wrong: a name the reader gave is not put into the next question
    chairman = Turn(question="Who is the chairman of King World Productions?", answer="Oprah Winfrey")
    assert resolve("When was he arrested?", [chairman]).read.startswith("When was he arrested?")


def test_a_follow_up_is_searched_with_the_previous_answer_and_question():
    resolved = resolve("When did she say that?", [SPOKESPERSON])
    assert resolved.search == "When did she say that? Hua Chunying Foreign Ministry spokesperson"
    # The question names nothing itself: the reader gets the topic, not the answer it already had.
    assert resolved.read == "When did she say that? Foreign Ministry spokesperson"


def test_the_reader_gets_the_bare_question_when_it_names_something():
    resolved = resolve("What does it offer?", [Turn(question="Who published a 5G security report?", answer="Promotion Group")])
    assert resolved.read == "What does it offer?"
    assert "security" in resolved.search and "report" in resolved.search


def test_a_standalone_question_ignores_history():
    resolved = resolve("Who won the 2022 World Cup?", [SPOKESPERSON])
    assert resolved.search == resolved.read == "Who won the 2022 World Cup?"


def test_a_chain_of_follow_ups_keeps_the_first_subject():
    history = [SPOKESPERSON, Turn(question="When did she say that?", answer="Wednesday")]
    assert "Hua Chunying" in resolve("And how?", history).search
    # and says it follows the question it took that subject from, not the follow-up just before it
    assert resolve("And how?", history).follows == SPOKESPERSON.question == resolve("When did she say that?", history[:1]).follows


def test_a_long_chain_of_follow_ups_stays_short():
    history = [SPOKESPERSON] + [Turn(question="And then?") for _ in range(5000)]
    assert resolve("And then?", history).search == "And then?"  # the subject is too far back


TURNS = st.lists(st.builds(Turn, question=st.text(max_size=80), answer=st.none() | st.text(max_size=30)), max_size=6)


@given(st.text(max_size=200), TURNS)
def test_resolving_only_ever_adds_words_after_the_question(question, history):
    """…or puts the person a "Who is …?" named in place of "he" or "she"."""
    resolved = resolve(question, history)
    assert resolved.search.startswith(resolved.read[: len(question)]) or resolved.search.startswith(question)
    asked = [w for w in question.split() if w.lower().strip(".,?!'\"") not in {"he", "she", "him", "his", "her", "hers"}]
    assert all(w in resolved.read for w in asked if w.isalnum())


def test_a_follow_up_reads_the_articles_the_conversation_is_about(news_pipeline):
    passages = news_pipeline.retrieve("rain storm spokesperson", k=5)
    seed = next(p.article.id for p in passages if p.article.title.startswith("China calls"))
    focused = resolve("Why?", [Turn(question="Who is the spokesperson?", answer="Hua Chunying", articles=[seed])]).focus(passages)
    assert focused and {p.article.id for p in focused} == {seed}
    elsewhere = resolve("Why?", [Turn(question="Who is the spokesperson?", articles=["not-retrieved"])]).focus(passages)
    assert elsewhere == passages


def test_a_turn_remembers_the_cited_articles(news_pipeline):
    found = Turn.of(news_pipeline.ask("How many coastal roads did the rain close?"))
    assert found.answer == "14" and len(found.articles) == 1
    assert Turn.of(news_pipeline.ask("Who won the 2022 World Cup?")) == Turn(question="Who won the 2022 World Cup?")


def test_pipeline_answers_the_follow_up_from_history(news_pipeline):
    first = news_pipeline.ask("Who is the Foreign Ministry spokesperson?")
    assert first.span == "Hua Chunying"
    follow_up = news_pipeline.ask("When did she say that?", history=[Turn.of(first)])
    assert follow_up.found and follow_up.span == "Wednesday"
    assert follow_up.question == "When did she say that?" and "Hua Chunying" in follow_up.query
    assert follow_up.contract()["question"] == "When did she say that?"


def test_history_does_not_change_a_standalone_answer(news_pipeline):
    history = [Turn.of(news_pipeline.ask("Who is the Foreign Ministry spokesperson?"))]
    for question in ("How many coastal roads did the rain close?", "Who won the 2022 World Cup?"):
        alone, with_history = news_pipeline.ask(question), news_pipeline.ask(question, history=history)
        assert with_history.contract() == alone.contract() and with_history.query is None


def test_history_does_not_invent_an_answer(news_pipeline):
    history = [Turn.of(news_pipeline.ask("Who is the Foreign Ministry spokesperson?"))]
    assert not news_pipeline.ask("Where was she born?", history=history).found


def test_the_nth_article_of_the_list_just_given():
    from rag.query.followup import ListedArticle, Turn, listed_article

    listing = Turn(question="Which articles mention Port Kessing?", listed=True, articles=["ends", "week2", "begins"])
    assert listed_article("Summarise the second one", [listing]) == ListedArticle(question="Summarise this article", article="week2")
    assert listed_article("When was the last article published?", [listing]).article == "begins"
    assert listed_article("Who wrote the 1st story in the list?", [listing]) == ListedArticle(question="Who wrote this article?", article="ends")
    assert listed_article("Who wrote the fifth one?", [listing]) is None  # the list has three
    assert listed_article("Summarise the second one", [listing.model_copy(update={"listed": False})]) is None  # no list just given
    assert listed_article("Who won the second race?", [listing]) is None
    # a list two turns back still counts while the chat stayed among its articles, not after another subject
    about_second = Turn(question="Summarise this article", answer=None, articles=["week2"], about_article=True)
    assert listed_article("When was the last one published?", [listing, about_second]).article == "begins"
    elsewhere = Turn(question="Who is the spokesperson?", answer="Hua Chunying", articles=["other"])
    assert listed_article("When was the last one published?", [listing, elsewhere]) is None
