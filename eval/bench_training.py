"""Training throughput of the span reader on this machine: what the CPU recipe can afford (issue 29 item 5).

    python -m eval.bench_training [--steps 6] [--batch-size 32]

Times real training steps (forward, backward, AdamW) on windows of SQuAD v1.1 train questions, as
eval/train_reader.py builds them, for each setting beside the recipe's own (fp32, frozen word
embeddings, length-bucketed batches, torch's default threads) measured in the same run:
- bf16 autocast (fast only where the CPU has AVX-512 BF16 or AMX; the flags are printed);
- batches padded to max_length instead of bucketed by length;
- the word-embedding table trained instead of frozen;
- one thread instead of all.
Each setting starts from the same weights; the first step of each is a warm-up and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from eval.train_reader import DATA, TRAIN_FILE, Recipe, bucketed_batches, collate, featurize, read_squad, training_examples


def cpu_flags() -> list[str]:
    """The CPU's vector flags that decide whether bf16 pays (Linux /proc/cpuinfo; empty elsewhere)."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return []
    line = next((row for row in path.read_text().splitlines() if row.startswith("flags")), "")
    return sorted(flag for flag in line.split() if flag.startswith(("avx", "amx", "fma")))


def timed_steps(model, features, batches, steps: int, autocast) -> float:
    """Windows per second over `steps` training steps, after one untimed warm-up step."""
    import torch

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    windows, seconds = 0, 0.0
    for number, batch in enumerate(batches[: steps + 1]):
        tick = time.perf_counter()
        with autocast:
            loss = model(**collate(features, batch, "cpu")).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if number:
            seconds += time.perf_counter() - tick
            windows += len(batch)
    return windows / seconds


def main(argv: list[str] | None = None) -> None:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from rag.config import packaged_model_path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per setting")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    base = packaged_model_path()
    recipe = Recipe(questions=args.batch_size * (args.steps + 1) * 4, negatives_per_question=0, batch_size=args.batch_size)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    examples = training_examples(read_squad(args.data / TRAIN_FILE), Path("/nonexistent"), recipe)
    features = featurize(tokenizer, examples, recipe)
    lengths = [len(ids) for ids in features["input_ids"]]
    bucketed = bucketed_batches(lengths, recipe, 0)
    padded_features = {**features, "input_ids": [ids + [0] * (recipe.max_length - len(ids)) for ids in features["input_ids"]]}
    padded_features["token_type_ids"] = [t + [0] * (recipe.max_length - len(t)) for t in features["token_type_ids"]]
    shuffled = [list(range(i, min(i + recipe.batch_size, len(lengths)))) for i in range(0, len(lengths), recipe.batch_size)]
    all_threads = torch.get_num_threads()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()}, torch {torch.__version__}, "
        f"{all_threads} threads; vector flags: {' '.join(cpu_flags()) or 'unknown'}; {len(lengths)} windows, "
        f"mean {sum(lengths) / len(lengths):.0f} tokens, batch {recipe.batch_size}, {args.steps} timed steps each",
        flush=True,
    )
    fp32 = torch.autocast("cpu", enabled=False)
    bf16 = torch.autocast("cpu", dtype=torch.bfloat16)
    settings = [
        ("recipe: fp32, frozen word embeddings, bucketed", features, bucketed, fp32, True, all_threads),
        ("bf16 autocast", features, bucketed, bf16, True, all_threads),
        ("padded to max_length (no buckets)", padded_features, shuffled, fp32, True, all_threads),
        ("word embeddings trained", features, bucketed, fp32, False, all_threads),
        ("1 thread", features, bucketed, fp32, True, 1),
    ]
    results = {}
    for name, feats, batches, autocast, frozen, threads in settings:
        torch.manual_seed(0)
        torch.set_num_threads(threads)
        model = AutoModelForQuestionAnswering.from_pretrained(base, local_files_only=True, dtype=torch.float32)
        model.get_input_embeddings().weight.requires_grad_(not frozen)
        model.train()
        rate = timed_steps(model, feats, batches, args.steps, autocast)
        results[name] = round(rate, 2)
        print(f"{name:50s} {rate:6.2f} windows/s  ({rate / results[settings[0][0]]:.2f}x the recipe)", flush=True)
    torch.set_num_threads(all_threads)
    print(json.dumps({"windows_per_s": results, "load_after": os.getloadavg()}))


if __name__ == "__main__":
    main()
