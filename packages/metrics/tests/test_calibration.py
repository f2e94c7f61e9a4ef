"""The calibration scorer: ECE and reliability by hand on a small case, monotonic thresholds, precision at recall."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ner_toolkit import Prediction, Sentence, Span, plugins

LABELS = ("ORG", "PER", "LOC", "MISC")


def scorer(**options):
    return plugins.get_scorer("calibration")(LABELS, **options)


def sentence(n: int, spans: tuple[Span, ...]) -> Sentence:
    return Sentence(f"s{n}", tuple(f"w{k}" for k in range(6)), spans)


GOLD = [sentence(0, (Span(0, 1, "PER"), Span(2, 4, "ORG"))), sentence(1, (Span(1, 2, "LOC"),)), sentence(2, ())]
# four predicted entities: right at 0.95, right at 0.85, wrong label at 0.9, spurious at 0.15; three gold entities
PREDICTED = [
    Prediction("s0", "", (Span(0, 1, "PER"), Span(2, 4, "LOC")), scores=(0.95, 0.9)),
    Prediction("s1", "", (Span(1, 2, "LOC"),), scores=(0.85,)),
    Prediction("s2", "", (Span(5, 6, "MISC"),), scores=(0.15,)),
]


def test_ece_and_the_reliability_bins_are_those_computed_by_hand() -> None:
    result = scorer(bins=10).score(GOLD, PREDICTED)
    assert result["scored_entities"] == 4 and result["unscored_entities"] == 0
    bins = {round(r["low"], 1): r for r in result["reliability"] if r["count"]}
    assert {low: (r["count"], r["correct"]) for low, r in bins.items()} == {0.1: (1, 0.0), 0.8: (1, 1.0), 0.9: (2, 0.5)}
    # |0 - 0.15| * 1/4 + |1 - 0.85| * 1/4 + |0.5 - 0.925| * 2/4
    assert result["ece"] == pytest.approx(0.15 / 4 + 0.15 / 4 + 0.425 / 2)


def test_thresholds_trade_recall_for_precision_and_never_keep_more() -> None:
    rows = scorer().score(GOLD, PREDICTED)["thresholds"]
    kept = [r["predicted"] for r in rows]
    recalls = [r["recall"] for r in rows]
    assert kept == sorted(kept, reverse=True) and recalls == sorted(recalls, reverse=True)
    assert (rows[0]["precision"], rows[0]["recall"]) == pytest.approx((2 / 4, 2 / 3))  # threshold 0: every entity
    by_threshold = {round(r["threshold"], 1): r for r in rows}
    assert (by_threshold[0.2]["precision"], by_threshold[0.2]["recall"]) == pytest.approx((2 / 3, 2 / 3))


def test_precision_at_recall_takes_the_best_threshold_reaching_it() -> None:
    at = scorer().score(GOLD, PREDICTED)["precision_at_recall"]
    assert at["50%"] == {"precision": pytest.approx(2 / 3), "threshold": 0.85}  # 0.95, 0.9, 0.85 kept: 2 right of 3
    assert at["80%"] is None and at["90%"] is None  # the ORG entity is never predicted right


def test_unscored_predictions_are_counted_and_kept_at_every_threshold() -> None:
    unscored = [replace(p, scores=()) for p in PREDICTED]
    result = scorer().score(GOLD, unscored)
    assert result["scored_entities"] == 0 and result["unscored_entities"] == 4 and result["ece"] is None
    assert {r["predicted"] for r in result["thresholds"]} == {4}
    assert "No predicted entity has a score" in scorer().markdown(result)


def test_the_report_section_draws_the_reliability_diagram() -> None:
    section = scorer().html(scorer().score(GOLD, PREDICTED))
    assert section.startswith("<svg") and "reliability" in section and "Expected calibration error" in section
    assert section.count("<rect") == 1 + 3  # the frame and one bar per bin that has entities
