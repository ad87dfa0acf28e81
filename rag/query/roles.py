"""A person a question names by name, where the story says their role: "When did Hua speak?" over
"…, a Foreign Ministry spokesperson said Wednesday" ("spokesperson Hua Chunying" further down).

News introduces a person once with their role ("spokesperson Hua Chunying", "Marta Sousa, the chief
executive of …") and then calls them either. The reader matches the question's words, so a question
that uses the other one finds nothing. The roles come from the article's own appositions; a question
that names such a person and got no answer is read again with the role in the name's place.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from rag.text import STOPWORDS

# What a person is called by in news copy; the last word of a role ("chief executive", "Foreign
# Ministry spokesperson"). Nouns only: a verb before a name ("said Hua") is no role.
_ROLE_WORDS = (
    "spokesperson spokesman spokeswoman minister secretary president vice-president chairman chairwoman chair "
    "executive director governor mayor leader head manager analyst economist official ambassador councillor "
    "councilor senator commissioner officer founder owner coach captain professor editor premier chancellor "
    "treasurer general commander inspector superintendent chief ceo cfo coo"
)
_ROLE_WORD_SET = frozenset(_ROLE_WORDS.split())
_ROLE = rf"(?i:{'|'.join(sorted(_ROLE_WORDS.split(), key=len, reverse=True))})"  # any case: "Spokesperson", "CEO"
_NAME = r"[A-Z][a-z'’-]+(?:[ ][A-Z][a-z'’-]+){1,2}"
_MODIFIER = r"[A-Za-z][\w'’-]*[ ]"  # a word of the role before its last ("Foreign", "finance"), no punctuation
# "Foreign Ministry spokesperson Hua Chunying", "Chief executive Roisin Callery"
_ROLE_THEN_NAME = re.compile(rf"\b(?P<role>(?:{_MODIFIER}){{0,2}}{_ROLE})[ ](?P<name>{_NAME})\b")
# "Hua Chunying, Spokesperson, Foreign Ministry", "Marta Sousa, the chief executive of …"
_NAME_THEN_ROLE = re.compile(rf"\b(?P<name>{_NAME}),[ ](?:(?:the|a|an|its|their)[ ])?(?P<role>(?:{_MODIFIER}){{0,2}}{_ROLE})\b")


class RoleReading(BaseModel):
    """A question read again with a person's role in place of their name."""

    question: str  # "When did the spokesperson speak?"
    name: str  # the name the question used: "Hua"
    role: str  # what the article calls them: "spokesperson"

    def label(self) -> str:
        return f"read as “{self.question}”: the article calls {self.name} the {self.role}"


def roles(text: str) -> dict[str, str]:
    """Each name word of a person the text gives a role ("Hua", "Chunying"), with that role ("spokesperson");
    a name given two roles keeps the first."""
    found: dict[str, str] = {}
    for pattern in (_ROLE_THEN_NAME, _NAME_THEN_ROLE):
        for match in pattern.finditer(text):
            name = match["name"]
            words = match["role"].split()
            while words and words[0].lower() in STOPWORDS:  # "by transport minister" is the transport minister
                words.pop(0)
            if not words:
                continue
            role = " ".join(w.lower() if w.lower() in _ROLE_WORD_SET else w for w in words)  # "Chief executive": the chief executive
            for word in name.split():
                found.setdefault(word, role)
    return found


def by_role(question: str, known: dict[str, str]) -> RoleReading | None:
    """The question with the first known name in it put as "the <role>"; None when it names none."""
    for word in re.findall(r"[A-Z][a-z'’-]+", question):
        role = known.get(word)
        if role is None or role.lower() in question.lower():
            continue
        # the whole name where the question gives it ("Hua Chunying"), else the word alone ("Hua")
        full = re.search(rf"(?:[A-Z][a-z'’-]+[ ])*{re.escape(word)}(?:[ ][A-Z][a-z'’-]+)*", question)
        name = full.group(0) if full and all(w in known for w in full.group(0).split()) else word
        return RoleReading(question=question.replace(name, f"the {role}", 1), name=name, role=role)
    return None
