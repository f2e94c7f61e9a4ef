"""Small helpers for the Markdown sections of the scorers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def fmt(value: Any) -> str:
    """Ratios with four decimals (the reference card's precision), counts as integers."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A Markdown table as lines; cells are formatted with ``fmt``."""
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(fmt(cell).replace("|", "\\|") for cell in row) + " |")
    return lines


def left_out(summary: Mapping[str, Any]) -> list[str]:
    """A sentence on the spans left out of scoring, or nothing when none were."""
    parts = []
    if summary.get("dropped_overlapping"):
        parts.append(f"{summary['dropped_overlapping']} overlapping predicted span(s) dropped (outermost/first kept)")
    if summary.get("dropped_out_of_range"):
        parts.append(f"{summary['dropped_out_of_range']} predicted span(s) past the sentence end dropped")
    if summary.get("unknown_labels"):
        labels = ", ".join(f"{label} {n}" for label, n in summary["unknown_labels"].items())
        how = "each scored as a wrong prediction" if summary.get("unknown_labels_scored", True) else "left out of scoring"
        parts.append(f"predicted entities with a label outside the label set ({how}): {labels}")
    if summary.get("gold_outside_labels"):
        labels = ", ".join(f"{label} {n}" for label, n in summary["gold_outside_labels"].items())
        parts.append(f"gold spans outside the label set, not scored: {labels}")
    if summary.get("gold_dropped_overlapping"):
        parts.append(f"{summary['gold_dropped_overlapping']} overlapping gold span(s) dropped")
    return ["", "Left out or flagged: " + "; ".join(parts) + "."] if parts else []
