"""Issue 11: every scorer agrees with an independent count, unknown labels included, on damaged outputs.

Outputs of all five formats are rendered, then mislabelled (labels outside the set, such as
``COUNTRY`` or ``per``) or damaged (cut, characters dropped or doubled, markup inserted,
re-spaced, re-cased), parsed, and scored by seqeval, nervaluate, the paper scorer and the
error breakdown. The count they are checked against is plain set arithmetic on the spans.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ner_toolkit import CONLL2003_LABELS, Prediction, Sentence, Span, plugins

from ner_toolkit_formats.base import UnrepresentableError
from ner_toolkit_metrics.errors import ErrorBreakdown, pair_spans
from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.prepare import cut
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

import mutations

LABELS = [label.name for label in CONLL2003_LABELS]
UNKNOWN = ["COUNTRY", "per", "GPE", "Loc", "DATE"]
FORMATS = ("bracketed", "xml", "json-grouped", "json-occurrence", "json-offset")
WORDS = ["EU", "rejects", "German", "call", "JAPAN", "China", "'s", ",", ".", "C$0.45", "[", "]", "New", "York", "the", "of"]
RUN = settings(
    max_examples=int(os.environ.get("SCORES_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@st.composite
def sentence(draw: st.DrawFn, index: int) -> Sentence:
    tokens = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12))
    spans: list[Span] = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(tokens) - 1))
        span = Span(start, draw(st.integers(start + 1, min(len(tokens), start + 3))), draw(st.sampled_from(LABELS)))
        if not any(span.overlaps(other) for other in spans):
            spans.append(span)
    return Sentence(f"s:{index}", tuple(tokens), tuple(sorted(spans)))


corpora = st.integers(1, 4).flatmap(lambda n: st.tuples(*(sentence(i) for i in range(n))))


def scores(gold: list[Sentence], predictions: list[Prediction]) -> dict:
    return {
        scorer.name: scorer.score(gold, predictions)
        for scorer in (SeqevalScorer(LABELS), NervaluateScorer(LABELS), PaperScorer(LABELS), ErrorBreakdown(LABELS))
    }


def check_against_count(gold: list[Sentence], predictions: list[Prediction], result: dict) -> None:
    """Each scorer's strict counts equal set arithmetic on the (flat) spans, unknown labels included."""
    tp = sum(len(set(s.spans) & set(p.spans)) for s, p in zip(gold, predictions))
    predicted = sum(len(p.spans) for p in predictions)
    expected = sum(len(s.spans) for s in gold)
    unknown = Counter(span.label for p in predictions for span in p.spans if span.label not in LABELS)
    precision = tp / predicted if predicted else 0.0
    recall = tp / expected if expected else 0.0
    seqeval = result["seqeval"]
    assert seqeval["micro"]["precision"] == precision and seqeval["micro"]["recall"] == recall
    assert seqeval["lenient"]["micro"]["precision"] == precision and seqeval["lenient"]["micro"]["recall"] == recall
    assert seqeval["unknown_labels"] == dict(unknown)
    assert all(label in seqeval["per_type"] and seqeval["per_type"][label]["support"] == 0 for label in unknown)
    known = [row for label, row in seqeval["per_type"].items() if label in LABELS]
    macro_f1 = sum(row["f1"] for row in known) / len(known) if known else 0.0
    assert abs(seqeval["macro"]["f1"] - macro_f1) < 1e-12  # over the label set only
    strict = result["nervaluate"]["overall"]["strict"]
    assert (strict["correct"], strict["actual"], strict["possible"]) == (tp, predicted, expected)
    totals = result["errors"]["totals"]
    assert totals["correct"] == tp and predicted == sum(totals[c] for c in totals if c != "missed")
    assert expected == sum(totals[c] for c in totals if c != "spurious")
    if all(p.copied_input for p in predictions):
        paper = result["paper"]["micro"]
        assert (paper["tp"], paper["predicted"], paper["gold"]) == (tp, predicted, expected)


@RUN
@given(st.sampled_from(FORMATS), corpora, st.data())
def test_mislabelled_outputs_count_as_type_errors(name: str, gold: tuple[Sentence, ...], data: st.DataObject) -> None:
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    predictions, relabelled = [], 0
    for s in gold:
        spans = [
            Span(span.start, span.end, data.draw(st.sampled_from(UNKNOWN))) if data.draw(st.booleans()) else span
            for span in s.spans
        ]
        relabelled += sum(1 for span in spans if span.label in UNKNOWN)
        try:
            output = formatter.render(s.tokens, spans)
        except UnrepresentableError:
            assume(False)
        result = formatter.parse(output, s.tokens)
        assert result.spans == tuple(sorted(spans))  # nothing dropped
        assert sum(d.kind == "unknown_label" for d in result.diagnostics) == sum(span.label in UNKNOWN for span in spans)
        predictions.append(Prediction.from_parse(s.id, output, result))
    gold = list(gold)
    result = scores(gold, predictions)
    check_against_count(gold, predictions, result)
    n = sum(len(s.spans) for s in gold)
    nervaluate = result["nervaluate"]["overall"]
    assert (nervaluate["strict"]["correct"], nervaluate["strict"]["incorrect"]) == (n - relabelled, relabelled)
    assert (nervaluate["ent_type"]["correct"], nervaluate["ent_type"]["incorrect"]) == (n - relabelled, relabelled)
    assert nervaluate["exact"]["correct"] == n and nervaluate["exact"]["spurious"] == 0
    assert result["errors"]["totals"]["type"] == relabelled
    assert result["paper"]["micro"]["tp"] == n - relabelled


def _relabel(draw: st.DrawFn, text: str) -> str:
    return text.replace(draw(st.sampled_from(LABELS)), draw(st.sampled_from([*LABELS, *UNKNOWN, ""])), draw(st.integers(1, 2)))


def _recase(draw: st.DrawFn, text: str) -> str:
    lowered = text.lower()
    for label in LABELS:  # the words change case, the labels do not
        lowered = lowered.replace(f"| {label.lower()}]", f"| {label}]").replace(f"<{label.lower()}>", f"<{label}>")
        lowered = lowered.replace(f"</{label.lower()}>", f"</{label}>").replace(f'"{label.lower()}"', f'"{label}"')
    return lowered


MUTATIONS = [mutations.cut, mutations.delete, mutations.double, mutations.inserter(mutations.MARKUP), _relabel, mutations.respace, _recase]


@RUN
@given(st.sampled_from(FORMATS), corpora, st.data())
def test_damaged_outputs_score_as_counted(name: str, gold: tuple[Sentence, ...], data: st.DataObject) -> None:
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    predictions = []
    for s in gold:
        try:
            output = formatter.render(s.tokens, s.spans)
        except UnrepresentableError:
            output = s.text
        for _ in range(data.draw(st.integers(0, 3))):
            output = data.draw(st.sampled_from(MUTATIONS))(data.draw, output)
        result = formatter.parse(output, s.tokens)
        assert "internal_error" not in [d.kind for d in result.diagnostics]
        predictions.append(Prediction.from_parse(s.id, output, result))
    check_against_count(list(gold), predictions, scores(list(gold), predictions))


def _pair_spans_reference(gold: list[Span], predicted: list[Span]) -> list:
    """The pairing as first written (a quadratic scan), to check the linear one against."""
    pairs: list = []
    gold_left, pred_left = list(gold), []
    for span in predicted:
        if span in gold_left:
            gold_left.remove(span)
            pairs.append(("correct", span, span))
        else:
            pred_left.append(span)
    rest = []
    for pred in pred_left:
        same = next((g for g in gold_left if (g.start, g.end) == (pred.start, pred.end)), None)
        if same is not None:
            gold_left.remove(same)
            pairs.append(("type", same, pred))
        else:
            rest.append(pred)
    for pred in rest:
        overlapping = [g for g in gold_left if g.overlaps(pred)]
        if not overlapping:
            pairs.append(("spurious", None, pred))
            continue
        best = max(overlapping, key=lambda g: min(g.end, pred.end) - max(g.start, pred.start))
        gold_left.remove(best)
        pairs.append(("boundary" if best.label == pred.label else "boundary_and_type", best, pred))
    pairs += [("missed", g, None) for g in gold_left]
    return pairs


spans = st.lists(
    st.builds(lambda start, size, label: Span(start, start + size, label), st.integers(0, 30), st.integers(1, 4),
              st.sampled_from(["PER", "LOC", "X"])),
    max_size=10,
)


@RUN
@given(spans, spans, st.booleans())
def test_pairing_equals_the_reference(gold: list[Span], predicted: list[Span], flat: bool) -> None:
    if flat:
        kept: list[Span] = []
        for span in sorted(gold):
            if not kept or kept[-1].end <= span.start:
                kept.append(span)
        gold = kept
    assert pair_spans(gold, predicted) == _pair_spans_reference(gold, predicted)


@RUN
@given(spans, spans, st.integers(1, 8))
def test_pieces_hold_every_span_and_no_span_crosses_a_cut(gold: list[Span], predicted: list[Span], piece: int) -> None:
    length = max([span.end for span in gold + predicted], default=1)
    parts = cut(gold, predicted, length, piece)
    assert sum(part[2] for part in parts) == length
    offset = 0
    back: tuple[list[Span], list[Span]] = ([], [])
    for part_gold, part_predicted, size in parts:
        for side, part in ((0, part_gold), (1, part_predicted)):
            assert all(span.end <= size for span in part)
            back[side].extend(Span(s.start + offset, s.end + offset, s.label) for s in part)
        offset += size
    assert sorted(back[0]) == sorted(gold) and sorted(back[1]) == sorted(predicted)
