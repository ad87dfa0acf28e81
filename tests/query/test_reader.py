import math

import pytest

from rag.config import ReaderWeights
from rag.query.reader import AnswerType, SentenceFeatures, classify_question, pick_span, score_sentences


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


def _features(passage: int, start: int, semantic: float, lexical: float, type_fit: float, span: tuple[int, int] | None = None) -> SentenceFeatures:
    return SentenceFeatures(
        passage=passage,
        start=start,
        end=start + 40,
        span_start=span[0] if span else None,
        span_end=span[1] if span else None,
        semantic=semantic,
        lexical=lexical,
        type_fit=type_fit,
    )


def test_sentence_scores_weigh_the_features_through_the_logistic_curve():
    weights = ReaderWeights(semantic=0.5, lexical=0.3, answer_type=0.2, passage_rank=0.0, slope=10.0, midpoint=0.5)
    strong = _features(1, 100, semantic=0.9, lexical=0.8, type_fit=1.0, span=(110, 120))  # raw 0.89
    even = _features(0, 0, semantic=0.5, lexical=0.5, type_fit=0.5)  # raw 0.5: the midpoint
    reading = score_sentences([even, strong], weights, threshold=0.6)
    assert reading.found and [e.start for e in reading.evidence] == [100, 0]  # best first, whatever the input order
    assert reading.score == pytest.approx(1 / (1 + math.exp(-10 * 0.39)))
    assert reading.evidence[1].score == pytest.approx(0.5)
    assert reading.evidence[0].span == (110, 120) and reading.evidence[1].span is None


def test_an_earlier_passage_counts_for_more_and_the_best_sentence_decides_not_found():
    weights = ReaderWeights(semantic=0.5, lexical=0.5, answer_type=0.0, passage_rank=0.2, slope=10.0, midpoint=0.5)
    first, third = _features(0, 0, 0.4, 0.4, 0.0), _features(2, 0, 0.4, 0.4, 0.0)  # the same sentence, read in two passages
    reading = score_sentences([third, first], weights, threshold=0.9)
    assert [e.passage for e in reading.evidence] == [0, 2]
    assert reading.evidence[0].score > reading.evidence[1].score
    assert not reading.found and reading.score == reading.evidence[0].score
    assert score_sentences([], weights, threshold=0.5).model_dump() == {"found": False, "score": 0.0, "evidence": []}


@pytest.fixture(scope="module")
def sentence_pipeline(news_pipeline, settings, encoder):
    """The built-in sentence reader (RAG_READER=sentence) over the same index."""
    from rag.pipeline import Pipeline

    return Pipeline(settings.model_copy(update={"reader": "sentence"}), corpus=news_pipeline.corpus, encoder=encoder)


@pytest.fixture(scope="module")
def span_pipeline(news_pipeline, settings, encoder):
    from rag.pipeline import Pipeline

    return Pipeline(settings.model_copy(update={"reader": "span"}), corpus=news_pipeline.corpus, encoder=encoder)


def test_sentence_reader_answers_from_the_right_sentence(sentence_pipeline):
    answer = sentence_pipeline.ask("Who is the Foreign Ministry spokesperson?")
    assert answer.found and answer.span == "Hua Chunying"
    assert "Hua Chunying" in answer.answer
    assert 0.5 <= answer.score <= 1


@pytest.mark.parametrize("question", ["Who won the 2022 World Cup?", "What is the recipe for a traditional apple pie?"])
@pytest.mark.parametrize("reader", ["span", "sentence"])
def test_readers_abstain_when_the_articles_do_not_say(span_pipeline, sentence_pipeline, reader, question):
    pipeline = span_pipeline if reader == "span" else sentence_pipeline
    answer = pipeline.ask(question)
    assert not answer.found and answer.answer is None
    assert answer.score < pipeline.threshold and answer.related


@pytest.fixture(scope="module")
def tiny_span_model(tmp_path_factory):
    """A real (randomly initialised, tiny) BERT span-extraction model saved to a local folder."""
    import shutil

    from transformers import BertConfig, BertForQuestionAnswering

    from rag.config import packaged_model_path

    folder = tmp_path_factory.mktemp("span-model")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(packaged_model_path() / name, folder / name)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    BertForQuestionAnswering(config).save_pretrained(folder)
    return folder


def test_a_local_span_model_folder_can_be_the_reader(tiny_span_model, news_pipeline, settings, encoder):
    from rag.pipeline import Pipeline

    pipeline = Pipeline(
        settings.model_copy(update={"reader": "span", "reader_model_path": tiny_span_model, "abstain_threshold": 0.0}),
        corpus=news_pipeline.corpus,
        encoder=encoder,
    )
    answer = pipeline.ask("Who is the Foreign Ministry spokesperson?")
    # random weights give an arbitrary span, but it must be a real span inside the quoted sentence
    first = answer.citations[0]
    assert answer.found and answer.span and answer.span in answer.answer
    assert first.start <= first.span_start < first.span_end <= first.end
    assert 0.0 <= answer.score <= 1.0
