"""What every token-aligned scorer does first: pair gold with predictions and make both flat.

Tag-based metrics (seqeval, nervaluate's scenarios) can only see flat span sets, while a
parser may return nested, crossing or duplicated spans. All scorers here flatten the same
way, so their numbers stay comparable:

- spans are taken in start order, a longer span first, ties in the order the model wrote
  them; a span that overlaps one already kept is dropped. That keeps the outermost span of
  a nest, the first of two crossing spans and one of two duplicates;
- a predicted span that ends past its sentence is dropped;
- gold spans whose label is outside the label set are left out of scoring (the model was
  not asked for them);
- predicted spans whose label is outside the label set (``[Japan | COUNTRY]``) are kept by
  default and count as wrong predictions: a predicted entity of a wrong type (option
  ``unknown_labels="ignore"`` leaves them out instead, still counted). The formats keep
  such spans by default (``keep_unknown_labels``), so this is where they are scored.

Every dropped or unknown span is counted in the result, never lost silently.

Long sentences: seqeval's strict mode and nervaluate both take time quadratic in the length
of one sentence (a 100,000-token sentence took minutes). Their counts are sums over entities
that only interact where they overlap, so ``Prepared.pieces`` cuts a sentence longer than
``PIECE`` tokens where no gold or predicted span crosses, and they score the pieces as
sentences of their own: the same numbers in linear time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ner_toolkit import Prediction, Sentence, Span

UnknownLabels = Literal["count", "ignore"]
PIECE = 256
"""Sentences longer than this many tokens are scored in pieces (see the module docstring)."""


def check_aligned(gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> None:
    """Raise ValueError unless ``predictions[i]`` is the prediction for ``gold[i]``."""
    if len(gold) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold sentences")
    for sentence, prediction in zip(gold, predictions):
        if sentence.id != prediction.sentence_id:
            raise ValueError(f"prediction for {prediction.sentence_id!r} stands where gold sentence {sentence.id!r} is")


def flatten(spans: Iterable[Span]) -> tuple[list[Span], int]:
    """The flat subset of ``spans`` (see the module docstring) and how many were dropped."""
    indexed = sorted(enumerate(spans), key=lambda item: (item[1].start, -len(item[1]), item[0]))
    kept: list[Span] = []
    end = 0
    for _, span in indexed:
        if kept and span.start < end:
            continue
        kept.append(span)
        end = span.end
    return sorted(kept), len(indexed) - len(kept)


def cut(
    gold: list[Span], predicted: list[Span], length: int, piece: int = PIECE
) -> list[tuple[list[Span], list[Span], int]]:
    """One sentence as pieces of at least ``piece`` tokens, cut only where no span crosses.

    Each piece is ``(gold, predicted, length)`` with spans shifted to the piece's start and
    in their given order. No span of one piece overlaps a span of another, so per-entity
    counts (seqeval's, nervaluate's) summed over the pieces are those of the sentence.
    """
    cuts: list[int] = []
    reach = start = 0
    for span in sorted([*gold, *predicted], key=lambda span: span.start):
        if span.start >= reach and span.start - start >= piece:
            cuts.append(span.start)
            start = span.start
        reach = max(reach, span.end)
    if not cuts:
        return [(gold, predicted, length)]
    bounds = [0, *cuts, length]
    parts: list[tuple[list[Span], list[Span], int]] = [([], [], bounds[k + 1] - bounds[k]) for k in range(len(cuts) + 1)]
    for side, spans in ((0, gold), (1, predicted)):
        for span in spans:
            k = bisect_right(cuts, span.start)
            parts[k][side].append(Span(span.start - bounds[k], span.end - bounds[k], span.label))  # type: ignore[union-attr]
    return parts


@dataclass
class Prepared:
    """Flat gold and predicted spans per sentence, plus what was left out and why."""

    gold: list[list[Span]]
    predicted: list[list[Span]]
    lengths: list[int]
    labels: tuple[str, ...]
    dropped_overlapping: int = 0
    dropped_out_of_range: int = 0
    unknown_labels: Counter[str] = field(default_factory=Counter)
    unknown_labels_scored: bool = True
    gold_outside_labels: Counter[str] = field(default_factory=Counter)
    gold_dropped_overlapping: int = 0

    @property
    def all_labels(self) -> list[str]:
        """The label set, then any unknown predicted labels that are scored (sorted)."""
        extra = sorted({s.label for spans in self.predicted for s in spans} - set(self.labels))
        return [*self.labels, *extra]

    def pieces(self, piece: int = PIECE) -> list[tuple[list[Span], list[Span], int]]:
        """Every sentence as ``(gold, predicted, length)``, long ones cut into pieces (``cut``)."""
        return [part for g, pr, n in zip(self.gold, self.predicted, self.lengths) for part in cut(g, pr, n, piece)]

    def summary(self) -> dict[str, Any]:
        """The counts every scorer reports next to its numbers."""
        return {
            "predicted_spans_scored": sum(len(p) for p in self.predicted),
            "gold_spans_scored": sum(len(g) for g in self.gold),
            "dropped_overlapping": self.dropped_overlapping,
            "dropped_out_of_range": self.dropped_out_of_range,
            "unknown_labels": dict(sorted(self.unknown_labels.items())),
            "unknown_labels_scored": self.unknown_labels_scored,
            "gold_outside_labels": dict(sorted(self.gold_outside_labels.items())),
            "gold_dropped_overlapping": self.gold_dropped_overlapping,
        }


def prepare(
    gold: Sequence[Sentence],
    predictions: Sequence[Prediction],
    labels: Sequence[str],
    unknown_labels: UnknownLabels = "count",
) -> Prepared:
    """Check alignment and build flat span lists for tag-based scoring.

    With an empty ``labels`` the label set is every label seen in the gold.
    """
    check_aligned(gold, predictions)
    label_set = tuple(labels) or tuple(sorted({s.label for sentence in gold for s in sentence.spans}))
    known = set(label_set)
    prepared = Prepared([], [], [], label_set, unknown_labels_scored=unknown_labels == "count")
    for sentence, prediction in zip(gold, predictions):
        n = len(sentence.tokens)
        gold_spans = []
        for span in sentence.spans:
            if span.label in known:
                gold_spans.append(span)
            else:
                prepared.gold_outside_labels[span.label] += 1
        predicted = []
        for span in prediction.spans:
            if span.end > n:
                prepared.dropped_out_of_range += 1
                continue
            if span.label not in known:
                prepared.unknown_labels[span.label] += 1
                if unknown_labels == "ignore":
                    continue
            predicted.append(span)
        flat_gold, gold_dropped = flatten(gold_spans)  # gold read from tags is flat; nested corpora are not
        prepared.gold_dropped_overlapping += gold_dropped
        flat_predicted, dropped = flatten(predicted)
        prepared.dropped_overlapping += dropped
        prepared.gold.append(flat_gold)
        prepared.predicted.append(flat_predicted)
        prepared.lengths.append(n)
    return prepared
