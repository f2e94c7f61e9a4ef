"""The ``spacy`` tokenizer: spaCy's rule-based English tokenizer and sentencizer, nudged towards CoNLL-2003.

Needs the ``spacy`` extra (``pip install "ner-toolkit-core[spacy]"``); spaCy is imported
when the tokenizer is first built, never when this module is, so ``ner-toolkit plugins``
stays light. It uses ``spacy.blank("en")`` (no model download) with the ``sentencizer``.

With ``conll: true`` (the default) three of spaCy's English rules that CoNLL-2003 does not
follow are switched off, as measured in ``benchmarks/tokenize.md``: hyphens inside words
and numbers (CoNLL keeps ``one-day``, ``Bre-X``, ``2-0`` and ``1996-12-06`` whole), the
emoticon special cases (``):`` is ``) :`` in CoNLL) and ``cannot`` as ``can not``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..hookspecs import hookimpl
from ..interfaces import Tokenizer

SPLIT_BY_SPACY_ONLY = ("one-day", "2-0")
"""Texts whose inner hyphen spaCy's English infixes split and CoNLL-2003 does not."""


class SpacyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conll: bool = Field(True, description="switch off spaCy rules that CoNLL-2003 does not follow (hyphens, emoticons, cannot)")
    split_sentences: bool = Field(True, description="split sentences with spaCy's rule-based sentencizer")


def conll_english(conll: bool = True) -> Any:
    """``spacy.blank("en")`` with the sentencizer, its tokenizer adjusted to CoNLL-2003 when ``conll``."""
    try:
        import spacy
        from spacy.util import compile_infix_regex
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError('the spacy tokenizer needs spaCy: pip install "ner-toolkit-core[spacy]"') from error
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    if conll:
        infixes = [pattern for pattern in nlp.Defaults.infixes if not any(re.search(pattern, text) for text in SPLIT_BY_SPACY_ONLY)]
        nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
        # emoticons (":)", "):", "<3", ...) and "cannot" -> "can not"; contractions (don't -> do n't) stay
        nlp.tokenizer.rules = {
            text: pieces
            for text, pieces in nlp.tokenizer.rules.items()
            if any(c.isalnum() for c in text) and text.lower() != "cannot"
        }
    return nlp


class SpacyTokenizer(Tokenizer):
    """spaCy's English tokenizer and sentencizer (spacy.blank("en"), no download), hyphenated words kept whole as in CoNLL."""

    name = "spacy"
    Options = SpacyOptions
    options: SpacyOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._nlp: Any = None

    @property
    def nlp(self) -> Any:
        """The spaCy pipeline, built on first use."""
        if self._nlp is None:
            self._nlp = conll_english(self.options.conll)
        return self._nlp

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        doc = self.nlp.make_doc(text)  # the tokenizer alone: no sentencizer needed
        return [(token.idx, token.idx + len(token)) for token in doc if not token.is_space]

    def sentences(self, text: str) -> list[list[tuple[int, int]]]:
        if not self.options.split_sentences:
            return super().sentences(text)
        found = []
        for sentence in self.nlp(text).sents:
            tokens = [(token.idx, token.idx + len(token)) for token in sentence if not token.is_space]
            if tokens:
                found.append(tokens)
        return found


@hookimpl
def register_tokenizers(register: Any) -> None:
    register(SpacyTokenizer)
