"""The span reader's weights on disk: what ships in rag/models/reader/ and how it becomes a model again.

The shipped folder holds everything but the word-embedding table, in fp16 (about 22 MB): the table
was frozen during training and is taken from the packaged all-MiniLM-L6-v2 at load time, so the
repository carries no copy of it. Any ordinary SQuAD-style folder (a `model.safetensors` with its
own embeddings) loads too. No pydantic here: the training script on a bare GPU machine imports it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHIPPED_READER = Path(__file__).resolve().parents[1] / "models" / "reader"
WEIGHTS_FILE = "model.safetensors"
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


class ReaderModelError(RuntimeError):
    """The reader model folder is missing or damaged; the message names the file and the fix."""


def repair_hint(folder: Path) -> str:
    if Path(folder).resolve() == SHIPPED_READER:
        return "reinstall the project (`make install`), or set RAG_READER=sentence to use the built-in sentence reader"
    return "point RAG_READER_MODEL_PATH at a SQuAD-style model folder, or set RAG_READER=sentence"


def load_reader_model(folder: Path, base_folder: Path) -> tuple[Any, Any]:
    """(transformers tokenizer, BertForQuestionAnswering in eval mode): for training and benchmarks."""
    from transformers import AutoTokenizer

    model = load_reader_network(folder, base_folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder(folder, base_folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ReaderModelError(f"the reader's tokenizer in {tokenizer_folder(folder, base_folder)} cannot be read ({exc}): {repair_hint(folder)}") from exc
    return tokenizer, model


def load_reader_network(folder: Path, base_folder: Path) -> Any:
    """The BertForQuestionAnswering torch module, in eval mode, from a reader folder and the packaged base model."""
    from transformers import AutoConfig, AutoModelForQuestionAnswering
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()  # its notes on config fields a QA model does not use
    folder, base_folder = Path(folder), Path(base_folder)
    config_file, weights_file = folder / "config.json", folder / WEIGHTS_FILE
    if not config_file.is_file():
        raise ReaderModelError(f"the reader model file {config_file} is missing: {repair_hint(folder)}")
    try:
        if weights_file.is_file():
            model = _assembled(AutoConfig.from_pretrained(folder, local_files_only=True), load_file_checked(weights_file), weights_file, base_folder)
        else:  # another SQuAD-style folder (pytorch_model.bin, sharded weights): transformers reads it whole
            model = AutoModelForQuestionAnswering.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise ReaderModelError(f"the reader model in {folder} cannot be read ({exc}): {repair_hint(folder)}") from exc
    return model.eval()


def tokenizer_folder(folder: Path, base_folder: Path) -> Path:
    """The reader's own tokenizer if it has one; the shipped reader uses the base model's."""
    return Path(folder) if (Path(folder) / "tokenizer.json").is_file() else Path(base_folder)


def reader_files(folder: Path, base_folder: Path) -> list[Path]:
    """Every file the reader's network is made of (a change to any is a different network)."""
    folder = Path(folder)
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    return [folder / "config.json", *weights, Path(base_folder) / WEIGHTS_FILE]


def _assembled(config: Any, weights: dict, weights_file: Path, base_folder: Path) -> Any:
    """The model from shipped weights, the frozen word-embedding table taken from the base model."""
    from transformers import AutoModelForQuestionAnswering

    if WORD_EMBEDDINGS not in weights:
        base = load_file_checked(base_folder / WEIGHTS_FILE)
        table = base.get("embeddings.word_embeddings.weight", base.get(WORD_EMBEDDINGS))
        if table is None:
            raise ReaderModelError(f"{base_folder / WEIGHTS_FILE} has no word-embedding table for the reader")
        weights[WORD_EMBEDDINGS] = table
    model = AutoModelForQuestionAnswering.from_config(config)
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=False)
    missing = [name for name in missing if not name.endswith("position_ids")]
    if missing or unexpected:
        raise ReaderModelError(
            f"{weights_file} does not fit its config (missing {missing[:3]}, unexpected {unexpected[:3]}): {repair_hint(weights_file.parent)}"
        )
    return model


def load_file_checked(path: Path) -> dict:
    """A safetensors file's tensors; a missing or damaged file is a ReaderModelError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (OSError, SafetensorError) as exc:
        raise ReaderModelError(f"cannot read {path} ({exc}): {repair_hint(path.parent)}") from exc


def save_reader_model(model: Any, folder: Path, extra_files: dict[str, dict] | None = None) -> None:
    """The trainable weights in fp16, without the frozen word-embedding table, plus config and JSON side files."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().to("cpu").half().contiguous() for k, v in model.state_dict().items() if k != WORD_EMBEDDINGS}
    save_file(weights, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    (folder / WEIGHTS_FILE).chmod(0o644)  # safetensors writes owner-only; the file ships in the repository
    model.config.to_json_file(folder / "config.json")
    for name, data in (extra_files or {}).items():
        (folder / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
