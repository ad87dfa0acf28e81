"""The eval report folder: report.md with the figures of one `rag eval` run and PNG plots (matplotlib).

Plots: recall@k per retriever; answer metrics per retriever; confidence against correctness
(is the score calibrated?); latency per question; and, when some questions have no answer, what
each abstain threshold would give, with the threshold that handles most questions right.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from eval.metrics import abstain_sweep, recall_at  # noqa: E402
from eval.runner import QuestionResult  # noqa: E402

if TYPE_CHECKING:  # eval/suite.py imports this module when a report is asked for: no import back at run time
    from eval.suite import EvalRun

THRESHOLDS = np.round(np.arange(0.0, 1.0001, 0.01), 2)
CALIBRATION_BINS = 10
MAX_FALSE_ABSTAIN = 0.1


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _recall_curves(run: EvalRun, folder: Path) -> str:
    depth = max(len(r.ranked_docs) for results in run.results.values() for r in results) or 1
    ks = np.arange(1, depth + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, results in run.results.items():
        judged = [r for r in results if r.relevance and (run.graded or r.gold_answers)]
        curve = [float(np.mean([recall_at(r.ranked_docs, set(r.relevance), int(k)) for r in judged])) if judged else 0.0 for k in ks]
        ax.plot(ks, curve, marker="." if depth <= 30 else None, label=name)
    ax.set(xlabel="k (documents)", ylabel="recall@k", title="Recall@k per retriever", xscale="log" if depth > 30 else "linear")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, folder / "recall_at_k.png")


def _answer_bars(run: EvalRun, folder: Path) -> str:
    names = list(run.reports)
    answers = {name: report.answer or {} for name, report in run.reports.items()}  # graded runs read no answers
    metrics = list(next(iter(answers.values())))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, name in enumerate(names):
        values = [answers[name][m] for m in metrics]
        ax.bar(np.arange(len(metrics)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(metrics)) + width * (len(names) - 1) / 2, metrics, rotation=20, ha="right")
    ax.set(ylim=(0, 1), title=f"Answer metrics (abstain threshold {run.threshold:.2f})")
    ax.legend()
    return _save(fig, folder / "answers.png")


def calibration(results: list[QuestionResult]) -> tuple[list[dict[str, float]], float]:
    """Per confidence bin: mean confidence, share of right answers (the best sentence holds a gold
    answer; unanswerable questions are never right to answer), count; and the expected calibration error."""
    bins = []
    for low in np.linspace(0, 1, CALIBRATION_BINS, endpoint=False):
        high = low + 1 / CALIBRATION_BINS
        inside = [r for r in results if low <= r.score < high or (high >= 1 and r.score == 1.0)]
        if inside:
            bins.append(
                {
                    "low": float(low),
                    "confidence": float(np.mean([r.score for r in inside])),
                    "right": float(np.mean([r.answer_contains for r in inside])),
                    "count": len(inside),
                }
            )
    ece = sum(b["count"] * abs(b["confidence"] - b["right"]) for b in bins) / max(len(results), 1)
    return bins, ece


def _calibration_plot(run: EvalRun, folder: Path) -> tuple[str, dict[str, float]]:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    errors = {}
    for name, results in run.results.items():
        bins, errors[name] = calibration(results)
        ax.plot([b["confidence"] for b in bins], [b["right"] for b in bins], marker="o", label=f"{name} (ECE {errors[name]:.3f})")
    ax.set(xlabel="confidence (answer score)", ylabel="share right", xlim=(0, 1), ylim=(0, 1), title="Confidence vs correctness")
    ax.legend()
    return _save(fig, folder / "calibration.png"), errors


def _latency_plot(run: EvalRun, folder: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, results in run.results.items():
        ax.hist([r.latency_ms for r in results], bins=40, alpha=0.5, label=name)
    ax.set(xlabel="ms per question (end to end, index loaded)", ylabel="questions", title="Latency")
    ax.legend()
    return _save(fig, folder / "latency.png")


def _threshold_plot(sweep: list[dict[str, float]], current: float, chosen: float, folder: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("abstain_accuracy", "false_abstain_rate", "handled_right"):
        ax.plot([s["threshold"] for s in sweep], [s[key] for s in sweep], label=key)
    ax.axvline(current, color="grey", linestyle=":", label=f"setting {current:.2f}")
    ax.axvline(chosen, color="black", linestyle="--", label=f"chosen {chosen:.2f}")
    ax.set(xlabel="abstain threshold", ylim=(0, 1), title="What each abstain threshold gives")
    ax.legend(fontsize=8)
    return _save(fig, folder / "threshold.png")


def _table(rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])] + ["| " + " | ".join(r) + " |" for r in rows[1:]]


def _machine(networks: str) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load}, Python {platform.python_version()}, networks on {networks}"
    )


def write_report_folder(run: EvalRun, folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(run.reports)
    first = run.reports[names[0]]
    lines = [
        f"# Eval report: {run.source}",
        "",
        f"{first.questions} questions ({first.answerable} answerable, {first.unanswerable} not); "
        f"index: {first.index['articles']} articles, {first.index['chunks']} chunks. "
        f"Written {dt.datetime.now().isoformat(timespec='seconds')} on {_machine(run.networks)}; index in {run.index or 'its folder'}.",
        "",
        "## Retrieval",
        "",
        *_table([["retriever", *first.retrieval]] + [[n, *(f"{v:.3f}" for v in run.reports[n].retrieval.values())] for n in names]),
        "",
        f"![recall@k]({_recall_curves(run, folder)})",
        "",
    ]
    if not run.graded:
        lines += [
            f"## Answers (abstain threshold {run.threshold:.2f})",
            "",
            "exact_match and f1 score the narrowed span (the sentence when there is none); contains_answer: a gold answer is in the sentence shown.",
            "",
            *_table([["retriever", *(first.answer or {})]] + [[n, *(f"{v:.3f}" for v in (run.reports[n].answer or {}).values())] for n in names]),
            "",
            f"![answers]({_answer_bars(run, folder)})",
            "",
        ]
        plot, errors = _calibration_plot(run, folder)
        lines += [
            "## Confidence vs correctness",
            "",
            "Questions binned by answer score; 'share right': the best sentence holds a gold answer (never, for an unanswerable question). "
            "ECE: expected calibration error, the count-weighted gap between confidence and share right.",
            "",
            f"![calibration]({plot})",
            "",
            *_table([["retriever", "ECE"]] + [[n, f"{e:.3f}"] for n, e in errors.items()]),
            "",
        ]
        lines += _threshold_section(run, folder)
    lines += [
        "## Latency",
        "",
        *_table([["retriever", "p50 ms", "p95 ms"]] + [[n, *(f"{run.reports[n].latency_ms[p]:.1f}" for p in ("p50", "p95"))] for n in names]),
        "",
        f"![latency]({_latency_plot(run, folder)})",
        "",
    ]
    cold = run.reports[names[0]].cold_start_ms
    if cold is not None:
        lines += [f"Cold start, not in the latencies above: {cold:.0f} ms to load the index and the models and answer a first question.", ""]
    page = folder / "report.md"
    page.write_text("\n".join(lines), encoding="utf-8")
    return page


def _threshold_section(run: EvalRun, folder: Path) -> list[str]:
    name = "hybrid" if "hybrid" in run.results else next(iter(run.results))
    results = run.results[name]
    if not any(not r.gold_answers for r in results) or not any(r.gold_answers for r in results):
        return [f"## Abstain threshold\n\nNot chosen here: the questions need answerable and unanswerable ones alike (setting: {run.threshold:.2f}).\n"]
    sweep = abstain_sweep([r.score for r in results], [bool(r.gold_answers) for r in results], [r.answer_contains for r in results], THRESHOLDS)
    best = max(sweep, key=lambda s: (s["handled_right"], -s["threshold"]))
    # The product bar (the seed gold's): refuse at most one answerable question in ten.
    allowed = [s for s in sweep if s["false_abstain_rate"] <= MAX_FALSE_ABSTAIN]
    chosen = max(allowed, key=lambda s: (s["handled_right"], -s["threshold"]))
    never = sweep[0]  # threshold 0: every question answered
    current = min(sweep, key=lambda s: abs(s["threshold"] - run.threshold))
    rows = [["threshold", "abstain_accuracy", "false_abstain_rate", "handled right"]]
    labelled = (
        ("never abstain (0.00)", never),
        (f"setting ({run.threshold:.2f})", current),
        (f"chosen, false abstains <= {MAX_FALSE_ABSTAIN} ({chosen['threshold']:.2f})", chosen),
        (f"most handled right, unconstrained ({best['threshold']:.2f})", best),
    )
    for label, s in labelled:
        rows.append([label, f"{s['abstain_accuracy']:.3f}", f"{s['false_abstain_rate']:.3f}", f"{s['handled_right']:.3f}"])
    return [
        "## Abstain threshold",
        "",
        f"Swept over the {name} run's {len(results)} answer scores. 'Handled right': an unanswerable question abstained on, "
        "or an answerable one answered with a sentence holding a gold answer. "
        f"**Threshold chosen on these questions: {chosen['threshold']:.2f}** (the setting in use: {run.threshold:.2f}): "
        f"the most handled right ({chosen['handled_right']:.3f}; never abstaining: "
        f"{never['handled_right']:.3f}) among thresholds that refuse at most {MAX_FALSE_ABSTAIN:.0%} of answerable questions. "
        f"Without that bound {best['threshold']:.2f} would handle {best['handled_right']:.3f} right, "
        f"refusing {best['false_abstain_rate']:.0%} of answerable ones.",
        "",
        *_table(rows),
        "",
        f"![threshold]({_threshold_plot(sweep, run.threshold, chosen['threshold'], folder)})",
        "",
    ]
