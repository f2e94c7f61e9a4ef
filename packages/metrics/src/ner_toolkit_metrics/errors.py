"""An error breakdown to read when improving a model, as a scorer so that reports pick it up.

Each sentence's flat gold and predicted spans (flattened as for seqeval, see ``prepare``)
are paired once, in this order:

1. ``correct``: same start, end and label;
2. ``type``: same start and end, another label (the confusion matrix's off-diagonal);
3. ``boundary``: overlapping, same label, other boundaries; ``boundary_and_type``:
   overlapping, other label too. A prediction pairs with the unpaired gold span it
   overlaps most. Boundary errors are ``too_wide`` (the prediction covers the gold span),
   ``too_narrow`` (inside it) or ``shifted``;
4. ``missed``: gold spans left unpaired; ``spurious``: predictions left unpaired.

The confusion matrix has gold labels as rows and predicted labels as columns, with ``O``
for "no entity": its diagonal is the correct spans, ``[gold][O]`` the missed ones and
``[O][pred]`` the spurious ones; boundary errors are counted on their own. Parse
diagnostics are listed by kind with example sentences.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ner_toolkit import Prediction, Scorer, Sentence, Span, hookimpl

from .html import HtmlSection
from .prepare import prepare
from .tables import left_out, table

CATEGORIES = ("correct", "type", "boundary", "boundary_and_type", "missed", "spurious")
NONE = "O"


def _shown(tokens: Sequence[str], span: Span | None) -> str | None:
    return None if span is None else f"[{' '.join(tokens[span.start:span.end])} | {span.label}]"


def _context(tokens: Sequence[str], spans: Sequence[Span | None], width: int = 8) -> str:
    """The tokens around the spans of one error, with ``…`` where the sentence goes on."""
    start = max(0, min(s.start for s in spans if s) - width)
    end = min(len(tokens), max(s.end for s in spans if s) + width)
    return ("… " if start else "") + " ".join(tokens[start:end]) + (" …" if end < len(tokens) else "")


def _boundary_kind(gold: Span, pred: Span) -> str:
    if pred.start <= gold.start and gold.end <= pred.end:
        return "too_wide"
    if gold.start <= pred.start and pred.end <= gold.end:
        return "too_narrow"
    return "shifted"


def pair_spans(gold: list[Span], predicted: list[Span]) -> list[tuple[str, Span | None, Span | None]]:
    """``(category, gold span, predicted span)`` for every span of one sentence (see module docstring).

    Predictions are taken in order at each step; among gold spans, the earliest in ``gold``
    wins a tie. Linear up to sorting when ``gold`` is flat and sorted (as ``prepare`` makes
    it); any other list is paired the same way, by a scan.
    """
    pairs: list[tuple[str, Span | None, Span | None]] = []
    unpaired: Counter[Span] = Counter(gold)
    consumed: Counter[Span] = Counter()
    pred_left: list[Span] = []
    for span in predicted:
        if unpaired[span]:
            unpaired[span] -= 1
            consumed[span] += 1
            pairs.append(("correct", span, span))
        else:
            pred_left.append(span)
    gold_left: list[Span] = []
    for span in gold:  # what is left of gold, in order: a match takes the first equal gold span
        if consumed[span]:
            consumed[span] -= 1
        else:
            gold_left.append(span)
    taken = [False] * len(gold_left)
    by_boundaries: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index in range(len(gold_left) - 1, -1, -1):  # popped from the end: earliest first
        by_boundaries[gold_left[index].start, gold_left[index].end].append(index)
    rest = []
    for pred in pred_left:
        same = by_boundaries.get((pred.start, pred.end))
        if same:
            index = same.pop()
            taken[index] = True
            pairs.append(("type", gold_left[index], pred))
        else:
            rest.append(pred)
    flat = all(a.end <= b.start for a, b in zip(gold_left, gold_left[1:]))
    starts, ends = [g.start for g in gold_left], [g.end for g in gold_left]
    for pred in rest:
        if flat:  # the gold spans it overlaps are one run of the sorted list
            candidates = range(bisect_right(ends, pred.start), bisect_left(starts, pred.end))
        else:
            candidates = range(len(gold_left))
        overlapping = [i for i in candidates if not taken[i] and gold_left[i].overlaps(pred)]
        if not overlapping:
            pairs.append(("spurious", None, pred))
            continue
        best = max(overlapping, key=lambda i: min(gold_left[i].end, pred.end) - max(gold_left[i].start, pred.start))
        taken[best] = True
        g = gold_left[best]
        pairs.append(("boundary" if g.label == pred.label else "boundary_and_type", g, pred))
    pairs += [("missed", g, None) for g, was_taken in zip(gold_left, taken) if not was_taken]
    return pairs


class ErrorBreakdown(HtmlSection, Scorer):
    """Type confusions, boundary errors, missed and spurious entities by type, parse failures with examples."""

    name = "errors"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

        examples: int = Field(5, ge=0)
        """How many example sentences to keep per error category and per diagnostic kind."""
        max_chars: int = Field(300, ge=20)
        """Outputs and inputs in examples are cut to this many characters."""

    def _cut(self, text: str) -> str:
        limit = self.options.max_chars  # type: ignore[attr-defined]
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def score(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        keep = self.options.examples  # type: ignore[attr-defined]
        p = prepare(gold, predictions, self.labels)
        labels = p.all_labels
        totals: Counter[str] = Counter()
        by_type: dict[str, Counter[str]] = defaultdict(Counter)
        confusion: dict[str, Counter[str]] = {label: Counter() for label in [*labels, NONE]}
        boundary_kinds: Counter[str] = Counter()
        examples: dict[str, list[dict[str, Any]]] = {c: [] for c in CATEGORIES if c != "correct"}
        for sentence, gold_spans, predicted in zip(gold, p.gold, p.predicted):
            for category, g, pr in pair_spans(gold_spans, predicted):
                totals[category] += 1
                by_type[(g or pr).label][category] += 1  # type: ignore[union-attr]
                if category in ("correct", "type", "missed", "spurious"):
                    confusion[g.label if g else NONE][pr.label if pr else NONE] += 1
                if g is not None and pr is not None and category.startswith("boundary"):
                    boundary_kinds[_boundary_kind(g, pr)] += 1
                if category != "correct" and len(examples[category]) < keep:
                    examples[category].append({
                        "id": sentence.id,
                        "context": _context(sentence.tokens, (g, pr)),
                        "gold": _shown(sentence.tokens, g),
                        "predicted": _shown(sentence.tokens, pr),
                    })
        return {
            "metric": "error breakdown (one-to-one pairing of flat spans per sentence)",
            "totals": {c: totals[c] for c in CATEGORIES},
            "by_type": {label: {c: by_type[label][c] for c in CATEGORIES} for label in labels if label in by_type},
            "confusion": {row: {col: confusion[row][col] for col in [*labels, NONE]} for row in [*labels, NONE]},
            "boundary_kinds": {k: boundary_kinds[k] for k in ("too_wide", "too_narrow", "shifted")},
            "examples": examples,
            "parse": self._parse_failures(gold, predictions),
            **p.summary(),
        }

    def _parse_failures(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        keep = self.options.examples  # type: ignore[attr-defined]
        kinds: dict[str, dict[str, Any]] = {}
        for sentence, prediction in zip(gold, predictions):
            seen: set[str] = set()
            for diagnostic in prediction.diagnostics:
                entry = kinds.setdefault(diagnostic.kind, {"count": 0, "sentences": 0, "examples": []})
                entry["count"] += 1
                if diagnostic.kind in seen:
                    continue
                seen.add(diagnostic.kind)
                entry["sentences"] += 1
                if len(entry["examples"]) < keep:
                    entry["examples"].append({
                        "id": sentence.id,
                        "message": self._cut(diagnostic.message),
                        "input": self._cut(sentence.text),
                        "output": self._cut(prediction.output),
                    })
        return {
            "sentences_with_diagnostics": sum(1 for pr in predictions if pr.diagnostics),
            "sentences_not_copied": sum(1 for pr in predictions if not pr.copied_input),
            "by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1]["count"])),
        }

    def markdown(self, result: dict[str, Any]) -> str:
        t = result["totals"]
        lines = ["### Error breakdown", ""]
        lines += table(["correct", "wrong type", "wrong boundaries", "wrong type and boundaries", "missed", "spurious"],
                       [[t[c] for c in CATEGORIES]])
        lines += ["", "**By type** (gold label; spurious by predicted label):", ""]
        lines += table(["entity", *CATEGORIES], [[label, *(r[c] for c in CATEGORIES)] for label, r in result["by_type"].items()])
        lines += ["", "**Type confusions** (rows gold, columns predicted, same boundaries; O = no entity):", ""]
        columns = list(result["confusion"])
        lines += table(["gold \\ predicted", *columns], [[row, *(result["confusion"][row][c] for c in columns)] for row in columns])
        k = result["boundary_kinds"]
        lines += ["", f"**Boundary errors**: {t['boundary'] + t['boundary_and_type']} "
                  f"({k['too_wide']} too wide, {k['too_narrow']} too narrow, {k['shifted']} shifted)."]
        for category, items in result["examples"].items():
            if items:
                lines += ["", f"Examples, {category.replace('_', ' ')}:", ""]
                lines += [f"- `{e['id']}` gold {e['gold'] or '-'}, predicted {e['predicted'] or '-'}: {e['context']}" for e in items]
        parse = result["parse"]
        lines += ["", f"**Parse diagnostics**: {parse['sentences_with_diagnostics']} sentences with diagnostics, "
                  f"{parse['sentences_not_copied']} whose output did not copy the input."]
        if parse["by_kind"]:
            lines += [""] + table(["kind", "count", "sentences"], [[kind, e["count"], e["sentences"]] for kind, e in parse["by_kind"].items()])
            for kind, entry in parse["by_kind"].items():
                lines += ["", f"Examples, {kind}:", ""]
                for e in entry["examples"]:
                    lines += [f"- `{e['id']}`: {e['message']}", f"  - input: `{e['input']}`", f"  - output: `{e['output']}`"]
        lines += left_out(result)
        return "\n".join(lines)


@hookimpl
def register_scorers(register):
    register(ErrorBreakdown)
