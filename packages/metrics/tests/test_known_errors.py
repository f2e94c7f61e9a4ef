"""A small prediction set with known errors, checked against numbers worked out by hand."""

from __future__ import annotations

import pytest

from ner_toolkit import Sentence, Span
from ner_toolkit_metrics.errors import ErrorBreakdown
from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

LABELS = ["ORG", "PER", "LOC", "MISC"]


def sentence(id: str, text: str, *spans: tuple[int, int, str]) -> Sentence:
    return Sentence(id, tuple(text.split()), tuple(Span(*s) for s in spans))


GOLD = [
    sentence("t:1", "John Smith lives in New York City .", (0, 2, "PER"), (4, 7, "LOC")),
    sentence("t:10", "Acme Corp hired Mary .", (0, 2, "ORG"), (3, 4, "PER")),
    sentence("t:20", "Nothing here ."),
    sentence("t:30", "Paris is nice .", (0, 1, "LOC")),
    sentence("t:40", "The C$0.45 Bank .", (1, 3, "ORG")),
]


@pytest.fixture
def predictions(predict):
    return [
        predict(GOLD[0], [Span(0, 2, "PER"), Span(4, 6, "LOC")]),  # correct; too narrow
        predict(GOLD[1], [Span(0, 2, "LOC")]),  # wrong type; Mary missed
        predict(GOLD[2], [Span(0, 1, "MISC")]),  # spurious
        predict(GOLD[3], [Span(0, 1, "CITY")], diagnostics=[("unknown_label", "CITY is not a label")]),
        # the model re-spaced the money token: no aligned span, one mention
        predict(GOLD[4], [], mentions=[("C$ 0.45  Bank", "ORG")], copied=False,
                diagnostics=[("text_mismatch", "C$ 0.45"), ("text_mismatch", "Bank")]),
    ]


def test_seqeval(predictions):
    result = SeqevalScorer(LABELS).score(GOLD, predictions)
    # 1 exact match; 5 predicted spans (CITY counts as a wrong prediction); 6 gold
    assert result["micro"] == pytest.approx({"precision": 1 / 5, "recall": 1 / 6, "f1": 2 / 11, "support": 6})
    assert result["per_type"]["PER"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert result["per_type"]["LOC"]["f1"] == 0 and result["per_type"]["LOC"]["support"] == 2
    assert list(result["per_type"]) == ["ORG", "PER", "LOC", "MISC", "CITY"]
    # the macro average runs over the label-set types seen (ORG, PER, LOC, MISC), not CITY:
    # a label outside the set is a false positive in micro, not a new gold type
    assert result["macro"]["f1"] == pytest.approx((2 / 3) / 4)
    assert result["macro"]["support"] == 6
    assert result["lenient"]["micro"] == result["micro"]
    assert result["unknown_labels"] == {"CITY": 1}


def test_seqeval_ignoring_unknown_labels(predictions):
    result = SeqevalScorer(LABELS, unknown_labels="ignore").score(GOLD, predictions)
    assert result["micro"]["precision"] == pytest.approx(1 / 4)
    assert "CITY" not in result["per_type"] and result["unknown_labels"] == {"CITY": 1}


def test_nervaluate(predictions):
    overall = NervaluateScorer(LABELS).score(GOLD, predictions)["overall"]
    counts = ("correct", "incorrect", "partial", "missed", "spurious")
    assert [overall["strict"][k] for k in counts] == [1, 3, 0, 2, 1]
    assert [overall["exact"][k] for k in counts] == [3, 1, 0, 2, 1]
    assert [overall["partial"][k] for k in counts] == [3, 0, 1, 2, 1]
    assert [overall["ent_type"][k] for k in counts] == [2, 2, 0, 2, 1]
    assert overall["strict"]["precision"] == pytest.approx(1 / 5) and overall["strict"]["recall"] == pytest.approx(1 / 6)
    assert overall["exact"]["precision"] == pytest.approx(3 / 5)
    assert overall["partial"]["precision"] == pytest.approx(3.5 / 5) and overall["partial"]["recall"] == pytest.approx(3.5 / 6)
    assert overall["ent_type"]["recall"] == pytest.approx(2 / 6)


def test_nervaluate_ignoring_unknown_labels_still_counts_them(predictions):
    result = NervaluateScorer(LABELS, unknown_labels="ignore").score(GOLD, predictions)
    assert result["overall"]["strict"]["actual"] == 4 and result["overall"]["strict"]["missed"] == 3
    assert result["unknown_labels"] == {"CITY": 1}


def test_paper(predictions):
    result = PaperScorer(LABELS).score(GOLD, predictions)
    # by position: John Smith; by text (whitespace-insensitive): C$0.45 Bank
    assert result["micro"] == pytest.approx({"precision": 2 / 6, "recall": 2 / 6, "f1": 2 / 6, "tp": 2, "predicted": 6, "gold": 6})
    assert result["sentences_matched_by_text"] == 1
    exact = PaperScorer(LABELS, text_match="exact").score(GOLD, predictions)
    assert exact["micro"]["tp"] == 1


def test_error_breakdown(predictions):
    result = ErrorBreakdown(LABELS).score(GOLD, predictions)
    assert result["totals"] == {"correct": 1, "type": 2, "boundary": 1, "boundary_and_type": 0, "missed": 2, "spurious": 1}
    confusion = result["confusion"]
    assert confusion["PER"]["PER"] == 1 and confusion["ORG"]["LOC"] == 1 and confusion["LOC"]["CITY"] == 1
    assert confusion["PER"]["O"] == 1 and confusion["ORG"]["O"] == 1 and confusion["O"]["MISC"] == 1
    assert sum(sum(row.values()) for row in confusion.values()) == 6
    assert result["boundary_kinds"] == {"too_wide": 0, "too_narrow": 1, "shifted": 0}
    assert result["by_type"]["ORG"]["missed"] == 1 and result["by_type"]["MISC"]["spurious"] == 1
    assert result["examples"]["boundary"][0]["gold"] == "[New York City | LOC]"
    assert result["examples"]["boundary"][0]["predicted"] == "[New York | LOC]"
    parse = result["parse"]
    assert parse["sentences_with_diagnostics"] == 2 and parse["sentences_not_copied"] == 1
    assert parse["by_kind"]["text_mismatch"]["count"] == 2 and parse["by_kind"]["text_mismatch"]["sentences"] == 1
    assert parse["by_kind"]["unknown_label"]["examples"][0]["id"] == "t:30"


HEADLINES = {
    SeqevalScorer: lambda r: [f"| **micro avg** | {r['micro']['precision']:.4f} | {r['micro']['recall']:.4f} | {r['micro']['f1']:.4f} |"],
    NervaluateScorer: lambda r: [f"{r['overall'][s]['f1']:.4f}" for s in ("strict", "exact", "partial", "ent_type")],
    PaperScorer: lambda r: [f"{r['micro']['f1']:.4f}"],
    ErrorBreakdown: lambda r: ["ORG", "LOC", "[New York | LOC]", "CITY"],
}


@pytest.mark.parametrize("cls", list(HEADLINES))
def test_markdown_shows_the_numbers_of_the_json(cls, predictions):
    import json

    scorer = cls(LABELS)
    result = scorer.score(GOLD, predictions)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    text = scorer.markdown(result)
    assert text.startswith(f"### {scorer.name}:" if cls is not ErrorBreakdown else "### Error breakdown")
    missing = [fragment for fragment in HEADLINES[cls](result) if fragment not in text]
    assert not missing, text
