"""Flattening, alignment checks and the accounting of what is left out of scoring."""

from __future__ import annotations

import pytest

from ner_toolkit import Prediction, Sentence, Span
from ner_toolkit_metrics.prepare import flatten, prepare
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer


def test_flatten_keeps_outermost_then_first():
    outer, inner = Span(0, 4, "ORG"), Span(1, 2, "LOC")
    first, crossing = Span(5, 7, "PER"), Span(6, 8, "PER")
    kept, dropped = flatten([inner, crossing, outer, first])
    assert kept == [outer, first] and dropped == 2


def test_flatten_keeps_the_first_written_of_two_same_boundaries():
    kept, dropped = flatten([Span(0, 2, "PER"), Span(0, 2, "ORG"), Span(0, 2, "PER")])
    assert kept == [Span(0, 2, "PER")] and dropped == 2


def test_prepare_counts_what_it_leaves_out():
    gold = [Sentence("s:1", ("a", "b", "c"), (Span(0, 1, "PER"), Span(2, 3, "DATE")))]
    predictions = [Prediction("s:1", "", (Span(0, 2, "PER"), Span(1, 2, "LOC"), Span(2, 9, "PER"), Span(2, 3, "X")))]
    p = prepare(gold, predictions, ["PER", "LOC"])
    assert p.gold == [[Span(0, 1, "PER")]] and p.gold_outside_labels == {"DATE": 1}
    assert p.predicted == [[Span(0, 2, "PER"), Span(2, 3, "X")]]
    assert (p.dropped_overlapping, p.dropped_out_of_range, p.unknown_labels) == (1, 1, {"X": 1})


def test_misaligned_predictions_are_an_error():
    gold = [Sentence("s:1", ("a",)), Sentence("s:3", ("b",))]
    with pytest.raises(ValueError, match="1 predictions for 2 gold"):
        SeqevalScorer([]).score(gold, [Prediction("s:1", "")])
    with pytest.raises(ValueError, match="'s:9' stands where gold sentence 's:3'"):
        SeqevalScorer([]).score(gold, [Prediction("s:1", ""), Prediction("s:9", "")])


def test_no_entities_at_all_scores_zero_without_nan():
    from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer

    gold = [Sentence("s:1", ("a",))]
    predictions = [Prediction("s:1", "a")]
    assert SeqevalScorer(["PER"]).score(gold, predictions)["macro"]["f1"] == 0.0
    assert NervaluateScorer(["PER"]).score(gold, predictions)["overall"]["strict"]["f1"] == 0.0
