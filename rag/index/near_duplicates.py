"""Wire copies: the same story under another outlet or headline, or with its last paragraph trimmed.

Two articles are copies when most word 5-grams of the shorter one are in the longer one. datasketch's
MinHash estimates the Jaccard similarity of the two 5-gram sets from 128 hashes; with the sets'
sizes that gives the share of the shorter one inside the longer (a trimmed copy has a low Jaccard
but all of its text in the original). Signatures are made on demand for the articles a question
retrieves and kept per article, so nothing is added to indexing and only retrieved articles pay.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from rag.schema import Article

SHINGLE_WORDS = 5
# Of the shorter text's 5-grams, this share must be in the other: a copy with its last paragraph cut
# keeps all of its own; the same topic on another day, with other figures, shares far fewer.
CONTAINED = 0.8
_WORD = re.compile(r"\w+")
_PERMUTATIONS = 128
_KEPT = 4096  # signatures kept (the articles of recent questions)


class WireCopies:
    """Which retrieved articles are copies of one story (thread-safe; signatures cached per article)."""

    def __init__(self) -> None:
        self._signatures: OrderedDict[tuple[str, int], tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def same_story(self, a: Article, b: Article) -> bool:
        if a.id == b.id:
            return True
        (first, first_size), (second, second_size) = self._signature(a), self._signature(b)
        if not first_size or not second_size:
            return False
        jaccard = first.jaccard(second)
        shared = jaccard / (1 + jaccard) * (first_size + second_size)  # |A ∩ B| from J and the set sizes
        return shared >= CONTAINED * min(first_size, second_size)

    def _signature(self, article: Article) -> Any:  # a datasketch.MinHash
        from datasketch import MinHash

        key = (article.id, len(article.text))
        with self._lock:
            if key in self._signatures:
                self._signatures.move_to_end(key)
                return self._signatures[key]
        words = _WORD.findall(article.text.lower())
        shingles = {" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(max(len(words) - SHINGLE_WORDS + 1, 0))}
        signature = MinHash(num_perm=_PERMUTATIONS, seed=1)
        signature.update_batch(list(shingles))
        with self._lock:
            self._signatures[key] = (signature, len(shingles))
            if len(self._signatures) > _KEPT:
                self._signatures.popitem(last=False)
        return signature, len(shingles)
