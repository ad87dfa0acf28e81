"""Near misses: unanswerable questions made from answerable ones, for the reader's abstention training.

SQuAD 2.0's unanswerable questions were written against the very paragraph, and most are of a few
kinds: another entity than the paragraph's ("… did Qantas choose" where the story is about Ansett),
another number or date, a negation, an antonym ("largest" for "smallest"). A reader that only ever
saw "no answer" on passages about something else answers all of them. These are made from SQuAD v1.1
train questions and their own paragraph, with spaCy's English pipeline (rag/query/entities.py), and
labelled "no answer" over that paragraph:

- entity: a named entity of the question swapped for another of the same label taken from other
  articles' questions, one the paragraph does not name;
- number: a number or date of the question changed to one the paragraph does not hold;
- negation: "not" after the question's auxiliary ("What did Beyoncé not release …");
- antonym: a word of a small list of opposites swapped, where the paragraph lacks the opposite.

A swap whose new words the paragraph holds is not made: the question might still be answerable.

    python -m eval.near_misses --questions 2000 --seed 0   # prints counts by kind and a sample
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.query.entities import Analysis, EntityTagger

SWAPPABLE_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "WORK_OF_ART", "PRODUCT", "LAW", "LANGUAGE"})
NUMERIC_LABELS = frozenset({"DATE", "CARDINAL", "MONEY", "PERCENT", "QUANTITY", "TIME"})
_OPPOSITES = [
    ("largest", "smallest"),
    ("biggest", "smallest"),
    ("highest", "lowest"),
    ("most", "least"),
    ("first", "last"),
    ("earliest", "latest"),
    ("oldest", "youngest"),
    ("longest", "shortest"),
    ("before", "after"),
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("rise", "fall"),
    ("rose", "fell"),
    ("won", "lost"),
    ("win", "lose"),
    ("bought", "sold"),
    ("buy", "sell"),
    ("import", "export"),
    ("imports", "exports"),
    ("north", "south"),
    ("east", "west"),
    ("more", "less"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("earlier", "later"),
    ("above", "below"),
    ("accepted", "rejected"),
    ("maximum", "minimum"),
    ("best", "worst"),
    ("strongest", "weakest"),
    ("richest", "poorest"),
    ("major", "minor"),
    ("inside", "outside"),
    ("northern", "southern"),
    ("eastern", "western"),
    ("ancient", "modern"),
    ("male", "female"),
]
OPPOSITES: dict[str, list[str]] = defaultdict(list)
for _word, _opposite in _OPPOSITES:
    OPPOSITES[_word].append(_opposite)
    OPPOSITES[_opposite].append(_word)
_NEGATED = re.compile(r"\b(?:not|never|no|none|neither|nor|without)\b|n[’']t\b", re.IGNORECASE)
_AUXILIARY_TAGS = frozenset({"MD", "VBD", "VBZ", "VBP"})
_AUXILIARY_WORDS = frozenset({"is", "are", "was", "were", "did", "does", "do", "has", "have", "had", "can", "could", "will", "would", "should", "may", "might"})
KINDS = ("entity", "number", "negation", "antonym")


@dataclass(frozen=True)
class NearMiss:
    question: str  # the changed question: its own paragraph does not answer it
    kind: str  # one of KINDS
    source: int  # index of the answerable question it was made from


def _holds(paragraph: str, words: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(words.lower())}(?!\w)", paragraph.lower()) is not None


def _replace(question: str, start: int, end: int, new: str) -> str:
    return question[:start] + new + question[end:]


def entity_swap(question: str, analysis: Analysis, paragraph: str, pool: dict[str, list[str]], rng: random.Random) -> str | None:
    """One of the question's names swapped for another of its label that the paragraph does not name."""
    names = [e for e in analysis.entities if e.label in SWAPPABLE_LABELS]
    rng.shuffle(names)
    for entity in names:
        choices = [c for c in rng.sample(pool.get(entity.label, []), min(8, len(pool.get(entity.label, [])))) if c.lower() != entity.text.lower()]
        for choice in choices:
            if not _holds(paragraph, choice):
                return _replace(question, entity.start, entity.end, choice)
    return None


def _changed_number(text: str, rng: random.Random) -> str:
    """The text with each number in it moved: a year by a few years, another number by a factor or an offset."""

    def moved(match: re.Match[str]) -> str:
        digits = match.group(0).replace(",", "")
        if "." in digits:
            return f"{float(digits) * rng.choice([2, 3, 0.5]):g}"
        value = int(digits)
        if 1000 <= value <= 2100 and len(digits) == 4:  # a year
            return str(value + rng.choice([-7, -5, -3, -2, 2, 3, 5, 8]))
        return str(value + rng.randint(1, 9) if value < 20 else value * rng.choice([2, 3]) + rng.randint(1, 9))

    return re.sub(r"\d[\d,]*(?:\.\d+)?", moved, text)


def number_swap(question: str, analysis: Analysis, paragraph: str, rng: random.Random) -> str | None:
    """A number or date of the question changed to one the paragraph does not hold."""
    for entity in analysis.entities:
        if entity.label in NUMERIC_LABELS and re.search(r"\d", entity.text):
            changed = _changed_number(entity.text, rng)
            if changed != entity.text and not _holds(paragraph, changed):
                return _replace(question, entity.start, entity.end, changed)
    return None


def negation(question: str, analysis: Analysis) -> str | None:
    """'not' before the verb the question's first auxiliary serves ('What did X not build?', 'Who was not
    elected …'), or after a copula that has none ('What is not …'); None when it is negated already."""
    if _NEGATED.search(question):
        return None
    tokens = analysis.tokens
    for token in tokens[1:]:
        if token.text.lower() in _AUXILIARY_WORDS and token.tag in _AUXILIARY_TAGS:
            verb = tokens[token.head]
            if token.dep in {"aux", "auxpass"} and verb.start > token.end and verb.tag.startswith("VB"):
                return _replace(question, verb.start, verb.start, "not ")
            return _replace(question, token.end, token.end, " not")
    return None


def antonym(question: str, paragraph: str) -> str | None:
    """A word of the list of opposites swapped for its (first) opposite, where the paragraph holds none of its opposites."""
    for match in re.finditer(r"[A-Za-z]+", question):
        word = match.group(0)
        opposites = OPPOSITES.get(word.lower(), [])
        if opposites and not any(_holds(paragraph, opposite) for opposite in opposites):
            return _replace(question, match.start(), match.end(), opposites[0].capitalize() if word[0].isupper() else opposites[0])
    return None


def near_misses(questions: Sequence[str], paragraphs: Sequence[str], seed: int = 0, tagger: EntityTagger | None = None) -> list[NearMiss]:
    """At most one near miss per question, of the kinds in turn (so the mix stays even), each checked
    against the question's own paragraph. Entities to swap in come from the other questions."""
    tagger = tagger or EntityTagger(parse=True)
    analyses = tagger.analyse(questions)
    pool: dict[str, list[str]] = defaultdict(list)
    for analysis in analyses:
        for entity in analysis.entities:
            if entity.label in SWAPPABLE_LABELS:
                pool[entity.label].append(entity.text)
    rng = random.Random(seed)
    made = []
    for number, (question, paragraph, analysis) in enumerate(zip(questions, paragraphs, analyses)):
        makers = {
            "entity": lambda: entity_swap(question, analysis, paragraph, pool, rng),
            "number": lambda: number_swap(question, analysis, paragraph, rng),
            "negation": lambda: negation(question, analysis),
            "antonym": lambda: antonym(question, paragraph),
        }
        # The kinds in turn; a question that cannot take its turn's kind takes another, but negation (which
        # nearly any question takes) only in its turn, so it stays a quarter of the mix at most.
        turn = KINDS[number % len(KINDS)]
        for kind in [turn] + [k for k in KINDS if k not in (turn, "negation")]:
            changed = makers[kind]()
            if changed and changed != question:
                made.append(NearMiss(changed, kind, number))
                break
    return made


# SQuAD v1.1 train, as eval/train_reader.py reads it (which imports this module: no import back).
SQUAD_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad-v1.1-train" / "train-v1.1.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=12, help="print this many, with the question each came from")
    args = parser.parse_args(argv)
    data = json.loads(SQUAD_TRAIN.read_text(encoding="utf-8"))["data"]
    flat = [(qa["question"], p["context"]) for a in data for p in a["paragraphs"] for qa in p["qas"]]
    chosen = random.Random(args.seed).sample(flat, min(args.questions, len(flat)))
    made = near_misses([q for q, _ in chosen], [p for _, p in chosen], args.seed)
    counts = {kind: sum(m.kind == kind for m in made) for kind in KINDS}
    print(json.dumps({"questions": len(chosen), "near_misses": len(made), "by_kind": counts}))
    for miss in made[: args.show]:
        print(json.dumps({**asdict(miss), "from": chosen[miss.source][0]}))


if __name__ == "__main__":
    main()
