"""The trained span reader: its pure parts without a model, then the shipped model on the seed article."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from rag.config import packaged_model_path
from rag.index.lexical import LexicalIndex
from rag.query.answer_type import AnswerTypeCheck
from rag.query.reader_model import SHIPPED_READER, ReaderModelError
from rag.query.span_reader import AnswerFeatures, Calibration, QuestionCoverage, SpanCandidate, SpanReader, agreeing, answer_key, quoted_sentence
from rag.schema import Article, Chunk, Passage


@pytest.fixture(scope="module")
def span_pipeline(news_pipeline, settings, encoder):
    """The trained span reader (RAG_READER=span) over the session's news index."""
    from rag.pipeline import Pipeline

    return Pipeline(settings.model_copy(update={"reader": "span"}), corpus=news_pipeline.corpus, encoder=encoder)


ANSWER_TYPES = AnswerTypeCheck()  # spaCy, loaded once for the module
TEXT = "Rates held. The bank kept its rate at 1.5 percent on Wednesday. Analysts expected it."


def passage(text: str = TEXT, start: int = 0) -> Passage:
    sentences = [(0, 11), (12, 63), (64, 86)]
    chunk = Chunk(id="c", article_id="a", text=text, start=start, end=start + len(text), sentences=[(s + start, e + start) for s, e in sentences])
    return Passage(row=0, chunk=chunk, article=Article(id="a", title="t", path="a.txt", text=" " * start + text), score=1.0)


def no_similarity(question, passage, start, end) -> float:
    """For passages built by hand (no index): the calibration's similarity term left out."""
    return 0.0


def full_coverage(question, passage, start, end) -> float:
    """For passages built by hand (no index): every question counts as covered by the article."""
    return 1.0


def test_the_quote_is_the_whole_sentence_around_the_span():
    start = TEXT.index("1.5 percent")
    assert quoted_sentence(passage(), start, start + len("1.5 percent")) == (12, 63)


def test_a_span_across_sentences_quotes_both():
    assert quoted_sentence(passage(), TEXT.index("held"), TEXT.index("bank") + 4) == (0, 63)


def test_offsets_count_from_the_article_not_the_chunk():
    p = passage(start=100)
    start = 100 + TEXT.index("Wednesday")
    assert quoted_sentence(p, start, start + 9) == (112, 163)


def test_the_same_answer_in_other_words_case_or_punctuation_is_one_group():
    assert answer_key("Hua Chunying,") == answer_key("hua  chunying") == "hua chunying"
    candidates = [SpanCandidate(0, 0, 3, 1.0, "a b"), SpanCandidate(1, 0, 3, 4.0, "a b"), SpanCandidate(2, 0, 3, 2.0, "c")]
    groups = agreeing(candidates)
    assert list(groups) == ["a b", "c"]
    assert [c.passage for c in groups["a b"]] == [1, 0]  # best margin first


def features(margin=1.0, support=1, similarity=0.0, rank=0, coverage=1.0) -> AnswerFeatures:
    return AnswerFeatures(margin, support, similarity, rank, coverage)


def test_confidence_rises_with_margin_agreement_similarity_and_coverage_and_falls_with_rank():
    calibration = Calibration(margin_weight=0.8, support_weight=0.5, similarity_weight=2.0, rank_weight=-1.0, coverage_weight=3.0, bias=-1.0)
    confidence = calibration.confidence
    assert confidence(features(1.0)) < confidence(features(3.0)) < confidence(features(3.0, support=2))
    assert confidence(features(similarity=0.2)) < confidence(features(similarity=0.7))
    assert confidence(features(coverage=0.3)) < confidence(features(coverage=0.9))
    assert confidence(features(rank=3)) < confidence(features(rank=0))
    assert 0.0 < confidence(features(-1e6)) < confidence(features(1e6, support=5)) < 1.0 + 1e-12


@pytest.mark.parametrize(
    "weights, needs",
    [
        ({"similarity_weight": 1.5}, "sentence vectors"),
        ({"coverage_weight": 2.0}, "term statistics"),
        ({"names_weight": 2.0}, "answer-type check"),
        ({"wrong_type_refused": True}, "answer-type check"),
    ],
)
def test_a_calibration_that_uses_the_index_needs_it(tmp_path, weights, needs):
    folder = tmp_path / "reader"
    shutil.copytree(SHIPPED_READER, folder)
    (folder / "calibration.json").write_text(Calibration(**weights).model_dump_json(), encoding="utf-8")
    with pytest.raises(ValueError, match=needs):
        SpanReader(
            folder,
            packaged_model_path(),
            similarity=no_similarity if "similarity_weight" not in weights else None,
            coverage=full_coverage if "similarity_weight" not in weights and "coverage_weight" not in weights else None,
        )


def test_a_span_plainly_of_the_wrong_type_is_never_the_answer():
    """With the refusal on, a "how many" answered by a name gets confidence 0, whatever its other features."""
    refusing = Calibration(margin_weight=1.0, wrong_type_refused=True)
    assert refusing.confidence(AnswerFeatures(5.0, 1, 0.0, 0, 1.0, type_fit=-1.0)) == 0.0
    assert refusing.confidence(AnswerFeatures(5.0, 1, 0.0, 0, 1.0, type_fit=0.0)) > 0.99
    assert Calibration(margin_weight=1.0).confidence(AnswerFeatures(5.0, 1, 0.0, 0, 1.0, type_fit=-1.0)) > 0.99
    assert refusing.needs_answer_types and not Calibration(margin_weight=1.0).needs_answer_types


def test_coverage_is_the_share_of_the_questions_rare_terms_the_quoted_sentence_and_headline_hold():
    from rag.text import terms

    stories = {
        "Harbour board picks chair": "The Dunmore harbour board elected Ann Lee as its chair on Monday. She takes office in May.",
        "Port news": "The port board met on Monday to discuss dredging.",
        "Rail": "The rail board approved new trains.",
    }
    coverage = QuestionCoverage(LexicalIndex.build([terms(f"{t} {x}") for t, x in stories.items()]))  # its idf is what coverage reads

    def of(question: str, title: str, sentence: int = 0) -> float:
        text = stories[title]
        bounds = [(0, text.index(".") + 1), (text.index(".") + 2, len(text))]
        chunk = Chunk(id="c", article_id=title, text=text, start=0, end=len(text), sentences=bounds)
        story = Passage(row=0, chunk=chunk, article=Article(id=title, title=title, path="a.txt", text=text), score=1.0)
        return coverage(question, story, *bounds[sentence])

    assert of("Who chairs the Dunmore harbour board?", "Harbour board picks chair") == pytest.approx(1.0)
    # the other sentence names none of it; the headline names all but "Dunmore"
    assert 0.5 < of("Who chairs the Dunmore harbour board?", "Harbour board picks chair", 1) < 0.9
    # "Bayline" is in no article: the rarest term weighs most
    assert of("Who chairs the Bayline board?", "Port news") < 0.3 < of("Who chairs the port board?", "Port news")
    # question and function words are not what a question is about; with nothing else it is covered
    assert of("Who did what, and when?", "Rail") == 1.0
    # words are compared stemmed, as BM25 compares them
    assert of("Which chairs were elected?", "Harbour board picks chair") == pytest.approx(1.0)


def test_a_missing_model_file_is_one_line_that_names_it_and_the_fix(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(SHIPPED_READER, folder)
    (folder / "config.json").unlink()
    with pytest.raises(ReaderModelError, match=r"config\.json is missing.*RAG_READER=sentence") as caught:
        SpanReader(folder, packaged_model_path())
    assert "\n" not in str(caught.value)


def test_damaged_weights_are_one_line_that_names_the_file(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(SHIPPED_READER, folder)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    reader = SpanReader(folder, packaged_model_path(), similarity=no_similarity, coverage=full_coverage, answer_types=ANSWER_TYPES)
    with pytest.raises(ReaderModelError, match=r"model\.safetensors") as caught:
        reader.read("Who?", [passage()])
    assert "\n" not in str(caught.value)
    with pytest.raises(ReaderModelError, match=r"model\.safetensors"):  # what a server runs at start: said before any question
        reader.load()


def test_the_shipped_model_is_small_and_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (SHIPPED_READER / "model.safetensors").stat().st_size <= 25_000_000
    reader = SpanReader(SHIPPED_READER, packaged_model_path(), similarity=no_similarity, coverage=full_coverage, answer_types=ANSWER_TYPES)
    reading = reader.read("At what rate did the bank keep its rate?", [passage()])
    best = reading.evidence[0]
    assert TEXT[best.span_start : best.span_end] == "1.5 percent"
    assert (best.start, best.end) == (12, 63)


def test_no_answer_is_quoted_from_a_link_to_another_story():
    text = "ALSO READ: Nation sets rapid pace with 5G development\n\nSpokesperson Hua Chunying told an online press briefing on Wednesday."
    chunk = Chunk(id="c", article_id="a", text=text, start=0, end=len(text), sentences=[(0, 52), (54, len(text))])
    teased = Passage(row=0, chunk=chunk, article=Article(id="a", title="t", path="a.txt", text=text), score=1.0)
    reader = SpanReader(SHIPPED_READER, packaged_model_path(), threshold=0.0, similarity=no_similarity, coverage=full_coverage, answer_types=ANSWER_TYPES)
    for question in ("What pace did the nation set?", "How fast is 5G developing?", "How did Hua brief reporters?"):
        for evidence in reader.read(question, [teased]).evidence:
            assert evidence.span_start >= 54


def test_no_answer_is_quoted_from_a_dateline():
    from rag.index.chunking import split_sentences

    text = "PORT KESSING, Feb 15 - The strike at Port Kessing entered its second week on Monday, the union said."
    sentences = split_sentences(text)
    assert text[slice(*sentences[0])] == "PORT KESSING, Feb 15 -"  # the splitter's sentence of its own
    chunk = Chunk(id="c", article_id="a", text=text, start=0, end=len(text), sentences=sentences)
    story = Passage(row=0, chunk=chunk, article=Article(id="a", title="t", path="a.txt", text=text), score=1.0)
    reader = SpanReader(SHIPPED_READER, packaged_model_path(), threshold=0.0, similarity=no_similarity, coverage=full_coverage, answer_types=ANSWER_TYPES)
    for question in ("When did the strike begin?", "Where is the strike?", "What date was it on February?"):
        for evidence in reader.read(question, [story]).evidence:
            assert evidence.span_start >= sentences[1][0]


@pytest.mark.parametrize(
    "question, span",
    [
        ("Who is the Foreign Ministry spokesperson?", "Hua Chunying"),
        ("What did China call on countries to provide for 5G technology?", None),
    ],
)
def test_answers_on_the_seed_are_spans_inside_their_sentence(span_pipeline, question, span):
    answer = span_pipeline.ask(question)
    assert answer.found and answer.span and (span is None or answer.span == span)
    first = answer.citations[0]
    assert first.start <= first.span_start < first.span_end <= first.end


def test_the_same_answer_in_several_articles_is_cited_from_each(fresh_pipeline):
    pipeline = fresh_pipeline(extra=False, reader="span")
    (pipeline.corpus / "echo.txt").write_text(
        "5G report briefing\n\nAt the briefing, spokesperson Hua Chunying answered questions about the 5G report.\n", encoding="utf-8"
    )
    pipeline.index()
    answer = pipeline.ask("Who is the Foreign Ministry spokesperson?")
    assert answer.found and answer.span == "Hua Chunying"
    cited = {c.article_id for c in answer.citations if c.span_start is not None}
    assert len(cited) == 2


WORDS = [
    "who",
    "what",
    "when",
    "where",
    "said",
    "5G",
    "report",
    "China",
    "security",
    "Hua",
    "spokesperson",
    "Wednesday",
    "briefing",
    "network",
    "the",
    "published",
    "countries",
]


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))
def test_every_span_lies_inside_its_quoted_sentence_and_its_citation(span_pipeline, words):
    answer = span_pipeline.ask(" ".join(words) + "?")
    for c in answer.citations:
        assert c.start <= c.end and c.passage_start <= c.start
        assert c.end <= c.passage_start + len(c.passage)
        if c.span_start is not None:
            assert c.start <= c.span_start < c.span_end <= c.end
    if answer.found and answer.span:
        assert answer.span in answer.answer


def test_only_the_best_ranked_passages_are_read():
    other = "The council met on Tuesday. It approved the new library. Work starts next spring, officials said."
    off_topic = Passage(
        row=1,
        chunk=Chunk(id="o", article_id="o", text=other, start=0, end=len(other), sentences=[(0, 27), (28, 56), (57, len(other))]),
        article=Article(id="o", title="o", path="o.txt", text=other),
        score=0.9,
    )
    question = "At what rate did the bank keep its rate?"
    both = SpanReader(SHIPPED_READER, packaged_model_path(), threshold=0.0, similarity=no_similarity, coverage=full_coverage, answer_types=ANSWER_TYPES)
    first = SpanReader(
        SHIPPED_READER, packaged_model_path(), threshold=0.0, similarity=no_similarity, coverage=full_coverage, answer_types=ANSWER_TYPES, read_passages=1
    )
    assert {e.passage for e in both.read(question, [off_topic, passage()]).evidence} == {0, 1}
    assert {e.passage for e in first.read(question, [off_topic, passage()]).evidence} == {0}
    assert first.read(question, [passage(), off_topic]).evidence[0].span == (TEXT.index("1.5"), TEXT.index("1.5") + len("1.5 percent"))


# Over 256 word pieces, within the 1,000 characters a question may have.
LONG_QUESTION = " ".join(["why is it so"] * 75) + "?"


def test_a_question_over_256_word_pieces_reads_after_any_other_and_changes_none():
    """Issue: `rag serve` failed on such a question after any other ("Truncation error: Second sequence not
    provided"); the CLI, one question a process, did not."""
    reader = SpanReader(SHIPPED_READER, packaged_model_path(), threshold=0.0, similarity=no_similarity, coverage=full_coverage, answer_types=ANSWER_TYPES)
    question = "At what rate did the bank keep its rate?"
    readings = [reader.read(q, [passage()]) for q in (question, LONG_QUESTION, question, LONG_QUESTION)]
    assert readings[0] == readings[2] and readings[1] == readings[3]


def test_a_question_over_256_word_pieces_is_answered_after_others_in_either_order(span_pipeline):
    question = "Who is the spokesperson of the Foreign Ministry?"
    answers = [span_pipeline.ask(q).contract() for q in (question, LONG_QUESTION, question, LONG_QUESTION)]  # found or not, never an error
    assert answers[0] == answers[2] and answers[1] == answers[3]
