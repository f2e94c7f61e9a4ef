"""Scoring a split: every scorer's numbers plus the counts and parse diagnostics a report needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..interfaces import Prediction, Scorer
from ..spans import Sentence


def score(scorers: Sequence[Scorer], sentences: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Every scorer's numbers, keyed by scorer name, beside ``counts`` and ``warnings`` (what makes them untrustworthy)."""
    results: dict[str, Any] = {"counts": counts(sentences, predictions), "warnings": []}
    bad = unparsed(predictions)
    if bad:
        results["warnings"].append(
            f"{len(bad)} of {len(predictions)} outputs ({len(bad) / len(predictions):.0%}) could not be read "
            f"(parse diagnostics and no entity read; first: {bad[0].sentence_id}); is the format right?"
        )
    for scorer in scorers:
        results[scorer.name] = scorer.score(sentences, predictions)
    return results


def unparsed(predictions: Sequence[Prediction]) -> list[Prediction]:
    """Outputs the format could not read: parse diagnostics, and not one entity read."""
    return [p for p in predictions if p.diagnostics and not p.spans and not p.mentions]


def counts(sentences: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
    gold: dict[str, int] = {}
    predicted: dict[str, int] = {}
    diagnostics: dict[str, int] = {}
    for sentence, prediction in zip(sentences, predictions):
        for span in sentence.spans:
            gold[span.label] = gold.get(span.label, 0) + 1
        for span in prediction.spans:
            predicted[span.label] = predicted.get(span.label, 0) + 1
        for diagnostic in prediction.diagnostics:
            diagnostics[diagnostic.kind] = diagnostics.get(diagnostic.kind, 0) + 1
    return {
        "sentences": len(sentences),
        "tokens": sum(len(s.tokens) for s in sentences),
        "gold_entities": dict(sorted(gold.items())),
        "predicted_entities": dict(sorted(predicted.items())),
        "sentences_with_diagnostics": sum(1 for p in predictions if p.diagnostics),
        "unparsed_outputs": len(unparsed(predictions)),
        "diagnostics": dict(sorted(diagnostics.items())),
    }
