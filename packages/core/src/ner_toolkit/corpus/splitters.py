"""Built-in sentence splitters: raw text to sentences, for a tokenizer's ``splitter`` option.

- ``pysbd`` (the default): pysbd's rule-based English segmenter (abbreviations, numbers,
  quotes, lists).
- ``rules``: a sentence ends after ``.``, ``!`` or ``?`` (and a closing quote) followed by a
  space and a capital (or an opening quote and a capital), but not after an abbreviation
  (``U.S.``, ``J.``, ``Inc.``).

Which finds most boundaries with fewest false splits is measured in ``benchmarks/tokenize.md``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..hookspecs import hookimpl
from ..interfaces import SentenceSplitter
from .tokenizers import ABBREVIATIONS

SENTENCE_END = re.compile(r"[.!?]['\")\]]*$")
ABBREVIATION = re.compile(rf"(?:[A-Za-z]\.)+|(?:{ABBREVIATIONS})\.")
"""A token that ends in a dot but ends no sentence: U.S., J., Inc."""
CLOSERS = frozenset({'"', "'", ")", "]"})
OPENERS = frozenset({'"', "'", "(", "["})


def rule_sentences(text: str, tokens: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences ending after ``.``, ``!`` or ``?`` (and a closing quote) before a capital (or an opening quote and a capital), not after an abbreviation."""
    found: list[tuple[int, int]] = []
    words = [text[start:end] for start, end in tokens]

    def ends(k: int) -> bool:  # 158 . | said . " | rained !
        if words[k] in CLOSERS and k > 0 and tokens[k - 1][1] == tokens[k][0]:
            k -= 1
        return bool(SENTENCE_END.search(words[k])) and not ABBREVIATION.fullmatch(words[k])

    def starts(k: int) -> bool:  # Then | "I | (The
        if words[k] in OPENERS and k + 1 < len(tokens) and tokens[k][1] == tokens[k + 1][0]:
            k += 1
        return words[k][0].isupper()

    first = 0
    for index, (_, end) in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if following and following[0] > end and ends(index) and starts(index + 1):
            found.append((tokens[first][0], end))
            first = index + 1
    if first < len(tokens):
        found.append((tokens[first][0], tokens[-1][1]))
    return found


class RulesSplitter(SentenceSplitter):
    """Sentences at . ! ? (and a closing quote) before a capital, not after an abbreviation (U.S., J., Inc.), on the tokenizer's tokens."""

    name = "rules"

    def split(self, text: str, tokens: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        return rule_sentences(text, tokens)


class PysbdSplitter(SentenceSplitter):
    """pysbd's English rules (Golden Rules; abbreviations, numbers, quotes, lists); the default splitter."""

    name = "pysbd"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        import pysbd

        self._segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)

    def split(self, text: str, tokens: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(span.start, span.end) for span in self._segmenter.segment(text)]


@hookimpl
def register_splitters(register: Any) -> None:
    register(PysbdSplitter)
    register(RulesSplitter)
