"""What kind of thing a question asks for, and whether a candidate answer is one.

From the question's wh-word and head noun an expected type (a person, an organisation, a place, a
date, a count, an amount, a measure, or anything); from the named entities spaCy finds in the
quoted sentence (rag/query/entities.py), whether the span fits it: +1 it does, -1 it plainly does
not (a company or a date for "how many"; no number at all for "how much"), 0 it cannot be told.
And whether the names the question gives (a company, a person, a place) are in the story at all: a
question about "Qantas's 747-400 engine" over a story that never names an engine maker is the near
miss news questions meet most. Both are features of the span reader's calibrated confidence.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache

from rag.query.entities import Entity, EntityTagger, Token
from rag.schema import Passage


class ExpectedType(str, Enum):
    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    DATE = "date"
    COUNT = "count"  # how many
    AMOUNT = "amount"  # how much, a price, a rate, a share
    MEASURE = "measure"  # how long, far, big, old
    ANY = "any"


_NUMERIC = frozenset({ExpectedType.COUNT, ExpectedType.AMOUNT, ExpectedType.MEASURE})
_NAMES = frozenset({"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"})
_NUMBERS = frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY", "ORDINAL"})
_TIMES = frozenset({"DATE", "TIME"})
# Per expected type: the entity labels that fit it, and those that plainly do not.
_FITS: dict[ExpectedType, tuple[frozenset[str], frozenset[str]]] = {
    ExpectedType.PERSON: (frozenset({"PERSON", "ORG", "NORP", "GPE"}), _NUMBERS | _TIMES),
    ExpectedType.ORGANISATION: (frozenset({"ORG", "NORP", "GPE", "PERSON", "FAC", "PRODUCT"}), _NUMBERS | _TIMES),
    ExpectedType.PLACE: (frozenset({"GPE", "LOC", "FAC", "ORG", "NORP"}), _NUMBERS | _TIMES),
    ExpectedType.DATE: (_TIMES | {"CARDINAL"}, _NAMES | {"MONEY", "PERCENT", "QUANTITY"}),
    ExpectedType.COUNT: (_NUMBERS | _TIMES, _NAMES),
    ExpectedType.AMOUNT: (frozenset({"MONEY", "PERCENT", "CARDINAL", "QUANTITY"}), _NAMES | _TIMES),
    ExpectedType.MEASURE: (frozenset({"QUANTITY", "CARDINAL", "DATE", "TIME", "MONEY", "PERCENT"}), _NAMES),
}

_AMOUNT_NOUNS = frozenset(
    "price prices revenue revenues profit profits loss losses cost costs value dividend dividends spread rate rates percentage "
    "share stake deficit surplus earnings sales income budget debt amount sum salary fine premium yield margin tariff tax "
    "fee charge output production capacity volume quota level target forecast growth inflation unemployment turnover worth "
    "payment figure total".split()
)
_ORGANISATION_NOUNS = frozenset(
    "company companies firm firms bank banks agency agencies group groups organisation organization organisations "
    "organizations party parties team ministry department body bodies union unions airline carrier exchange court government "
    "committee council newspaper maker makers manufacturer insurer broker brokerage utility subsidiary unit institution board "
    "bidder buyer partner".split()
)
_PLACE_NOUNS = frozenset(
    "city cities country countries state states province port ports region town island nation capital area continent county district".split()
)
_TIME_NOUNS = frozenset("year date day month time week decade century season quarter".split())
_HEAD_TYPES = [
    (_AMOUNT_NOUNS, ExpectedType.AMOUNT),
    (_TIME_NOUNS, ExpectedType.DATE),
    (_PLACE_NOUNS, ExpectedType.PLACE),
    (_ORGANISATION_NOUNS, ExpectedType.ORGANISATION),
]
_KIND_NOUNS = frozenset({"kind", "type", "sort", "form", "class"})


def head_noun(tokens: list[Token]) -> Token | None:
    """The noun a question's "what" or "which" asks about, from its parse: the noun the wh-word determines
    ("which engine maker …", "at what rate …"; through "kind of": "what kind of exchange rate arrangement"),
    or the other side of its copula ("what was Sears's first-quarter revenue"). None without one."""
    wh = next((n for n, t in enumerate(tokens) if t.text.lower() in ("what", "which")), None)
    if wh is None:
        return None
    children: dict[int, list[int]] = {}
    for n, token in enumerate(tokens):
        if token.head != n:
            children.setdefault(token.head, []).append(n)
    if tokens[wh].dep == "det":
        noun = tokens[wh].head
    else:  # "what is / was X": X is the copula's other argument
        verb = tokens[wh].head
        if tokens[verb].text.lower() not in ("is", "was", "are", "were", "be"):
            return None
        others = [n for n in children.get(verb, []) if n != wh and tokens[n].dep in ("nsubj", "attr", "nsubjpass")]
        if not others:
            return None
        noun = others[0]
    if tokens[noun].text.lower() in _KIND_NOUNS:  # "what kind of X": X
        of = next((n for n in children.get(noun, []) if tokens[n].text.lower() == "of"), None)
        objects = [n for n in children.get(of, []) if tokens[n].dep == "pobj"] if of is not None else []
        noun = objects[0] if objects else noun
    return tokens[noun] if tokens[noun].tag.startswith("NN") else None


def expected_type(question: str, tokens: list[Token] | None = None) -> ExpectedType:
    """The kind of answer the question asks for, from its wh-word and, given its parse (`tokens`), the head
    noun of a "what" or "which" question."""
    q = " ".join(question.lower().split())
    if re.search(r"\bhow\s+many\b|\b(?:what|which)\s+(?:is\s+the\s+|was\s+the\s+)?number\s+of\b", q):
        return ExpectedType.COUNT
    if re.search(r"\bhow\s+much\b|\bby\s+how\s+much\b", q):
        return ExpectedType.AMOUNT
    if re.search(r"\bhow\s+(?:long|far|big|large|old|tall|high|deep|fast|wide|heavy|often)\b", q):
        return ExpectedType.MEASURE
    head = head_noun(tokens) if tokens else None
    # A capitalised head is a name's word ("the latest Bank of England growth forecast" is parsed so at times).
    if head is not None and not head.tag.startswith("NNP"):
        for nouns, kind in _HEAD_TYPES:
            if head.text.lower() in nouns:
                return kind
    if re.search(r"^\s*when\b|\bwhen\s+(?:did|does|do|is|was|were|will|would|has|have|had)\b", q):
        return ExpectedType.DATE
    if re.search(r"\bwhere\b", q):
        return ExpectedType.PLACE
    first = re.search(r"\b(?:who|whom|whose|what|which|how|when|where|why)\b", q)
    if (first and first.group(0) in ("who", "whom", "whose")) or re.search(r"\bwhat\s+is\s+the\s+name\s+of\b", q):
        return ExpectedType.PERSON  # "who" as the question's own wh-word, not a relative clause's ("… each employee who …")
    return ExpectedType.ANY


_NUMBER_WORD = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|trillion|dozens?|half|third|quarter|several|few|no|none|single|double|triple|twice)\b",
    re.IGNORECASE,
)


def span_fit(expected: ExpectedType, span: tuple[int, int], text: str, entities: list[Entity]) -> float:
    """+1 when an entity of a fitting label covers most of the span, or a numeric question's span holds a
    number; -1 when an entity of a plainly wrong label covers most of it, or a numeric question's span holds
    no number at all; 0 when it cannot be told. `span` and the entities' offsets are into `text`."""
    if expected is ExpectedType.ANY:
        return 0.0
    start, end = span
    if expected in _NUMERIC and not _NUMBER_WORD.search(text[start:end]):
        return -1.0
    length = max(end - start, 1)
    fitting, wrong = _FITS[expected]
    covered = {"fit": 0, "wrong": 0}
    for entity in entities:
        overlap = min(end, entity.end) - max(start, entity.start)
        if overlap > 0:
            kind = "fit" if entity.label in fitting else "wrong" if entity.label in wrong else ""
            if kind:
                covered[kind] += overlap
    if covered["fit"] * 2 >= length:
        return 1.0
    if covered["wrong"] * 2 >= length:
        return -1.0
    return 1.0 if expected in _NUMERIC else 0.0


# The entity labels a question names its subject with; dates and numbers in a question are conditions, not names.
_SUBJECT_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"})


def folded_words(text: str) -> str:
    """Lower-case words and numbers joined by single spaces, punctuation and line breaks dropped: wire copy's
    hard wraps ("Banca Nazionale\ndel Lavoro") and possessives ("General Motors'") then match."""
    return " ".join(re.sub(r"['’]s\b", "", text.lower()).translate(_PUNCTUATION_TO_SPACE).split())


_PUNCTUATION_TO_SPACE = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~’‘“”—–"})
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+")


def names_present(question_entities: list[Entity], story: str) -> float:
    """How far the story names the question's named subjects (a person, a company, a place, …): per name 1
    when its words stand together in the story, else the share of its words the story holds anywhere;
    the mean over the names, 1.0 when the question names none. `story` is `folded_words` of its text."""
    names = {_LEADING_ARTICLE.sub("", folded_words(e.text)) for e in question_entities if e.label in _SUBJECT_LABELS}
    names.discard("")
    if not names:
        return 1.0
    padded, words = f" {story} ", set(story.split())
    scores = [1.0 if f" {name} " in padded else sum(w in words for w in name.split()) / len(name.split()) for name in names]
    return sum(scores) / len(scores)


class AnswerTypeCheck:
    """The two answer-type features of a candidate span, with spaCy run only on the question (parsed) and
    the sentences quoted (entities only)."""

    def __init__(self, tagger: EntityTagger | None = None, cached: int = 4096):
        self.tagger = tagger or EntityTagger(parse=True)
        # Line breaks as spaces (offsets kept): spaCy reads a hard-wrapped wire line's end as a boundary.
        self._entities = lru_cache(maxsize=cached)(lambda text: self.tagger.entities([text.replace("\n", " ")])[0])
        self._question = lru_cache(maxsize=cached)(lambda question: self.tagger.analyse([question])[0])
        self._story = lru_cache(maxsize=cached)(folded_words)

    def load(self) -> None:
        self.tagger.load()

    def load_in_background(self) -> None:
        self.tagger.load_in_background()

    def expected(self, question: str) -> ExpectedType:
        return expected_type(question, self._question(question).tokens)

    def type_fit(self, question: str, passage: Passage, sentence: tuple[int, int], span: tuple[int, int]) -> float:
        """span_fit of the span (article offsets) against the entities of the sentence quoted with it (article offsets)."""
        expected = self.expected(question)
        if expected is ExpectedType.ANY:
            return 0.0
        text = passage.chunk.slice(*sentence)
        return span_fit(expected, (span[0] - sentence[0], span[1] - sentence[0]), text, self._entities(text))

    def names_present(self, question: str, passage: Passage) -> float:
        """names_present of the question against the passage's whole article: its headline, source and byline
        included ("What did Reuters report …" names the agency, which the story's text seldom does)."""
        article = passage.article
        story = "\n".join(part for part in (article.title, article.source, article.byline, article.text) if part)
        return names_present(self._question(question).entities, self._story(story))
