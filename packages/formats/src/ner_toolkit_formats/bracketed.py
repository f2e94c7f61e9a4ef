"""The reference format: ``[Entity Text | LABEL]`` inline (``[EU | ORG] rejects [German | MISC] call``).

The target is the input (tokens joined by single spaces) with each entity wrapped and
nothing else changed; nested spans (``nested=True``) render as nested brackets.

Ambiguity: literal ``[`` and ``]`` tokens are fine (``[ CORRECTED 14:06 [GMT | MISC] ]``
parses to one span), because the parser reads the output against the input. What it
cannot tell apart is markup that the input itself spells: a token ``|`` followed by a
token that starts with a label and ``]`` (``a | PER]``), where a span ending before the
``|`` and one running past the ``]`` give the same target, ``[a | PER] | PER]``. The
parser reads the shorter entity (it closes as early as it can); ``render`` checks every
target of an input that holds ``[`` or `` |`` and refuses the other reading with
``UnrepresentableError`` rather than write an ambiguous target; crossing
spans and labels containing whitespace, ``[``, ``]`` or ``|`` are refused too.
CoNLL-2003 has no ``|`` token, so nothing in it is refused.
"""

from __future__ import annotations

import re

from ner_toolkit import hookimpl

from .inline import InlineFormatter, Syntax

LABEL = r"[^\s\[\]|]+"


class Bracketed(InlineFormatter):
    """Entities wrapped inline as [Entity Text | LABEL]: the reference format."""

    name = "bracketed"
    output_description = "rewrite the sentence by enclosing each entity using the format [Entity Text | LABEL]."
    syntax = Syntax(
        open="[",
        close=" | {label}]",
        label=re.compile(LABEL),
        exact_open=re.compile(r"\["),
        exact_close=re.compile(rf" \| (?P<label>{LABEL})\]"),
        trigger=re.compile(r"\[| \|"),
        loose=re.compile(rf"(?P<open>\[)|(?P<close>\s*\|\s*(?P<close_label>{LABEL}|)\s*(?:\]|$))"),
    )


@hookimpl
def register_formats(register):
    register(Bracketed)
