"""Built-in tokenizers: raw text to tokens with character offsets.

- ``whitespace``: every run of non-space characters is a token.
- ``regex``: tokens as CoNLL-2003 and the Penn Treebank split English (``England 's``,
  ``do n't``, ``158 .``, ``U.S.``, ``one-day``), by one regular expression that an option
  may replace; sentences end after ``.``, ``!`` or ``?`` followed by a space and a capital.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .hookspecs import hookimpl
from .interfaces import Tokenizer

CONLL_LIKE = (
    r"(?:[A-Za-z]\.){2,}"  # abbreviations with inner dots: U.S., U.N.
    r"|\d+(?:[.,:/]\d+)+"  # numbers and times: 1,000  3.5  14:06  1/2
    r"|\w+?(?=n't\b)"  # do|n't
    r"|n't\b"
    r"|'(?:s|re|ve|ll|d|m)\b"  # England|'s
    r"|\w+(?:[-&]\w+)*"  # words, one-day, AT&T
    r"|\S"  # any other character alone
)
SENTENCE_END = re.compile(r"[.!?]['\")\]]*$")


class WhitespaceTokenizer(Tokenizer):
    """Tokens are the runs of non-space characters."""

    name = "whitespace"

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\S+", text)]


class RegexOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(CONLL_LIKE, description="a token is each match; whitespace between matches is dropped")
    split_sentences: bool = True

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
    """Tokens split as CoNLL-2003 writes English (England 's, do n't, 158 .); sentences at . ! ? before a capital."""

    name = "regex"
    Options = RegexOptions
    options: RegexOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._pattern = re.compile(self.options.pattern)

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for match in self._pattern.finditer(text):
            start, end = match.span()
            # a pattern may match whitespace; no token holds any
            for piece in re.finditer(r"\S+", text[start:end]):
                spans.append((start + piece.start(), start + piece.end()))
        return spans

    def sentences(self, text: str) -> list[list[tuple[int, int]]]:
        tokens = self.tokenize(text)
        if not self.options.split_sentences:
            return [tokens] if tokens else []
        found: list[list[tuple[int, int]]] = []
        current: list[tuple[int, int]] = []
        for index, (start, end) in enumerate(tokens):
            current.append((start, end))
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following and SENTENCE_END.search(text[start:end]) and following[0] > end and text[following[0]].isupper():
                found.append(current)
                current = []
        if current:
            found.append(current)
        return found


@hookimpl
def register_tokenizers(register: Any) -> None:
    register(WhitespaceTokenizer)
    register(RegexTokenizer)
