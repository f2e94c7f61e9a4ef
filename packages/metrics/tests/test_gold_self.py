"""Gold scored against itself gives exactly 1.0 on every CoNLL-2003 file, for every scorer."""

from __future__ import annotations

import pytest

from ner_toolkit import read_conll
from ner_toolkit_metrics.errors import ErrorBreakdown
from ner_toolkit_metrics.nervaluate_scorer import SCENARIOS, NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

LABELS = ["ORG", "PER", "LOC", "MISC"]


@pytest.mark.parametrize("name", ["eng.train", "eng.testa", "eng.testb"])
def test_gold_against_itself(conll, predict, name):
    gold = read_conll(conll / name)
    by_position = [predict(s) for s in gold]
    by_text = [  # the mentions only, nothing aligned: the paper scorer matches by text
        predict(s, (), mentions=[(s.span_text(x), x.label) for x in s.spans], copied=False) for s in gold
    ]

    seqeval = SeqevalScorer(LABELS).score(gold, by_position)
    assert seqeval["micro"]["f1"] == seqeval["micro"]["precision"] == seqeval["micro"]["recall"] == 1.0
    assert seqeval["lenient"]["micro"]["f1"] == 1.0
    assert all(r["f1"] == 1.0 for r in seqeval["per_type"].values()) and set(seqeval["per_type"]) == set(LABELS)

    nervaluate = NervaluateScorer(LABELS).score(gold, by_position)
    for scenario in SCENARIOS:
        assert nervaluate["overall"][scenario]["f1"] == 1.0
        assert all(r[scenario]["f1"] == 1.0 for r in nervaluate["per_type"].values())

    assert PaperScorer(LABELS).score(gold, by_position)["micro"]["f1"] == 1.0
    assert PaperScorer(LABELS).score(gold, by_text)["micro"]["f1"] == 1.0

    totals = ErrorBreakdown(LABELS).score(gold, by_position)["totals"]
    assert totals["correct"] == sum(len(s.spans) for s in gold)
    assert sum(totals.values()) == totals["correct"]
