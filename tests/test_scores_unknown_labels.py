"""Issue 11: a predicted entity whose label is outside the label set is a wrong prediction in every scorer.

``[JAPAN | COUNTRY]`` and ``[CHINA | per]`` used to be dropped by the parser (a diagnostic
only), so no scorer saw them and precision came out 1.0 where it is 0.5.
"""

from __future__ import annotations

import pytest
from ner_toolkit import CONLL2003_LABELS, Prediction, Sentence, Span, plugins

from ner_toolkit_metrics.errors import ErrorBreakdown
from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

LABELS = [label.name for label in CONLL2003_LABELS]
FORMATS = ("bracketed", "xml", "json-grouped", "json-occurrence", "json-offset")
TOKENS = "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .".split()
GOLD = [Sentence("t:1", tuple(TOKENS), (Span(2, 3, "LOC"), Span(7, 8, "LOC")))]


@pytest.fixture(params=["COUNTRY", "per"])
def predicted(request: pytest.FixtureRequest) -> list[Span]:
    """JAPAN with a label outside the set, CHINA right."""
    return [Span(2, 3, request.param), Span(7, 8, "LOC")]


@pytest.mark.parametrize("name", FORMATS)
def test_every_scorer_counts_an_unknown_label_as_a_wrong_prediction(name: str, predicted: list[Span]) -> None:
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    output = formatter.render(TOKENS, predicted)
    result = formatter.parse(output, TOKENS)
    unknown = predicted[0].label
    assert result.spans == tuple(predicted)  # kept, not dropped
    assert [d.kind for d in result.diagnostics] == ["unknown_label"]  # and still reported
    predictions = [Prediction.from_parse("t:1", output, result)]

    seqeval = SeqevalScorer(LABELS).score(GOLD, predictions)
    assert seqeval["micro"]["precision"] == seqeval["micro"]["recall"] == 0.5
    assert seqeval["lenient"]["micro"]["precision"] == 0.5
    assert seqeval["per_type"][unknown]["support"] == 0
    # the macro average runs over LOC only: the unknown label is not a new gold type
    assert seqeval["macro"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert seqeval["unknown_labels"] == {unknown: 1}

    nervaluate = NervaluateScorer(LABELS).score(GOLD, predictions)["overall"]
    for scenario in ("strict", "ent_type"):  # the type error it is
        assert (nervaluate[scenario]["correct"], nervaluate[scenario]["incorrect"]) == (1, 1)
        assert nervaluate[scenario]["precision"] == 0.5
    for scenario in ("exact", "partial"):  # boundaries right
        assert nervaluate[scenario]["correct"] == 2 and nervaluate[scenario]["precision"] == 1.0

    paper = PaperScorer(LABELS).score(GOLD, predictions)["micro"]
    assert (paper["tp"], paper["predicted"], paper["gold"]) == (1, 2, 2)

    errors = ErrorBreakdown(LABELS)
    breakdown = errors.score(GOLD, predictions)
    assert breakdown["totals"]["type"] == 1 and breakdown["confusion"]["LOC"][unknown] == 1
    assert breakdown["parse"]["by_kind"]["unknown_label"]["count"] == 1


def test_report_sections_show_the_count(predicted: list[Span]) -> None:
    output = plugins.get_formatter("bracketed")(CONLL2003_LABELS).render(TOKENS, predicted)
    result = plugins.get_formatter("bracketed")(CONLL2003_LABELS).parse(output, TOKENS)
    predictions = [Prediction.from_parse("t:1", output, result)]
    unknown = predicted[0].label
    for scorer in (SeqevalScorer(LABELS), NervaluateScorer(LABELS), ErrorBreakdown(LABELS)):
        text = scorer.markdown(scorer.score(GOLD, predictions))
        assert f"label outside the label set (each scored as a wrong prediction): {unknown} 1" in text, scorer.name
    ignored = SeqevalScorer(LABELS, unknown_labels="ignore")
    assert f"(left out of scoring): {unknown} 1" in ignored.markdown(ignored.score(GOLD, predictions))
