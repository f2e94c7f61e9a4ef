"""The copy grammar as data: what an inference engine needs to constrain an output to renderings of one sentence.

For an inline format (``InlineMarkup``), a label set and a sentence's tokens, the
grammar accepts exactly the strings the toolkit's own constrained decoding allows: the
tokens joined by single spaces, with any run of consecutive tokens marked as one entity
(the opener before its first token, the closer after its last, one label), entities not
nested. Engines take it in their dialects:

- ``ebnf``: the GBNF-style EBNF of xgrammar, which vLLM (``structured_outputs.grammar``)
  and SGLang (``ebnf``) compile;
- ``gbnf``: llama.cpp's ``grammar`` (the same text: rule names of letters and digits only);
- ``regex``: one regular expression, where it stays under ``max_length`` characters. A
  regular expression cannot share a rule between the places that use it, so it doubles
  with each word: a few words only (six in the bracketed format, three in XML, at the
  default limit); longer sentences are refused with ``GrammarTooLarge``.

The grammar is right-linear: for each word, a rule for "outside an entity before it", and
"inside an entity after it" (per label where the opener names the label).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from .interfaces import InlineMarkup

Dialect = Literal["ebnf", "gbnf", "regex"]
DIALECTS: tuple[Dialect, ...] = ("ebnf", "gbnf", "regex")
MAX_REGEX = 20_000
"""The longest regular expression returned; a longer one is refused (use a grammar)."""


class GrammarTooLarge(ValueError):
    """A regular expression for this sentence would be longer than allowed."""


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def copy_grammar(markup: InlineMarkup, labels: Sequence[str], tokens: Sequence[str], dialect: Dialect = "ebnf",
                 max_length: int = MAX_REGEX) -> str:
    """The grammar (or regular expression) of every rendering of ``tokens`` with flat entities of ``labels``."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown grammar dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    if markup.max_depth != 1:
        raise ValueError("the copy grammar covers flat entities only (max_depth 1)")
    if not tokens:
        raise ValueError("a sentence without tokens has no rendering to constrain")
    if not labels:
        raise ValueError("the copy grammar needs at least one label")
    if dialect == "regex":
        return _regex(markup, labels, tokens, max_length)
    return _ebnf(markup, labels, tokens)


def _ebnf(markup: InlineMarkup, labels: Sequence[str], tokens: Sequence[str]) -> str:
    """``o{i}``: word ``i`` comes next, outside an entity; ``e{i}`` (``e{i}l{k}`` per label when the opener names it): an entity is open after word ``i``."""
    n = len(tokens)
    per_label = "{label}" in markup.open
    kinds = list(enumerate(labels)) if per_label else [(None, None)]
    rules = ["root ::= o0"]
    for i, token in enumerate(tokens):
        space = '" " ' if i else ""
        word = _quoted(token)
        after = f"o{i + 1}" if i + 1 < n else ""
        outside = f"{space}{word} {after}".strip()
        choices = [f"({outside})"]
        for k, label in kinds:
            opener = markup.opener(label) if label is not None else markup.open
            choices.append(f"({space}{_quoted(opener)} {word} {_inside(i, k)})")
        rules.append(f"o{i} ::= " + " | ".join(choices))
        for k, label in kinds:
            closers = [markup.closer(label)] if label is not None else [markup.closer(name) for name in labels]
            close = " | ".join(_quoted(c) for c in closers)
            options = [f"({close}) {after}".strip()]
            if i + 1 < n:
                options.append(f'" " {_quoted(tokens[i + 1])} {_inside(i + 1, k)}')
            rules.append(f"{_inside(i, k)} ::= " + " | ".join(f"({o})" for o in options))
    return "\n".join(rules) + "\n"


def _inside(i: int, k: int | None) -> str:
    return f"e{i}" if k is None else f"e{i}l{k}"


def _regex(markup: InlineMarkup, labels: Sequence[str], tokens: Sequence[str], max_length: int) -> str:
    """The grammar's rules expanded into one expression, from the last word backwards (each rule is copied where used).

    ``outside`` is ``o{i}`` (the renderings from word ``i`` on, outside an entity); ``inside``
    is ``e{i}`` per opener (an entity open after word ``i``: close it, or take the next word).
    """
    n = len(tokens)
    words = [re.escape(token) for token in tokens]
    per_label = "{label}" in markup.open
    pairs = ([(re.escape(markup.opener(label)), re.escape(markup.closer(label))) for label in labels] if per_label
             else [(re.escape(markup.open), "(?:" + "|".join(re.escape(markup.closer(label)) for label in labels) + ")")])
    outside = ""  # o{n}: the end
    inside: list[str] = []  # e{i + 1}, per opener
    for i in range(n - 1, -1, -1):
        continued = [f"| {words[i + 1]}{rest}" for rest in inside] if inside else [""] * len(pairs)
        inside = [f"(?:{closer}{outside}{more})" for (_, closer), more in zip(pairs, continued)]
        entities = [f"{opener}{words[i]}{rest}" for (opener, _), rest in zip(pairs, inside)]
        outside = (" " if i else "") + "(?:" + "|".join([f"{words[i]}{outside}", *entities]) + ")"
        if len(outside) > max_length:
            raise GrammarTooLarge(f"a regular expression for these {n} tokens is over {max_length:,} characters; use a grammar")
    return outside
