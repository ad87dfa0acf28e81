"""How far to trust an answer, in words a reader can act on.

The span reader's confidence is a calibrated probability that the shown answer is right
(rag/models/reader/README.md): "likely right" from 0.7, "check the quote" from 0.4, and below that
an answer is still shown (it cleared the bar) but told to be checked before use.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Trust:
    level: str  # high | medium | low: a class name for the page
    words: str  # what a reader is told


TRUST_LEVELS = (
    (0.7, Trust("high", "likely right")),
    (0.4, Trust("medium", "may be right: check the quote")),
    (0.0, Trust("low", "unsure: read the passage before using it")),
)


def trust(score: float) -> Trust:
    """In words, for the number as shown (two decimals): 0.6996 reads "0.70", so it is high, not medium."""
    return next(level for floor, level in TRUST_LEVELS if round(score, 2) >= floor)


def confidence_numbers(score: float, threshold: float | None) -> str:
    """The numbers behind the words: "confidence 0.51; answers need 0.14". A score just under the bar
    would read as the bar at two decimals: then three, so a "not found" at 0.1396 beside a bar of 0.142
    explains itself."""
    digits = 3 if threshold is not None and f"{score:.2f}" == f"{threshold:.2f}" and score != threshold else 2
    bar = f"; answers need {threshold:.{digits}f}" if threshold is not None else ""
    return f"confidence {score:.{digits}f}{bar}"
