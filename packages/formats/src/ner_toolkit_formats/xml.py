"""Inline XML tags: ``<LABEL>Entity Text</LABEL>`` (``<ORG>EU</ORG> rejects <MISC>German</MISC> call``).

The target is the input with each entity wrapped in a tag named after its label; nested
spans (``nested=True``) render as nested tags. A closing tag must repeat its opening
tag's label: ``<PER>x</LOC>`` is a ``mismatched_tag`` diagnostic and gives no span.

Ambiguity: tag-like tokens in the input (``<b>``, ``</PER>``) stay text when the output
copies the input, because the parser reads the output against the input. Where the input
itself spells markup that could pair up differently (a token ``<PER>`` and a later token
``</PER>``), ``render`` checks its target parses back and otherwise refuses the sentence
with ``UnrepresentableError``; crossing spans and labels containing whitespace, ``<``,
``>`` or ``/`` are refused too. CoNLL-2003 has no ``<`` at all.
"""

from __future__ import annotations

import re

from ner_toolkit import hookimpl

from .inline import InlineFormatter, Syntax

LABEL = r"[^\s<>/]+"


class Xml(InlineFormatter):
    """Entities wrapped inline in XML tags named after their labels: <LABEL>Entity Text</LABEL>."""

    name = "xml"
    output_description = (
        "rewrite the sentence by enclosing each entity in tags named after its label, "
        "using the format <LABEL>Entity Text</LABEL>."
    )
    syntax = Syntax(
        open="<{label}>",
        close="</{label}>",
        label=re.compile(LABEL),
        exact_open=re.compile(rf"<(?P<label>{LABEL})>"),
        exact_close=re.compile(rf"</(?P<label>{LABEL})>"),
        trigger=re.compile(r"<"),
        loose=re.compile(
            rf"(?P<open><\s*(?P<open_label>{LABEL})\s*>)|(?P<close><\s*/\s*(?P<close_label>{LABEL})\s*>)"
        ),
    )


@hookimpl
def register_formats(register):
    register(Xml)
