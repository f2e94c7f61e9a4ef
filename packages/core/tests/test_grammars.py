"""The copy grammar as text for engines: its regular expression matches exactly the renderings, and bad requests are refused."""

from __future__ import annotations

import re

import pytest

from ner_toolkit import CONLL2003_LABELS, Span, plugins
from ner_toolkit.grammars import GrammarTooLarge, copy_grammar

LABELS = [label.name for label in CONLL2003_LABELS]
TOKENS = ("Nadim", "Ladki", "[", "C$0.45", '"')


@pytest.mark.parametrize("name", ["bracketed", "xml"])
def test_the_regex_matches_every_rendering_and_nothing_else(name: str) -> None:
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    tokens = TOKENS if name == "bracketed" else TOKENS[:3]  # a label in the opener too: the expression grows faster
    pattern = re.compile(copy_grammar(formatter.inline_markup(), LABELS, tokens, "regex"))
    renderings = [(), (Span(0, 2, "PER"),), (Span(0, 1, "PER"), Span(1, 2, "LOC")), (Span(2, 3, "MISC"),), (Span(0, 3, "ORG"),)]
    for spans in renderings:
        assert pattern.fullmatch(formatter.render(tokens, spans)), spans
    text = formatter.render(tokens, (Span(0, 2, "PER"),))
    for bad in [text.replace("Ladki", "Ladky"), text.replace(" ", "  ", 1), formatter.render(tokens, (Span(0, 2, "DATE"),)),
                text + " ", formatter.render(tokens, (Span(0, 1, "PER"),)).replace(formatter.inline_markup().closer("PER"), "", 1)]:
        assert not pattern.fullmatch(bad), bad


def test_gbnf_is_the_ebnf_text_with_rule_names_llama_cpp_reads() -> None:
    markup = plugins.get_formatter("bracketed")(CONLL2003_LABELS).inline_markup()
    ebnf = copy_grammar(markup, LABELS, TOKENS, "ebnf")
    assert copy_grammar(markup, LABELS, TOKENS, "gbnf") == ebnf
    assert all(re.fullmatch(r"[a-z0-9]+", line.split(" ::= ")[0]) for line in ebnf.splitlines())
    assert r'"\""' in ebnf and '"C$0.45"' in ebnf  # a quote token is escaped


def test_requests_the_grammar_cannot_serve_are_refused() -> None:
    markup = plugins.get_formatter("bracketed")(CONLL2003_LABELS).inline_markup()
    with pytest.raises(GrammarTooLarge, match="use a grammar"):
        copy_grammar(markup, LABELS, ["w"] * 30, "regex")
    with pytest.raises(ValueError, match="without tokens"):
        copy_grammar(markup, LABELS, [], "ebnf")
    with pytest.raises(ValueError, match="unknown grammar dialect 'lark'"):
        copy_grammar(markup, LABELS, TOKENS, "lark")  # type: ignore[arg-type]
    nested = plugins.get_formatter("bracketed")(CONLL2003_LABELS, nested=True).inline_markup()
    with pytest.raises(ValueError, match="flat entities only"):
        copy_grammar(nested, LABELS, TOKENS)
