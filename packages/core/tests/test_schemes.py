from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ner_toolkit import Scheme, Span, convert_tags, spans_to_tags, tags_to_spans
from ner_toolkit.schemes import TagError

LABELS = ["PER", "ORG", "LOC"]


@st.composite
def flat_spans(draw: st.DrawFn) -> tuple[int, list[Span]]:
    """A length and a flat span set over it, adjacent same-type spans included."""
    length = draw(st.integers(0, 25))
    spans: list[Span] = []
    position = 0
    while position < length:
        position += draw(st.integers(0, 2))
        size = draw(st.integers(1, 4))
        if position + size > length:
            break
        spans.append(Span(position, position + size, draw(st.sampled_from(LABELS))))
        position += size
    return length, spans


@pytest.mark.parametrize("scheme", list(Scheme))
@given(case=flat_spans())
def test_spans_round_trip_through_every_scheme(scheme: Scheme, case: tuple[int, list[Span]]) -> None:
    length, spans = case
    tags = spans_to_tags(spans, length, scheme)
    assert len(tags) == length
    assert tags_to_spans(tags, scheme) == spans


@given(case=flat_spans(), source=st.sampled_from(list(Scheme)), target=st.sampled_from(list(Scheme)))
def test_conversion_keeps_spans(case: tuple[int, list[Span]], source: Scheme, target: Scheme) -> None:
    length, spans = case
    converted = convert_tags(spans_to_tags(spans, length, source), source, target)
    assert tags_to_spans(converted, target) == spans


def test_iob1_uses_b_only_between_adjacent_entities_of_one_type() -> None:
    spans = [Span(0, 2, "PER"), Span(2, 3, "PER"), Span(3, 4, "LOC"), Span(5, 6, "LOC")]
    assert spans_to_tags(spans, 6, "IOB1") == ["I-PER", "I-PER", "B-PER", "I-LOC", "O", "I-LOC"]
    assert spans_to_tags(spans, 6, "IOB2") == ["B-PER", "I-PER", "B-PER", "B-LOC", "O", "B-LOC"]
    assert spans_to_tags(spans, 6, "IOBES") == ["B-PER", "E-PER", "S-PER", "S-LOC", "O", "S-LOC"]
    assert spans_to_tags(spans, 6, "BILOU") == ["B-PER", "L-PER", "U-PER", "U-LOC", "O", "U-LOC"]


def test_ill_formed_sequences_are_read_as_conlleval_does() -> None:
    # IOB1 B- after O (eng.train lines 152428 and 175436) starts an entity.
    assert tags_to_spans(["O", "B-MISC", "I-MISC", "O"], "IOB1") == [Span(1, 3, "MISC")]
    # IOB2 I- after O or another type starts an entity.
    assert tags_to_spans(["O", "I-PER", "I-LOC"], "IOB2") == [Span(1, 2, "PER"), Span(2, 3, "LOC")]
    # IOBES: an E- with no B- is a one-token entity; I- after E- starts a new one.
    assert tags_to_spans(["E-PER", "I-PER", "E-PER"], "IOBES") == [Span(0, 1, "PER"), Span(1, 3, "PER")]


@pytest.mark.parametrize(
    ("tags", "scheme"),
    [(["O", "X-PER"], "IOB2"), (["E-PER"], "IOB1"), (["B-"], "IOB2"), (["PER"], "BILOU"), (["L-PER"], "IOBES")],
)
def test_unknown_tags_raise_with_their_position(tags: list[str], scheme: str) -> None:
    with pytest.raises(TagError) as error:
        tags_to_spans(tags, scheme)
    assert error.value.index == len(tags) - 1
    assert repr(tags[-1]) in str(error.value)


def test_overlapping_spans_cannot_be_tagged() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        spans_to_tags([Span(0, 3, "ORG"), Span(1, 2, "LOC")], 3, "IOB2")
