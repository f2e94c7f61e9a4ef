"""For flat, well-formed predictions, seqeval strict F1 = nervaluate strict F1 = an independent count."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ner_toolkit import Prediction, Sentence, Span
from ner_toolkit_metrics.errors import ErrorBreakdown
from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

LABELS = ["ORG", "PER", "LOC", "MISC"]


@st.composite
def flat_spans(draw, length: int) -> list[Span]:
    """Non-overlapping spans laid out left to right, adjacent ones allowed."""
    spans, position = [], 0
    while position < length and draw(st.booleans()):
        start = position + draw(st.integers(0, 3))
        end = start + draw(st.integers(1, 4))
        if end > length:
            break
        spans.append(Span(start, end, draw(st.sampled_from(LABELS))))
        position = end
    return spans


@st.composite
def corpora(draw) -> tuple[list[Sentence], list[Prediction]]:
    gold, predictions = [], []
    for i in range(draw(st.integers(1, 5))):
        n = draw(st.integers(1, 15))
        tokens = tuple(f"w{j}" for j in range(n))
        gold.append(Sentence(f"h:{i}", tokens, tuple(draw(flat_spans(n)))))
        predictions.append(Prediction(f"h:{i}", " ".join(tokens), tuple(draw(flat_spans(n)))))
    return gold, predictions


def exact_match_f1(gold: list[Sentence], predictions: list[Prediction]) -> float:
    """The independent count: exact (start, end, label) matches, micro F1 = 2c / (gold + predicted)."""
    matches = sum(len(set(s.spans) & set(p.spans)) for s, p in zip(gold, predictions))
    total = sum(len(s.spans) for s in gold) + sum(len(p.spans) for p in predictions)
    return 2 * matches / total if matches else 0.0


SEQEVAL, NERVALUATE, PAPER, ERRORS = (cls(LABELS) for cls in (SeqevalScorer, NervaluateScorer, PaperScorer, ErrorBreakdown))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora())
def test_strict_f1_agrees(corpus):
    gold, predictions = corpus
    expected = exact_match_f1(gold, predictions)
    assert SEQEVAL.score(gold, predictions)["micro"]["f1"] == pytest.approx(expected)
    assert NERVALUATE.score(gold, predictions)["overall"]["strict"]["f1"] == pytest.approx(expected)
    assert PAPER.score(gold, predictions)["micro"]["f1"] == pytest.approx(expected)
    totals = ERRORS.score(gold, predictions)["totals"]
    assert totals["correct"] == sum(len(set(s.spans) & set(p.spans)) for s, p in zip(gold, predictions))
