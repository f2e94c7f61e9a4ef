"""How far entity scores can be trusted: expected calibration error, a reliability diagram, and P/R/F1 by threshold.

A predicted entity is correct when the gold sentence has the same span with the same
label (strict). Scores are the model's own (``ner_toolkit.confidence``); predictions
without scores are counted and left out of the calibration figures, and the thresholds
table keeps them at every threshold (as ``min_score`` does).

- ``ece``: entities binned by score into ``bins`` equal-width bins; the mean over bins of
  |share correct - mean score|, weighted by the bin's share of entities.
- ``reliability``: each bin's count, mean score and share correct (drawn in the HTML report).
- ``thresholds``: micro precision, recall and F1 of the entities scored at or above each
  threshold, and the best precision reachable at 50%, 80% and 90% recall.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ner_toolkit import Prediction, Scorer, Sentence, hookimpl

from .html import markdown_to_html
from .paper_scorer import prf
from .prepare import check_aligned
from .tables import table

RECALL_TARGETS = (0.5, 0.8, 0.9)


class CalibrationScorer(Scorer):
    """Expected calibration error, reliability diagram and P/R/F1 by score threshold, from entity scores."""

    name = "calibration"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

        bins: int = Field(10, ge=2, le=100)
        """Equal-width score bins of the reliability diagram and the ECE."""

    def score(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        check_aligned(gold, predictions)
        scored: list[tuple[float, bool]] = []
        unscored_correct = unscored = 0
        gold_total = 0
        for sentence, prediction in zip(gold, predictions):
            truth = {(s.start, s.end, s.label) for s in sentence.spans}
            gold_total += len(truth)
            if prediction.scores and len(prediction.scores) == len(prediction.spans):
                scored += [(score, (s.start, s.end, s.label) in truth) for s, score in zip(prediction.spans, prediction.scores)]
            else:
                unscored += len(prediction.spans)
                unscored_correct += sum((s.start, s.end, s.label) in truth for s in prediction.spans)
        bins = self.options.bins  # type: ignore[attr-defined]
        reliability = []
        ece = 0.0
        for b in range(bins):
            low, high = b / bins, (b + 1) / bins
            members = [(s, ok) for s, ok in scored if low <= s < high or (b == bins - 1 and s == 1.0)]
            if members:
                confidence = sum(s for s, _ in members) / len(members)
                accuracy = sum(ok for _, ok in members) / len(members)
                ece += len(members) / len(scored) * abs(accuracy - confidence)
            else:
                confidence = accuracy = 0.0
            reliability.append({"low": low, "high": high, "count": len(members), "mean_score": confidence, "correct": accuracy})
        return {
            "metric": "entity score calibration (strict span and label match)",
            "scored_entities": len(scored),
            "unscored_entities": unscored,
            "ece": ece if scored else None,
            "reliability": reliability,
            "thresholds": self._thresholds(scored, unscored, unscored_correct, gold_total),
            "precision_at_recall": self._precision_at_recall(scored, unscored, unscored_correct, gold_total),
        }

    def _thresholds(self, scored: list[tuple[float, bool]], unscored: int, unscored_correct: int, gold: int) -> list[dict[str, Any]]:
        rows = []
        for step in range(self.options.bins + 1):  # type: ignore[attr-defined]
            threshold = step / self.options.bins  # type: ignore[attr-defined]
            kept = [ok for s, ok in scored if s >= threshold]
            rows.append({"threshold": threshold, **prf(sum(kept) + unscored_correct, len(kept) + unscored, gold)})
        return rows

    @staticmethod
    def _precision_at_recall(scored: list[tuple[float, bool]], unscored: int, unscored_correct: int, gold: int) -> dict[str, Any]:
        """The best precision among the thresholds reaching each recall target (None where none reaches it)."""
        found: dict[str, Any] = {}
        ranked = sorted(scored, key=lambda item: -item[0])
        points = []
        tp, predicted = unscored_correct, unscored
        for k, (score, ok) in enumerate(ranked):
            tp += ok
            predicted += 1
            if k + 1 == len(ranked) or ranked[k + 1][0] != score:  # a threshold keeps every entity of equal score
                points.append((tp / gold if gold else 0.0, tp / predicted, score))
        for target in RECALL_TARGETS:
            reaching = [(precision, score) for recall, precision, score in points if recall >= target]
            best = max(reaching, default=None)
            found[f"{target:.0%}"] = None if best is None else {"precision": best[0], "threshold": best[1]}
        return found

    def markdown(self, result: dict[str, Any]) -> str:
        lines = ["### calibration: entity scores", ""]
        if not result["scored_entities"]:
            return "\n".join(lines + ["No predicted entity has a score (a predictor or output format that gives none)."])
        lines += [
            f"Expected calibration error **{result['ece']:.4f}** over {result['scored_entities']:,} scored entities"
            + (f" ({result['unscored_entities']:,} without a score kept at every threshold)." if result["unscored_entities"] else "."),
            "",
        ]
        at = result["precision_at_recall"]
        lines += table(["recall at least", "best precision", "at threshold"],
                       [[target, "unreached", "-"] if v is None else [target, v["precision"], v["threshold"]] for target, v in at.items()])
        lines += ["", *table(["score bin", "entities", "mean score", "share correct"],
                             [[f"{r['low']:.1f}-{r['high']:.1f}", r["count"], r["mean_score"], r["correct"]] for r in result["reliability"]])]
        lines += ["", *table(["min score", "precision", "recall", "f1", "kept"],
                             [[f"{r['threshold']:.1f}", r["precision"], r["recall"], r["f1"], r["predicted"]] for r in result["thresholds"]])]
        return "\n".join(lines)

    def html(self, result: dict[str, Any]) -> str:
        section = markdown_to_html(self.markdown(result))
        return section if not result["scored_entities"] else reliability_diagram(result["reliability"]) + section


def reliability_diagram(rows: Sequence[dict[str, Any]]) -> str:
    """An inline SVG: one bar per score bin at its share correct, the diagonal where a calibrated model's bars end."""
    size, pad = 240, 36
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{size + 2 * pad}' height='{size + 2 * pad}' role='img' "
             "aria-label='reliability diagram' style='font:11px sans-serif'>",
             f"<text x='{pad}' y='14' font-weight='bold'>reliability: share correct by score</text>",
             f"<rect x='{pad}' y='{pad}' width='{size}' height='{size}' fill='none' stroke='#999'/>",
             f"<line x1='{pad}' y1='{pad + size}' x2='{pad + size}' y2='{pad}' stroke='#999' stroke-dasharray='4 3'/>"]
    width = size / len(rows)
    for k, row in enumerate(rows):
        if not row["count"]:
            continue
        height = row["correct"] * size
        x = pad + k * width
        title = f"scores {row['low']:.1f}-{row['high']:.1f}: {row['count']} entities, {row['correct']:.1%} correct"
        parts.append(f"<rect x='{x + 1:.1f}' y='{pad + size - height:.1f}' width='{width - 2:.1f}' height='{height:.1f}' "
                     f"fill='#4c78a8'><title>{html.escape(title)}</title></rect>")
    parts += [f"<text x='{pad}' y='{pad + size + 14}'>0</text>", f"<text x='{pad + size - 6}' y='{pad + size + 14}'>1</text>",
              f"<text x='{pad + size / 2 - 14}' y='{pad + size + 28}'>score</text>", "</svg>"]
    return "".join(parts)


@hookimpl
def register_scorers(register: Any) -> None:
    register(CalibrationScorer)
