"""Built-in tokenizers: raw text to tokens with character offsets.

- ``whitespace``: every run of non-space characters is a token.
- ``regex``: tokens as CoNLL-2003 and the Penn Treebank split English (``England 's``,
  ``do n't``, ``158 .``, ``U.S.``, ``one-day``), by one regular expression that an option
  may replace; sentences by a splitter plugin (option ``splitter``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..hookspecs import hookimpl
from ..interfaces import SentenceSplitter, Tokenizer

ABBREVIATIONS = "Aug|Calif|Co|Corp|Dec|Dr|Feb|Fla|Gen|Gov|Inc|Jan|Jr|Lt|Ltd|Mr|Mrs|Ms|Mt|No|Nov|Oct|Rep|Rev|Sen|Sept|Sr|St|vs"
"""Abbreviations CoNLL-2003 keeps with their dot before another word (the frequent ones in eng.train)."""

CONLL_LIKE = (
    r"(?m:^)\d{1,3}\.(?=[ \t]+\S)"  # a numbered list item at the start of a line: 1. Jesper Ronnback
    r"|(?:[A-Za-z]\.){2,}"  # abbreviations with inner dots: U.S., U.N.
    rf"|(?:{ABBREVIATIONS})\.(?=\s+\S)"  # Inc. and St. before another word (at the end they end the sentence)
    r"|[A-Z]\.(?=\s+[A-Z])"  # an initial: J. Smith
    r"|[+-]?\d*[.,]?\d+(?:[-.,:/]\d+)*=?(?![\w-])"  # numbers, scores, times and dates: 1,000 3.5 .500 +44 2-0 14:06 1996-12-06 10=
    r"|[A-Z]{1,2}\$"  # currencies: C$, US$
    r"|\w+?(?=n't\b)"  # do|n't
    r"|(?i:n't)\b"
    r"|'(?i:s|re|ve|ll|d|m)\b"  # England|'s, THURSDAY|'S
    r"|\w+(?:(?:[-&]|'(?!(?i:s|re|ve|ll|d|m)\b))\w+)*"  # words, one-day, 10-year, AT&T, O'Brien
    r"|--|\.\.\."  # dashes, ellipses
    r"|\S"  # any other character alone
)
DEFAULT_SPLITTER = "pysbd"
"""The sentence splitter that found most of eng.testb's sentence boundaries with fewest false splits (benchmarks/tokenize.md)."""


def token_texts(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[str, ...]:
    """Each token's text, composed (Unicode NFC): a model sees ``Müller`` however the text encodes it; offsets still index ``text``."""
    return tuple(unicodedata.normalize("NFC", text[start:end]) for start, end in offsets)


def _is_mark(character: str) -> bool:
    return unicodedata.category(character).startswith("M")


def keep_marks_with_letters(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join touching tokens that a combining mark split: decomposed text (NFD: ``Mu`` + U+0308 + ``ller``) tokenizes as composed does."""
    if text.isascii():  # no combining marks: the common case costs one scan of the text
        return spans
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined and joined[-1][1] == start and (_is_mark(text[start]) or (_is_mark(text[start - 1]) and text[start].isalnum())):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def group_tokens(tokens: Sequence[tuple[int, int]], sentences: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Tokens grouped by the sentence their first character falls in: a splitter never cuts a token."""
    groups: list[list[tuple[int, int]]] = []
    ends = iter(end for _, end in sentences)
    end = next(ends, None)
    current: list[tuple[int, int]] = []
    for token in tokens:
        while end is not None and token[0] >= end:
            if current:
                groups.append(current)
                current = []
            end = next(ends, None)
        current.append(token)
    if current:
        groups.append(current)
    return groups


class WhitespaceTokenizer(Tokenizer):
    """Tokens are the runs of non-space characters."""

    name = "whitespace"

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\S+", text)]


class RegexOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(CONLL_LIKE, description="a token is each match; whitespace between matches is dropped")
    split_sentences: bool = True
    splitter: str = Field(DEFAULT_SPLITTER, description="the sentence splitter plugin: pysbd, or rules (punctuation before a capital)")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as error:
            raise ValueError(f"not a regular expression: {error}") from None
        if compiled.match(""):
            raise ValueError("the pattern matches the empty string")
        return value


class RegexTokenizer(Tokenizer):
    """Tokens split as CoNLL-2003 writes English (England 's, do n't, 158 .); sentences by a splitter plugin (pysbd)."""

    name = "regex"
    Options = RegexOptions
    options: RegexOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._pattern = re.compile(self.options.pattern)
        self._splitter: SentenceSplitter | None = None

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for match in self._pattern.finditer(text):
            start, end = match.span()
            # a pattern may match whitespace; no token holds any
            for piece in re.finditer(r"\S+", text[start:end]):
                spans.append((start + piece.start(), start + piece.end()))
        return keep_marks_with_letters(text, spans)

    def sentences(self, text: str) -> list[list[tuple[int, int]]]:
        tokens = self.tokenize(text)
        if not self.options.split_sentences:
            return [tokens] if tokens else []
        if self._splitter is None:
            from .. import plugins

            self._splitter = plugins.get_splitter(self.options.splitter)()
        return group_tokens(tokens, self._splitter.split(text, tokens))


@hookimpl
def register_tokenizers(register: Any) -> None:
    register(WhitespaceTokenizer)
    register(RegexTokenizer)
