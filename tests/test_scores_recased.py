"""Issue 11: outputs that re-case or re-space their input align, and score as the input would.

A model trained on the paper's published data (truecased, detokenised) answers
``Soccer - [Japan | LOC] get lucky win, [China | PER] in surprise defeat.`` for the CoNLL
tokens ``SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .``. Such outputs used
to lose their entities (``entity_not_in_input``; recall 0.89 on eng.testb with every
entity right); now they align ignoring case and whitespace, with a ``case_mismatch``
diagnostic that is counted and keeps the entity.

The set is built here from eng.testb: all-caps lines (headlines, datelines) sentence-cased
with entity words capitalised, then detokenised with sacremoses (Moses' English rules) where
it is installed, else with the few Moses rules CoNLL needs (``_detokenise``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, Prediction, Sentence, Span, plugins, read_conll

from ner_toolkit_metrics.errors import ErrorBreakdown
from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

LABELS = [label.name for label in CONLL2003_LABELS]
MARKUP = {"bracketed": ("[", " | {label}]"), "xml": ("<{label}>", "</{label}>")}
_NO_SPACE_BEFORE = re.compile(r"^([,.;:!?)\]}%]|'s|'S|n't|N'T|'re|'ve|'ll|'d|'m)$")


def _detokenise(tokens: Sequence[str]) -> str:
    """Moses-style English detokenisation, for when sacremoses is not installed."""
    text, quotes, glue = "", 0, True
    for token in tokens:
        if token == '"':
            quotes += 1
            opening = quotes % 2 == 1
            text += ("" if glue or not opening else " ") + token
            glue = opening
            continue
        text += ("" if glue or _NO_SPACE_BEFORE.match(token) else " ") + token
        glue = token in ("(", "[", "{", "$")
    return text


def detokeniser() -> Callable[[Sequence[str]], str]:
    try:
        from sacremoses import MosesDetokenizer
    except ImportError:
        return _detokenise
    return MosesDetokenizer(lang="en").detokenize


def truecase(sentence: Sentence) -> list[str]:
    """An all-caps sentence in sentence case with entity words capitalised; others as they are."""
    letters = [char for token in sentence.tokens for char in token if char.isalpha()]
    if len(letters) < 2 or not all(char.isupper() for char in letters):
        return list(sentence.tokens)
    inside = {i for span in sentence.spans for i in range(span.start, span.end)}
    return [token[:1] + token[1:].lower() if i in inside or i == 0 else token.lower() for i, token in enumerate(sentence.tokens)]


def published(sentence: Sentence, name: str, detokenise: Callable[[Sequence[str]], str]) -> str:
    """The gold output of an inline format as a model trained on the published data writes it."""
    tokens = truecase(sentence)
    text = detokenise(tokens)
    starts, at = [], 0
    for token in tokens:  # the detokeniser only changes spacing: find each token again
        at = text.index(token, at)
        starts.append(at)
        at += len(token)
    opener, closer = MARKUP[name]
    inserts = [(starts[s.start], 1, opener.format(label=s.label)) for s in sentence.spans]
    inserts += [(starts[s.end - 1] + len(tokens[s.end - 1]), 0, closer.format(label=s.label)) for s in sentence.spans]
    for position, _, markup in sorted(inserts, reverse=True):
        text = text[:position] + markup + text[position:]
    return text


@pytest.mark.parametrize("name", list(MARKUP))
def test_the_issue_examples_align(name: str) -> None:
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    tokens = "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .".split()
    headline = Sentence("t:1", tuple(tokens), (Span(2, 3, "LOC"), Span(7, 8, "PER")))
    output = published(headline, name, _detokenise)
    assert _as_bracketed(output) == "Soccer - [Japan | LOC] get lucky win, [China | PER] in surprise defeat."
    result = formatter.parse(output, tokens)
    assert result.spans == headline.spans
    assert [d.kind for d in result.diagnostics] == ["case_mismatch", "case_mismatch"]
    assert result.copied_input
    tokens = "said England 's bank .".split()
    respaced = Sentence("t:2", tuple(tokens), (Span(1, 2, "LOC"),))
    output = published(respaced, name, _detokenise)
    assert _as_bracketed(output) == "said [England | LOC]'s bank."
    result = formatter.parse(output, tokens)
    assert result.spans == respaced.spans and result.diagnostics == () and result.copied_input


def _as_bracketed(output: str) -> str:
    return re.sub(r"</(\w+)>", r" | \1]", re.sub(r"<\w+>", "[", output))


@pytest.mark.parametrize("name", ["json-grouped", "json-occurrence", "json-offset"])
def test_json_entities_are_found_ignoring_case(name: str) -> None:
    tokens = "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .".split()
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    spans = [Span(2, 3, "LOC"), Span(7, 8, "PER")]
    output = formatter.render(tokens, spans).replace("JAPAN", "Japan").replace("CHINA", "China")
    result = formatter.parse(output, tokens)
    assert result.spans == tuple(spans)
    assert Counter(d.kind for d in result.diagnostics) == {"case_mismatch": 2}


def test_a_different_word_is_still_not_an_entity() -> None:
    result = plugins.get_formatter("bracketed")(CONLL2003_LABELS).parse("Soccer - [Japanese | LOC] get", "SOCCER - JAPAN GET".split())
    assert result.spans == () and "entity_not_in_input" in [d.kind for d in result.diagnostics]


@pytest.mark.parametrize("name", list(MARKUP))
def test_published_style_gold_outputs_of_eng_testb_score_one(conll: Path, name: str) -> None:
    gold = read_conll(conll / "eng.testb")
    detokenise = detokeniser()
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    outputs = [published(sentence, name, detokenise) for sentence in gold]
    changed = sum(output != formatter.render(s.tokens, s.spans) for s, output in zip(gold, outputs))
    assert changed > 2500  # most sentences are re-spaced, about 560 re-cased
    predictions = [Prediction.from_parse(s.id, o, formatter.parse(o, s.tokens)) for s, o in zip(gold, outputs)]
    kinds = Counter(d.kind for p in predictions for d in p.diagnostics)
    assert set(kinds) == {"case_mismatch"} and kinds["case_mismatch"] > 500
    assert sum(1 for p in predictions if p.diagnostics) > 3453 / 7  # about one sentence in six
    assert SeqevalScorer(LABELS).score(gold, predictions)["micro"]["f1"] == 1.0
    nervaluate = NervaluateScorer(LABELS).score(gold, predictions)["overall"]
    assert all(nervaluate[scenario]["f1"] == 1.0 for scenario in nervaluate)
    assert PaperScorer(LABELS).score(gold, predictions)["micro"]["f1"] == 1.0
    totals = ErrorBreakdown(LABELS).score(gold, predictions)["totals"]
    assert totals["correct"] == 5648 and sum(totals.values()) == 5648
