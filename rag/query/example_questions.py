"""Example questions drawn from the library, so the page's examples fit whatever corpus it serves.

Each is a kind of question the product answers from the articles it holds: the latest news (the
newest stories, when there are several), who wrote and when was published the latest story about a
name in the newest headlines (answered from the article's header and byline), the latest on a name
in the newest headlines that several of them mention, and which articles mention it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.index.lexical import FUNCTION_WORDS
from rag.schema import Article

_WORD = re.compile(r"\w[\w'’&.-]*\w|\w")
# how many of the newest headlines a shared name is looked for in
HEADLINES_READ = 50
# characters of a headline quoted whole in an example (a longer one is cut off on the page)
SHORT_HEADLINE = 50


LATEST_NEWS = "What's the latest news?"


def example_questions(articles: Sequence[Article], count: int = 5) -> list[str]:
    """Up to `count` questions about the articles (newest first, as Pipeline.articles gives them)."""
    newest = [a for a in articles if a.headline.strip()][:HEADLINES_READ]  # a title made from the lead names no story
    named = [(a, story) for a in newest if (story := story_named(a))]
    questions = [LATEST_NEWS] if sum(a.published is not None for a in newest) > 1 else []
    signed = next(((a, story) for a, story in named if a.byline or a.source), None)
    if signed is not None:
        questions.append(f"Who wrote {signed[1]}?")
    dated = next((story for a, story in named if a.published and (signed is None or a is not signed[0])), None)
    if dated is not None:
        questions.append(f"When was {dated} published?")
    name = shared_name(newest)
    if name is not None:
        questions += [f"What's the latest on {name}?", f"Which articles mention {name}?"]
    return questions[:count]


def story_named(article: Article) -> str | None:
    """The article as a reader names it: "the latest story about <the first name in its headline>", or
    its whole headline when that is short; None when neither is."""
    names = names_in(article.headline, article.text)
    if names:
        return f"the latest story about {names[0]}"
    title = " ".join(article.headline.split())
    return f"the story headlined “{title}”" if len(title) <= SHORT_HEADLINE else None


def shared_name(articles: Sequence[Article]) -> str | None:
    """The first name in the newest headlines that several of the articles mention, else the first name."""
    names = [name for article in articles for name in names_in(article.headline, article.text)]
    for name in dict.fromkeys(names):
        mention = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        if sum(bool(mention.search(f"{a.title}\n{a.text}")) for a in articles) > 1:
            return name
    return names[0] if names else None


def names_in(headline: str, text: str) -> list[str]:
    """The headline's runs of name words with only spaces between them, as the headline writes them.
    In a headline written as a sentence, every capitalised word after the first is a name; the first,
    and every word of a headline in title case or capitals, is one when the text writes it as a name;
    a headline in capitals ("SANDOZ PLANS …") gives each name as the text writes it ("Sandoz")."""
    words = list(_WORD.finditer(headline))
    content = [w.group() for w in words if w.group().lower() not in FUNCTION_WORDS]
    title_case = sum(w[0].isupper() for w in content) > len(content) / 2
    runs: list[tuple[int, int]] = []
    for n, found in enumerate(words):
        word = found.group()
        capitalised = n > 0 and not title_case and len(word) > 1 and word[0].isupper() and word.lower() not in FUNCTION_WORDS
        if not (capitalised or is_name(word, text)):
            continue
        if runs and runs[-1][1] == found.start() - 1 and headline[runs[-1][1]] == " ":
            runs[-1] = (runs[-1][0], found.end())
        else:
            runs.append((found.start(), found.end()))
    shouted = headline.isupper()
    return [_as_written(headline[start:end], text) if shouted else headline[start:end] for start, end in runs]


def _as_written(name: str, text: str) -> str:
    """The name as the text first writes it, whatever the case; as given where the text lacks it."""
    found = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
    return found.group() if found else name


def is_name(word: str, text: str) -> bool:
    """A word with a digit ("5G"), or a capitalised word the text writes capitalised wherever it is not
    at the start of a sentence, and at least once there."""
    if word.lower() in FUNCTION_WORDS or len(word) < 2:
        return False
    if any(ch.isdigit() for ch in word):
        return any(ch.isalpha() for ch in word)
    if not word[0].isupper():
        return False
    inside = [m.group() for m in re.finditer(rf"(?<=[\w,;:] ){re.escape(word)}(?!\w)", text, re.IGNORECASE)]
    return bool(inside) and all(found[0].isupper() for found in inside)
