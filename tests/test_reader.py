import pytest

from rag.reader import AnswerType, classify_question, pick_span


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who is the spokesperson?", AnswerType.PERSON),
        ("Which company built it?", AnswerType.PERSON),
        ("When did she speak?", AnswerType.DATE),
        ("What year was it founded?", AnswerType.DATE),
        ("How many roads were closed?", AnswerType.NUMBER),
        ("What percentage voted?", AnswerType.NUMBER),
        ("Where was the briefing?", AnswerType.PLACE),
        ("What does the report offer?", AnswerType.OTHER),
    ],
)
def test_question_types(question, expected):
    assert classify_question(question) is expected


@pytest.mark.parametrize(
    "sentence, question, span",
    [
        ("The report was praised, spokesperson Hua Chunying told an online press briefing.", "Who is the spokesperson?", "Hua Chunying"),
        ("A Foreign Ministry spokesperson said Wednesday.", "When did the spokesperson speak?", "Wednesday"),
        ("Heavy rain closed 14 coastal roads in Brighton on Tuesday.", "How many roads were closed?", "14"),
        ("The bank kept its rate at 1.5 percent on March 17, 2021.", "When did the bank keep its rate?", "March 17, 2021"),
        ("Emergency crews rescued two fishermen near the harbour in Brighton.", "Where were the fishermen rescued?", "Brighton"),
        ("The IMT-2020 (5G) Promotion Group published a report.", "How much did China invest?", None),
    ],
)
def test_span_narrowing(sentence, question, span):
    found = pick_span(sentence, question, classify_question(question))
    assert (sentence[found[0] : found[1]] if found else None) == span


def test_reader_answers_from_the_right_sentence(news_pipeline):
    answer = news_pipeline.ask("Who is the Foreign Ministry spokesperson?")
    assert answer.found and answer.span == "Hua Chunying"
    assert "Hua Chunying" in answer.answer
    assert 0.5 <= answer.score <= 1


@pytest.mark.parametrize("question", ["Who won the 2022 World Cup?", "What is the recipe for a traditional apple pie?"])
def test_reader_abstains_when_the_articles_do_not_say(news_pipeline, question):
    answer = news_pipeline.ask(question)
    assert not answer.found and answer.answer is None
    assert answer.score < 0.5 and answer.related
