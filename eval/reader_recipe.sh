#!/usr/bin/env bash
# The whole reader recipe, round 2: negatives mined, stage 1 (all of SQuAD v1.1 train, one stage, a high
# learning rate), stage 2 (abstention: near misses, answer-deleted paragraphs, SQuAD 2.0 tuning
# unanswerables), each step resumable: run it again after an interruption and it goes on where it stopped.
#
#   bash eval/reader_recipe.sh                    # the CPU recipe: ~6 h on 2 cores, in as many sessions as it takes
#   DEVICE=cuda bash eval/reader_recipe.sh        # one GPU, one call (an H100: a few minutes)
#
# Checkpoints and models go to $WORK (default: the user cache folder, outside the work tree, so a new
# session resumes them); the finished model is $WORK/model. Calibrate it and compare it with the shipped
# one before copying it to rag/models/reader (eval/RESULTS.md, "Reader, round 2").
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
WORK=${WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/rag-news}
DATA=${DATA:-../shared/data}
DEVICE=${DEVICE:-auto}
THREADS=${THREADS:-0}
mkdir -p "$WORK"
common=(--data "$DATA" --negatives "$WORK/reader-negatives.jsonl" --device "$DEVICE" --threads "$THREADS")

# Retrieved passages without the answer for a fixed sample of 6,000 training questions (resumes by question id).
"$PYTHON" -m eval.train_reader mine --data "$DATA" --negatives "$WORK/reader-negatives.jsonl"

# Stage 1: every SQuAD v1.1 train question, their two best-ranked mined negatives (12% of the windows), lr 3e-4.
[ -f "$WORK/reader-full-model/training.json" ] || "$PYTHON" -m eval.train_reader train "${common[@]}" \
  --questions 87599 --negatives-per-question 2 --learning-rate 3e-4 --epochs 1 --checkpoint-every 100 \
  --work "$WORK/reader-full" --out "$WORK/reader-full-model"

# Stage 2: abstention at a low rate from stage 1's weights: 12,000 answerable questions seen again, near
# misses of the first 6,000 and answer-deleted paragraphs of the first 3,000, the next-ranked mined
# negatives, and 12 SQuAD 2.0 tuning articles' questions twice.
[ -f "$WORK/model/training.json" ] || "$PYTHON" -m eval.train_reader train "${common[@]}" \
  --init "$WORK/reader-full-model" --questions 12000 --near-misses 6000 --answer-deleted 3000 \
  --negatives-per-question 1 --first-negative 2 --abstention-articles 12 --abstention-repeats 2 \
  --learning-rate 3e-5 --epochs 1 --checkpoint-every 100 \
  --work "$WORK/reader-abstention" --out "$WORK/model"
echo "the model: $WORK/model"
