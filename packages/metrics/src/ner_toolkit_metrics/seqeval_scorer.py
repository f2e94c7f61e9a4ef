"""seqeval, strict: gold and predictions written as IOB2 tags, scored with ``mode='strict', scheme=IOB2``.

CoNLL-2003 is IOB1, and seqeval's strict mode neither reads IOB1 nor picks a scheme by
itself (without one it silently falls back to lenient). So both sides go through spans:
each span set is written as IOB2 tags and scored strictly. The lenient, conlleval-style
figures (seqeval's default mode) are computed beside them on tags in the corpus scheme
(IOB1 by default), which is what conlleval reports for the same predictions written as a
CoNLL file. When predictions are span sets, as here, the two agree; a difference means a
tag-encoding bug, which is why both are shown.

Labels outside the label set (``[Japan | COUNTRY]``, ``[China | per]``): such a predicted
entity is an entity with a wrong type. By default (``unknown_labels="count"``) it is a
false positive in the micro average (and the gold entity it stands on, if any, a false
negative), and it gets a row of its own in the per-type table, marked as outside the set,
with support 0. It does not enter the macro (or weighted) average: seqeval would average
over every type it sees, so a typo of the model would invent a gold type with F1 0 and
pull the macro down by a type nobody annotated. The averages here run over the label-set
types seqeval reports, which equals seqeval's own macro whenever every predicted label is
in the set.

Sentences longer than ``prepare.PIECE`` tokens are scored in pieces cut where no span
crosses (seqeval's strict mode is quadratic in the length of one sentence); the counts
are the same.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from ner_toolkit import Prediction, Scheme, Scorer, Sentence, hookimpl, spans_to_tags

from .html import HtmlSection, bar_chart, markdown_to_html
from .prepare import Prepared, UnknownLabels, prepare
from .tables import fmt, left_out, table

AVERAGES = {"micro avg": "micro", "macro avg": "macro", "weighted avg": "weighted"}


def _number(value: Any) -> float | int:
    """A numpy scalar as a plain number; NaN (an average over nothing) as 0.0."""
    if isinstance(value, (int,)) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return int(value)
    value = float(value)
    return 0.0 if math.isnan(value) else value


def _averages(rows: dict[str, dict[str, Any]], known: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Macro and weighted averages over the label-set types among ``rows``, as seqeval computes them."""
    import numpy as np

    kept = [rows[label] for label in known if label in rows]
    support = sum(r["support"] for r in kept)
    macro: dict[str, Any] = {"support": support}
    weighted: dict[str, Any] = {"support": support}
    for key in ("precision", "recall", "f1"):
        values = [r[key] for r in kept]
        macro[key] = float(np.average(values)) if kept else 0.0
        weights = [r["support"] for r in kept]
        weighted[key] = float(np.average(values, weights=weights)) if support else 0.0
    return {"macro": macro, "weighted": weighted}


def _report(
    y_true: list[list[str]], y_pred: list[list[str]], labels: Sequence[str], known: Sequence[str], **mode: Any
) -> dict[str, Any]:
    """seqeval's classification report as plain numbers: per type (label-set order) and averages.

    ``labels`` orders the per-type rows; the macro and weighted averages run over the
    label-set types ``known`` only (see the module docstring).
    """
    from seqeval.metrics import classification_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # macro average over no types is NaN
        raw = classification_report(y_true, y_pred, output_dict=True, zero_division=0, **mode)
    rows = {
        key: {"precision": _number(v["precision"]), "recall": _number(v["recall"]),
              "f1": _number(v["f1-score"]), "support": _number(v["support"])}
        for key, v in raw.items()
    }
    order = [label for label in labels if label in rows] + sorted(k for k in rows if k not in labels and k not in AVERAGES)
    result: dict[str, Any] = {name: rows[key] for key, name in AVERAGES.items()}
    if any(key not in known for key in rows if key not in AVERAGES):
        result.update(_averages(rows, known))  # seqeval's would count the labels outside the set
    result["per_type"] = {label: rows[label] for label in order}
    return result


class SeqevalScorer(HtmlSection, Scorer):
    """seqeval strict IOB2 span F1 (per type, micro, macro), with conlleval-style lenient figures beside it."""

    name = "seqeval"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

        unknown_labels: UnknownLabels = "count"
        """``count``: predicted spans with a label outside the label set are wrong predictions; ``ignore``: left out (still counted)."""
        lenient_scheme: Scheme = Scheme.IOB1
        """Tag scheme the lenient (conlleval-style) figures are computed on: the corpus's own."""

    def score(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        from seqeval.scheme import IOB2

        options = self.options
        p: Prepared = prepare(gold, predictions, self.labels, options.unknown_labels)  # type: ignore[attr-defined]
        labels = p.all_labels

        pieces = p.pieces()  # long sentences cut where no span crosses: same counts, linear time

        def tags(side: int, scheme: Scheme) -> list[list[str]]:
            return [spans_to_tags(piece[side], piece[2], scheme) for piece in pieces]  # type: ignore[arg-type]

        strict = _report(tags(0, Scheme.IOB2), tags(1, Scheme.IOB2), labels, p.labels, mode="strict", scheme=IOB2)
        lenient_scheme = options.lenient_scheme  # type: ignore[attr-defined]
        lenient = _report(tags(0, lenient_scheme), tags(1, lenient_scheme), labels, p.labels)
        return {
            "metric": "seqeval strict, IOB2 (mode='strict', scheme=IOB2)",
            **strict,
            "lenient": {"metric": f"seqeval default mode (conlleval-style, lenient) on {Scheme(lenient_scheme).value} tags", **lenient},
            **p.summary(),
        }

    def markdown(self, result: dict[str, Any]) -> str:
        """Per-entity P/R/F1 with support, then micro and macro averages; lenient micro beside."""
        lines = [f"### seqeval: {result['metric']}", ""]
        rows = [
            [label + ("" if label in self.labels else " (not in label set)"), r["precision"], r["recall"], r["f1"], r["support"]]
            for label, r in result["per_type"].items()
        ]
        for key in ("micro", "macro"):
            r = result[key]
            rows.append([f"**{key} avg**", r["precision"], r["recall"], r["f1"], r["support"]])
        lines += table(["entity", "precision", "recall", "f1", "support"], rows)
        lenient = result["lenient"]["micro"]
        lines += [
            "",
            f"Lenient ({result['lenient']['metric']}): micro P {fmt(lenient['precision'])} "
            f"R {fmt(lenient['recall'])} F1 {fmt(lenient['f1'])}.",
        ]
        lines += left_out(result)
        return "\n".join(lines)

    def html(self, result: dict[str, Any]) -> str:
        """The Markdown section as HTML, followed by a per-label P/R/F1 chart."""
        chart = bar_chart(result["per_type"], "seqeval strict IOB2, per label") if result["per_type"] else ""
        return markdown_to_html(self.markdown(result)) + chart


@hookimpl
def register_scorers(register):
    register(SeqevalScorer)
