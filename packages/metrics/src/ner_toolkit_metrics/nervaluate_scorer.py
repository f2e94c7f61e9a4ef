"""nervaluate 1.x: the four MUC-style scenarios (strict, exact, partial, ent_type), overall and per type.

Spans go to nervaluate's ``dict`` loader as entities with inclusive ends, after the same
flattening as seqeval (see ``prepare``), so strict here equals seqeval strict. nervaluate
drops predicted labels outside ``tags`` without a word; this scorer counts them and, by
default, passes them in ``tags`` so that they count as the type errors they are: a
``[Japan | COUNTRY]`` on a gold LOC is ``incorrect`` in strict and ent_type and ``correct``
in exact and partial, and one on no gold entity is ``spurious``. Such a label gets a
per-type row of its own (with nothing possible); no average runs over types here.

nervaluate compares every predicted entity of a document with every gold one, which is
quadratic in a long sentence (a 100,000-token sentence took over a minute). Its counts are
sums over documents, and entities only interact where they overlap, so a sentence longer
than ``prepare.PIECE`` tokens is passed as several documents, cut only where no gold or
predicted span crosses (``Prepared.pieces``): the numbers are the same, the time linear
(``benchmarks/align.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ner_toolkit import Prediction, Scorer, Sentence, Span, hookimpl

from .html import HtmlSection
from .prepare import UnknownLabels, prepare
from .tables import left_out, table

SCENARIOS = ("strict", "exact", "partial", "ent_type")
DESCRIPTIONS = {
    "strict": "exact boundaries and type",
    "exact": "exact boundaries, any type",
    "partial": "overlapping boundaries (half credit), any type",
    "ent_type": "overlapping boundaries, same type",
}
FIELDS = ("correct", "incorrect", "partial", "missed", "spurious", "possible", "actual", "precision", "recall", "f1")


def _entities(spans: list[Span]) -> list[dict[str, Any]]:
    return [{"label": s.label, "start": s.start, "end": s.end - 1} for s in spans]


def _plain(result: Any) -> dict[str, Any]:
    return {name: getattr(result, name) for name in FIELDS}


class NervaluateScorer(HtmlSection, Scorer):
    """nervaluate 1.x scenarios strict, exact, partial and ent_type, overall and per type."""

    name = "nervaluate"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

        unknown_labels: UnknownLabels = "count"
        """``count``: predicted labels outside the label set are wrong predictions; ``ignore``: dropped as nervaluate does (still counted)."""
        min_overlap_percentage: float = Field(1.0, ge=1.0, le=100.0)
        """nervaluate's overlap threshold for partial and ent_type matches, in percent of the gold span."""

    def score(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        from nervaluate import Evaluator

        options = self.options
        p = prepare(gold, predictions, self.labels, options.unknown_labels)  # type: ignore[attr-defined]
        tags = p.all_labels
        result: dict[str, Any] = {"metric": "nervaluate 1.x (MUC-style scenarios)"}
        if any(p.gold) or any(p.predicted):
            documents = p.pieces()
            evaluator = Evaluator(
                [_entities(g) for g, _, _ in documents],
                [_entities(pr) for _, pr, _ in documents],
                tags=tags,
                loader="dict",
                min_overlap_percentage=options.min_overlap_percentage,  # type: ignore[attr-defined]
            )
            raw = evaluator.evaluate()
            result["overall"] = {s: _plain(raw["overall"][s]) for s in SCENARIOS}
            result["per_type"] = {
                tag: {s: _plain(raw["entities"][tag][s]) for s in SCENARIOS} for tag in tags if tag in raw["entities"]
            }
        else:  # nervaluate's loaders cannot infer anything from an input with no entity at all
            zero = dict.fromkeys(FIELDS, 0) | {"precision": 0.0, "recall": 0.0, "f1": 0.0}
            result["overall"] = {s: dict(zero) for s in SCENARIOS}
            result["per_type"] = {}
        return result | p.summary()

    def markdown(self, result: dict[str, Any]) -> str:
        """The scenarios table (P/R/F1 with the counts behind them), then strict F1 per type."""
        lines = ["### nervaluate: " + result["metric"], ""]
        rows = []
        for scenario in SCENARIOS:
            r = result["overall"][scenario]
            rows.append([f"{scenario} ({DESCRIPTIONS[scenario]})", r["precision"], r["recall"], r["f1"],
                         r["correct"], r["incorrect"], r["partial"], r["missed"], r["spurious"]])
        lines += table(["scenario", "precision", "recall", "f1", "correct", "incorrect", "partial", "missed", "spurious"], rows)
        if result["per_type"]:
            lines += ["", "F1 per type and scenario:", ""]
            rows = [
                [label + ("" if label in self.labels else " (not in label set)"), *(r[s]["f1"] for s in SCENARIOS)]
                for label, r in result["per_type"].items()
            ]
            lines += table(["entity", *SCENARIOS], rows)
        lines += left_out(result)
        return "\n".join(lines)


@hookimpl
def register_scorers(register):
    register(NervaluateScorer)
