from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunking import Chunker, split_sentences
from rag.schema import Article


def article(text: str) -> Article:
    return Article(id="a", title="t", path="a.txt", text=text)


def test_sentences_respect_abbreviations_and_lines():
    text = "Mr. Smith went to Washington. He met Dr. Jones at 5 p.m. on Monday!\nA pull quote without a stop\nLast one?"
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == [
        "Mr. Smith went to Washington.",
        "He met Dr. Jones at 5 p.m. on Monday!",
        "A pull quote without a stop",
        "Last one?",
    ]


def test_chunks_group_sentences_with_overlap():
    text = " ".join(f"Sentence number {i} has exactly six words." for i in range(20))
    chunks = Chunker(max_words=20, overlap_sentences=1).split(article(text))
    assert all(len(c.text.split()) <= 20 for c in chunks)
    for before, after in zip(chunks, chunks[1:]):
        assert after.sentences[0] == before.sentences[-1]  # one sentence of overlap
    assert chunks[-1].end == len(text)


def test_a_sentence_longer_than_a_chunk_is_cut_at_words():
    text = " ".join(["word"] * 250)
    chunks = Chunker(max_words=100, overlap_sentences=0).split(article(text))
    assert [len(c.text.split()) for c in chunks] == [100, 100, 50]


text_strategy = st.text(
    alphabet=st.sampled_from(list("abcXYZ .!?\n\t'\"—é5")) | st.characters(blacklist_categories=("Cs",)),
    max_size=600,
)


@settings(max_examples=300)
@given(text=text_strategy, max_words=st.integers(3, 40), overlap=st.integers(0, 2))
def test_chunk_offsets_always_index_the_article(text, max_words, overlap):
    source = article(text)
    chunks = Chunker(max_words=max_words, overlap_sentences=overlap).split(source)
    covered = set()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        for start, end in chunk.sentences:
            assert chunk.start <= start < end <= chunk.end
            covered.add((start, end))
    # every sentence of the text lands in some chunk; nothing but white space is left out
    assert covered == set(split_sentences(text, max_words))
    kept = "".join(text[s:e] for s, e in sorted(covered))
    assert "".join(kept.split()) == "".join(text.split())
