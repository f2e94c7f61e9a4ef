"""Inline XML: tags named after labels, matched by label."""

from __future__ import annotations

import pytest
from ner_toolkit import CONLL2003_LABELS, Span

from ner_toolkit_formats import diagnostics as d
from ner_toolkit_formats.xml import Xml

EU = "EU rejects German call to boycott British lamb .".split()


@pytest.fixture
def xml() -> Xml:
    return Xml(CONLL2003_LABELS)


def kinds(result) -> list[str]:
    return [diagnostic.kind for diagnostic in result.diagnostics]


def test_target(xml: Xml) -> None:
    target = xml.render(EU, [Span(0, 1, "ORG"), Span(2, 3, "MISC")])
    assert target == "<ORG>EU</ORG> rejects <MISC>German</MISC> call to boycott British lamb ."
    assert xml.parse(target, EU).spans == (Span(0, 1, "ORG"), Span(2, 3, "MISC"))


def test_instruction_follows_the_reference_pattern(xml: Xml) -> None:
    assert xml.instruction().startswith(
        "Your task is to identify all named entities in the input sentence and rewrite the sentence by "
        "enclosing each entity in tags named after its label, using the format <LABEL>Entity Text</LABEL>. "
        "Use only the label tags defined in the Label Set below.\nLabel Set:\nORG(organization): "
    )


def test_mismatched_tags_give_no_span(xml: Xml) -> None:
    result = xml.parse("<ORG>EU</LOC> rejects <MISC>German</MISC> call to boycott British lamb .", EU)
    assert result.spans == (Span(2, 3, "MISC"),)
    assert kinds(result) == [d.MISMATCHED_TAG]


def test_loose_tags_and_respacing(xml: Xml) -> None:
    result = xml.parse("< ORG >EU</ ORG> rejects <MISC>German</MISC> call to boycott British lamb.", EU)
    assert result.spans == (Span(0, 1, "ORG"), Span(2, 3, "MISC"))
    assert result.diagnostics == ()


def test_literal_tags_in_the_input_stay_text(xml: Xml) -> None:
    tokens = ["<b>", "Paris", "</b>"]
    target = xml.render(tokens, [Span(1, 2, "LOC")])
    assert target == "<b> <LOC>Paris</LOC> </b>"
    assert xml.parse(target, tokens).spans == (Span(1, 2, "LOC"),)


def test_unclosed_tag(xml: Xml) -> None:
    result = xml.parse("<ORG>EU rejects <MISC>German</MISC> call to boycott British lamb .", EU)
    assert result.spans == (Span(2, 3, "MISC"),)
    assert kinds(result) == [d.TEXT_MISMATCH, d.UNBALANCED_MARKUP]
