"""The three JSON formats: targets, placing entities by text, and damaged JSON."""

from __future__ import annotations

import pytest
from ner_toolkit import CONLL2003_LABELS, Mention, Span

from ner_toolkit_formats import diagnostics as d
from ner_toolkit_formats.json_grouped import JsonGrouped
from ner_toolkit_formats.json_occurrence import JsonOccurrence
from ner_toolkit_formats.json_offset import JsonOffset

TOKENS = "Germany beat Germany B in Bonn , Germany 's coach said .".split()
SPANS = [Span(0, 1, "LOC"), Span(2, 4, "ORG"), Span(5, 6, "LOC"), Span(7, 8, "LOC")]


def kinds(result) -> list[str]:
    return [diagnostic.kind for diagnostic in result.diagnostics]


def test_grouped_target_has_every_label() -> None:
    target = JsonGrouped(CONLL2003_LABELS).render(TOKENS, SPANS)
    assert target == '{"ORG": ["Germany B"], "PER": [], "LOC": ["Germany", "Bonn", "Germany"], "MISC": []}'


def test_grouped_places_longer_texts_first() -> None:
    grouped = JsonGrouped(CONLL2003_LABELS)
    result = grouped.parse('{"LOC": ["Germany", "Bonn", "Germany"], "ORG": ["Germany B"]}', TOKENS)
    assert result.spans == tuple(SPANS)
    assert result.mentions[0] == Mention("Germany", "LOC")


def test_grouped_key_order_places_one_text_under_two_labels() -> None:
    tokens = "Newmont proposed to Santa Fe a merger for each Santa Fe share".split()
    spans = [Span(0, 1, "ORG"), Span(3, 5, "LOC"), Span(9, 11, "ORG")]
    grouped = JsonGrouped(CONLL2003_LABELS)
    target = grouped.render(tokens, spans)
    assert target == '{"LOC": ["Santa Fe"], "PER": [], "ORG": ["Newmont", "Santa Fe"], "MISC": []}'
    assert grouped.parse(target, tokens).spans == tuple(spans)


def test_occurrence_target_counts_whole_token_occurrences() -> None:
    target = JsonOccurrence(CONLL2003_LABELS).render(["U.S.-based", "U.S.", "and", "U.S."], [Span(3, 4, "LOC")])
    assert target == '[{"text": "U.S.", "label": "LOC", "occurrence_index": 2}]'


def test_occurrence_index_out_of_range() -> None:
    occurrence = JsonOccurrence(CONLL2003_LABELS)
    result = occurrence.parse('[{"text": "Bonn", "label": "LOC", "occurrence_index": 3}]', TOKENS)
    assert result.spans == (Span(5, 6, "LOC"),)
    assert kinds(result) == [d.BAD_OCCURRENCE]
    ambiguous = occurrence.parse('[{"text": "Germany", "label": "LOC", "occurrence_index": 0}]', TOKENS)
    assert ambiguous.spans == ()
    assert kinds(ambiguous) == [d.BAD_OCCURRENCE]


def test_offset_target_and_wrong_offsets() -> None:
    offset = JsonOffset(CONLL2003_LABELS)
    assert offset.render(TOKENS, [Span(5, 6, "LOC")]) == '[{"text": "Bonn", "label": "LOC", "start": 26, "end": 30}]'
    result = offset.parse('[{"text": "Germany", "label": "LOC", "start": 30, "end": 37}]', TOKENS)
    assert result.spans == (Span(7, 8, "LOC"),)
    assert kinds(result) == [d.BAD_OFFSETS]


@pytest.mark.parametrize("cls", [JsonOccurrence, JsonOffset])
def test_records_not_in_the_input(cls) -> None:
    result = cls(CONLL2003_LABELS).parse(
        '[{"text": "Paris", "label": "LOC"}, {"text": "Bon", "label": "LOC"}, {"text": "Bonn", "label": "GPE"}]', TOKENS
    )
    assert result.spans == (Span(5, 6, "GPE"),)  # in the input, with a wrong type: kept for scoring
    assert kinds(result)[:3] == [d.ENTITY_NOT_IN_INPUT, d.PARTIAL_TOKEN, d.UNKNOWN_LABEL]
    assert not result.copied_input


def test_cut_off_json_is_salvaged() -> None:
    occurrence = JsonOccurrence(CONLL2003_LABELS)
    cut = '[{"text": "Bonn", "label": "LOC", "occurrence_index": 1}, {"text": "Germ'
    result = occurrence.parse(cut, TOKENS)
    assert result.spans == (Span(5, 6, "LOC"),)
    assert kinds(result) == [d.MALFORMED_JSON]
    grouped = JsonGrouped(CONLL2003_LABELS).parse('Output: {"ORG": ["Germany B"], "LOC": ["Bonn", "Germ', TOKENS)
    assert grouped.spans == (Span(2, 4, "ORG"), Span(5, 6, "LOC"))
    assert kinds(grouped) == [d.MALFORMED_JSON]


def test_respaced_entity_text_is_found() -> None:
    tokens = ["paid", "C$0.45", "."]
    result = JsonOccurrence(CONLL2003_LABELS).parse('[{"text": "C$ 0.45", "label": "MISC", "occurrence_index": 1}]', tokens)
    assert result.spans == (Span(1, 2, "MISC"),)


def test_wrong_shapes_are_reported() -> None:
    grouped = JsonGrouped(CONLL2003_LABELS).parse('{"LOC": "Bonn", "ORG": [3]}', TOKENS)
    assert grouped.spans == (Span(5, 6, "LOC"),)
    assert kinds(grouped) == [d.MALFORMED_RECORD, d.MALFORMED_RECORD]
    records = JsonOffset(CONLL2003_LABELS).parse('[1, {"text": 2}, "x"]', TOKENS)
    assert kinds(records) == [d.MALFORMED_RECORD] * 3


def test_overlapping_records_in_a_flat_label_set() -> None:
    result = JsonOffset(CONLL2003_LABELS).parse(
        '[{"text": "Germany B", "label": "ORG", "start": 13, "end": 22}, {"text": "B", "label": "LOC", "start": 21, "end": 22}]',
        TOKENS,
    )
    assert result.spans == (Span(2, 4, "ORG"),)
    assert kinds(result) == [d.NESTED_ENTITY]
