"""The reference format: its instruction, its targets and what its parser makes of real outputs."""

from __future__ import annotations

import pytest
from ner_toolkit import CONLL2003_LABELS, Mention, Span

from ner_toolkit_formats import diagnostics as d
from ner_toolkit_formats.base import UnrepresentableError
from ner_toolkit_formats.bracketed import Bracketed

REFERENCE_INSTRUCTION = (
    "Your task is to identify all named entities in the input sentence and rewrite the sentence by "
    "enclosing each entity using the format [Entity Text | LABEL]. Use only the label tags defined in "
    "the Label Set below.\n"
    "Label Set:\n"
    "ORG(organization): A collective entity such as a company, institution, brand, political or "
    "governmental body, publication, or any organized group of people acting as a unit.\n"
    "PER(person): A named individual, including humans, animals, fictional characters, and their aliases.\n"
    "LOC(location): A geographical or spatial entity, including natural features, built structures, "
    "regions, public or commercial places, assorted buildings, and abstract or metaphorical places.\n"
    "MISC(miscellaneous): Named entities that are not persons, organizations, or locations, including "
    "derived adjectives, religions, ideologies, nationalities, languages, events, programs, wars, titles "
    "of works, slogans, eras, and types of objects.\n"
    "Now process the input sentence:"
)

EU = "EU rejects German call to boycott British lamb .".split()
EU_SPANS = [Span(0, 1, "ORG"), Span(2, 3, "MISC"), Span(6, 7, "MISC")]
EU_TARGET = "[EU | ORG] rejects [German | MISC] call to boycott [British | MISC] lamb ."


@pytest.fixture
def bracketed() -> Bracketed:
    return Bracketed(CONLL2003_LABELS)


def kinds(result) -> list[str]:
    return [diagnostic.kind for diagnostic in result.diagnostics]


def test_instruction_is_the_reference_text(bracketed: Bracketed) -> None:
    assert bracketed.instruction() == REFERENCE_INSTRUCTION


def test_target_is_the_input_with_entities_wrapped(bracketed: Bracketed) -> None:
    assert bracketed.render(EU, EU_SPANS) == EU_TARGET
    assert bracketed.render_input(EU) == "EU rejects German call to boycott British lamb ."


def test_copied_output_parses_exactly(bracketed: Bracketed) -> None:
    result = bracketed.parse(EU_TARGET, EU)
    assert result.spans == tuple(EU_SPANS)
    assert result.diagnostics == ()
    assert result.copied_input
    assert result.mentions == (Mention("EU", "ORG"), Mention("German", "MISC"), Mention("British", "MISC"))


def test_literal_brackets_of_eng_testb_survive(bracketed: Bracketed) -> None:
    tokens = "[ CORRECTED 14:06 GMT ]".split()
    result = bracketed.parse("[ CORRECTED 14:06 [GMT | MISC] ]", tokens)
    assert result.spans == (Span(3, 4, "MISC"),)
    assert result.diagnostics == ()


def test_literal_brackets_of_eng_train_survive(bracketed: Bracketed) -> None:
    tokens = "RABOBANK [ RABN.CN ] SEES 1996 PROFIT UP".split()
    spans = [Span(0, 1, "ORG"), Span(2, 3, "ORG")]
    target = bracketed.render(tokens, spans)
    assert target == "[RABOBANK | ORG] [ [RABN.CN | ORG] ] SEES 1996 PROFIT UP"
    assert bracketed.parse(target, tokens).spans == tuple(spans)


def test_entity_that_starts_with_a_literal_bracket(bracketed: Bracketed) -> None:
    tokens = ["[", "b", "]"]
    target = bracketed.render(tokens, [Span(0, 2, "ORG")])
    assert target == "[[ b | ORG] ]"
    assert bracketed.parse(target, tokens).spans == (Span(0, 2, "ORG"),)


def test_respaced_output_aligns(bracketed: Bracketed) -> None:
    tokens = "Toronto shares rose C$0.45 , said England 's bank .".split()
    result = bracketed.parse("[Toronto | LOC] shares rose C$ 0.45, said [England | LOC]'s bank.", tokens)
    assert result.spans == (Span(0, 1, "LOC"), Span(6, 7, "LOC"))
    assert result.copied_input
    assert result.diagnostics == ()


def test_entity_spanning_respaced_tokens(bracketed: Bracketed) -> None:
    tokens = "England 's bank".split()
    assert bracketed.parse("[England's | LOC] bank", tokens).spans == (Span(0, 2, "LOC"),)


def test_loose_markup_spacing(bracketed: Bracketed) -> None:
    result = bracketed.parse("[EU|ORG] rejects [ German | MISC ] call to boycott British lamb .", EU)
    assert result.spans == (Span(0, 1, "ORG"), Span(2, 3, "MISC"))
    assert result.diagnostics == ()


def test_hallucinated_and_dropped_words(bracketed: Bracketed) -> None:
    output = "[EU | ORG] strongly rejects [German | MISC] call to boycott [Escalene | MISC] lamb"
    result = bracketed.parse(output, EU)
    assert result.spans == (Span(0, 1, "ORG"), Span(2, 3, "MISC"))
    assert not result.copied_input
    assert kinds(result) == [d.TEXT_MISMATCH, d.ENTITY_NOT_IN_INPUT]
    assert Mention("Escalene", "MISC") in result.mentions


def test_entity_cutting_a_token_is_not_a_span(bracketed: Bracketed) -> None:
    tokens = ["C$0.45", "rise"]
    result = bracketed.parse("[C$ | MISC]0.45 rise", tokens)
    assert result.spans == ()
    assert kinds(result) == [d.PARTIAL_TOKEN]


def test_unknown_labels_are_reported_and_kept_for_scoring(bracketed: Bracketed) -> None:
    """A wrong type is a wrong prediction: the span stays, so scorers count it (issue 11)."""
    result = bracketed.parse("[EU | GPE] rejects [German | MISC] call to boycott [British | misc] lamb .", EU)
    assert result.spans == (Span(0, 1, "GPE"), Span(2, 3, "MISC"), Span(6, 7, "misc"))
    assert kinds(result) == [d.UNKNOWN_LABEL, d.UNKNOWN_LABEL]
    dropped = Bracketed(CONLL2003_LABELS, keep_unknown_labels=False).parse("[EU | GPE] rejects", EU[:2])
    assert dropped.spans == ()
    assert kinds(dropped) == [d.UNKNOWN_LABEL]


def test_everything_after_the_first_newline_is_discarded(bracketed: Bracketed) -> None:
    result = bracketed.parse(EU_TARGET + "\n[lamb | MISC] and more", EU)
    assert result.spans == tuple(EU_SPANS)
    assert kinds(result) == [d.TRAILING_LINES]
    whole = Bracketed(CONLL2003_LABELS, first_line_only=False).parse(EU_TARGET + "\n", EU)
    assert whole.spans == tuple(EU_SPANS)


def test_unbalanced_brackets(bracketed: Bracketed) -> None:
    result = bracketed.parse("[EU | ORG] rejects [German call to boycott British lamb .", EU)
    assert result.spans == (Span(0, 1, "ORG"),)
    assert kinds(result) == [d.TEXT_MISMATCH, d.UNBALANCED_MARKUP]
    cut = bracketed.parse("[EU | ORG] rejects [German | MI", EU)
    assert cut.spans == (Span(0, 1, "ORG"), Span(2, 3, "MI"))  # a cut label is a wrong one, and scored
    assert d.UNKNOWN_LABEL in kinds(cut)


def test_empty_entity_and_missing_label(bracketed: Bracketed) -> None:
    result = bracketed.parse("[ | PER] EU [rejects | ] German call to boycott British lamb .", EU)
    assert result.spans == ()
    assert set(kinds(result)) >= {d.EMPTY_ENTITY, d.MISSING_LABEL}


def test_nesting_in_a_flat_label_set(bracketed: Bracketed) -> None:
    tokens = "Bank of England rose".split()
    output = "[Bank of [England | LOC] | ORG] rose"
    result = bracketed.parse(output, tokens)
    assert result.spans == (Span(0, 3, "ORG"),)
    assert kinds(result) == [d.NESTED_ENTITY]
    nested = Bracketed(CONLL2003_LABELS, nested=True)
    assert nested.parse(output, tokens).spans == (Span(0, 3, "ORG"), Span(2, 3, "LOC"))
    assert nested.render(tokens, [Span(0, 3, "ORG"), Span(2, 3, "LOC")]) == output
    with pytest.raises(UnrepresentableError):
        bracketed.render(tokens, [Span(0, 3, "ORG"), Span(2, 3, "LOC")])


def test_ambiguous_input_is_refused(bracketed: Bracketed) -> None:
    tokens = ["a", "|", "PER]"]
    assert bracketed.render(tokens, []) == "a | PER]"
    assert bracketed.render(tokens, [Span(0, 1, "PER")]) == "[a | PER] | PER]"
    with pytest.raises(UnrepresentableError):  # the same target: the parser reads the shorter entity
        bracketed.render(tokens, [Span(0, 3, "PER")])


def test_crossing_spans_are_refused() -> None:
    nested = Bracketed(CONLL2003_LABELS, nested=True)
    with pytest.raises(UnrepresentableError):
        nested.render(["a", "b", "c"], [Span(0, 2, "PER"), Span(1, 3, "LOC")])
