"""Word pieces for the transformer networks, from the model folder's tokenizer.json: the only module
that imports the `tokenizers` library.

transformers' tokenizers are this same Rust library underneath, but importing them imports torch
(1.8 s measured on this machine, for each `rag ask`); this wrapper costs 0.02 s. It returns plain
numpy arrays that either runtime (rag/runtime.py) takes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# The fewest context tokens a window adds beyond the stride it shares with the window before.
MIN_CONTEXT_TOKENS = 32


class TokenizerError(RuntimeError):
    """The model folder's tokenizer.json is missing or unreadable; the message names the file."""


class TokenBatch:
    """A padded batch of windows: the network's inputs, each window's character offsets and, for
    question/context pairs, which text a token came from and which pair a window belongs to.

    Reads like transformers' BatchEncoding where rag/query/spans.py looks (`batch["offset_mapping"]`,
    `batch["overflow_to_sample_mapping"]`, `batch.sequence_ids(window)`), so the span code serves
    both this and the training script's tokenizer."""

    def __init__(self, encodings: Sequence, pair_of_window: Sequence[int]):
        length = max((len(e.ids) for e in encodings), default=0)
        shape = (len(encodings), length)
        self.inputs = {name: np.zeros(shape, dtype=np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
        self.offsets = np.zeros((*shape, 2), dtype=np.int64)
        self._sequence_ids: list[list[int | None]] = []
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            self.inputs["input_ids"][row, :n] = encoding.ids
            self.inputs["attention_mask"][row, :n] = encoding.attention_mask
            self.inputs["token_type_ids"][row, :n] = encoding.type_ids
            if n:
                self.offsets[row, :n] = encoding.offsets
            self._sequence_ids.append(list(encoding.sequence_ids) + [None] * (length - n))
        self.pair_of_window = np.asarray(pair_of_window, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.pair_of_window)

    def __getitem__(self, key: str) -> np.ndarray:
        if key == "offset_mapping":
            return self.offsets
        if key == "overflow_to_sample_mapping":
            return self.pair_of_window
        return self.inputs[key]

    def sequence_ids(self, window: int) -> list[int | None]:
        return self._sequence_ids[window]


class WordPieces:
    """Tokenises single texts (the encoder) and question/context pairs in overlapping windows (the
    reader), as transformers' fast tokenizer does with truncation, stride and padding.

    The library keeps truncation on the tokenizer, not on the call: set for one call, it stays for the
    next (a long question measured alone under a pair's "only_second" failed with "Second sequence not
    provided" on `rag serve`'s second question). So each kind of call has a tokenizer of its own, set up
    once and never changed after: no call's settings reach another, whatever their order, and threads
    share them (changing a tokenizer another thread is encoding with fails too)."""

    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        path = Path(folder) / "tokenizer.json"
        try:
            self._plain = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust library raises a bare Exception for a missing or bad file
            raise TokenizerError(f"cannot read the tokenizer {path} ({exc})") from exc
        # The file may carry its own truncation and padding settings; none are wanted here.
        self._plain.no_padding()
        self._plain.no_truncation()
        self._truncating: dict[tuple[int, int, str], Tokenizer] = {}

    def _truncating_at(self, max_length: int, stride: int = 0, strategy: str = "longest_first") -> Tokenizer:
        """A tokenizer of its own that truncates so, made on the first call that asks for these settings
        (two threads at once may both make one: they are the same, either is kept)."""
        key = (max_length, stride, strategy)
        if key not in self._truncating:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_str(self._plain.to_str())
            tokenizer.enable_truncation(max_length, stride=stride, strategy=strategy)
            self._truncating[key] = tokenizer  # set up before it is shared, never changed after
        return self._truncating[key]

    @staticmethod
    def max_length_of(folder: Path, default: int = 512) -> int:
        """The model's longest input: sentence-transformers' max_seq_length, else the tokenizer's model_max_length."""
        for name, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
            path = Path(folder) / name
            if path.is_file():
                value = json.loads(path.read_text(encoding="utf-8")).get(key)
                if isinstance(value, int) and 0 < value <= 100_000:
                    return value
        return default

    def texts(self, texts: Sequence[str], max_length: int) -> TokenBatch:
        encodings = self._truncating_at(max_length).encode_batch(list(texts))
        return TokenBatch(encodings, range(len(encodings)))

    def pairs(self, question: str, contexts: Sequence[str], max_length: int, stride: int) -> TokenBatch:
        """Each context with the question in windows of at most max_length tokens, `stride` tokens shared
        between a context's neighbouring windows. A question too long to leave each window
        MIN_CONTEXT_TOKENS new context tokens is cut to its first word pieces that do (the library
        would abort the process otherwise: its stride must stay below the room the question leaves)."""
        room = max_length - stride - 3 - MIN_CONTEXT_TOKENS  # 3: [CLS] and two [SEP]
        if room < 1:
            raise ValueError(f"max_length {max_length} leaves no room for a question beside stride {stride}")
        pieces = self._plain.encode(question, add_special_tokens=False)  # all of them: measured untruncated
        if len(pieces.ids) > room:
            question = question[: pieces.offsets[room - 1][1]]
        windows, pair_of_window = [], []
        tokenizer = self._truncating_at(max_length, stride, "only_second")
        for pair, encoding in enumerate(tokenizer.encode_batch([(question, context) for context in contexts])):
            for window in [encoding, *encoding.overflowing]:
                windows.append(window)
                pair_of_window.append(pair)
        return TokenBatch(windows, pair_of_window)
