"""The five formats and the third-party example come through entry points, each with its instruction."""

from __future__ import annotations

from ner_toolkit import CONLL2003_LABELS, Span, plugins

from ner_toolkit_formats.base import FormatOptions


def test_each_format_is_its_own_plugin(format_name: str) -> None:
    component = next(c for c in plugins.components() if c.kind == "format" and c.name == format_name)
    assert component.distribution.startswith("ner-toolkit-formats ")
    assert component.plugin == format_name.replace("-", "_")
    assert component.cls.Options is FormatOptions


def test_each_instruction_describes_its_format(format_name: str) -> None:
    formatter = plugins.get_formatter(format_name)(CONLL2003_LABELS)
    instruction = formatter.instruction()
    assert formatter.output_description in instruction
    assert instruction.endswith("MISC(miscellaneous): " + CONLL2003_LABELS[3].description + "\nNow process the input sentence:")


def test_options_are_validated(format_name: str) -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        plugins.get_formatter(format_name)(CONLL2003_LABELS, nesting=True)


def test_the_example_plugin_of_the_guide_works() -> None:
    component = next(c for c in plugins.components() if c.kind == "format" and c.name == "slash-tags")
    assert component.distribution.startswith("ner-toolkit-example-format ")
    formatter = component.cls(CONLL2003_LABELS)
    tokens = ["EU", "rejects", "German", "call"]
    target = formatter.render(tokens, [Span(0, 1, "ORG"), Span(2, 3, "MISC")])
    assert target == "EU/B-ORG rejects/O German/B-MISC call/O"
    assert formatter.parse(target, tokens).spans == (Span(0, 1, "ORG"), Span(2, 3, "MISC"))
