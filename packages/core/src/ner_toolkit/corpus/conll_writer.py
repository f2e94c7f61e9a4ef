"""The ``conll`` writer: ``token TAG`` lines in IOB2, a ``-DOCSTART-`` line before each document, as the ``conll`` reader reads."""

from __future__ import annotations

from typing import Any

from ..documents import Document
from ..hookspecs import hookimpl
from ..interfaces import Writer
from ..spans import DOCSTART, Sentence
from .conll import write_conll


class ConllWriter(Writer):
    """CoNLL columns (token and IOB2 tag), a blank line after each sentence, a -DOCSTART- line before each document."""

    name = "conll"

    def write(self, document: Document) -> None:
        tagged = [Sentence(s.id, s.tokens, p.spans) for s, p in zip(document.sentences, document.predictions)]
        write_conll(self.handle, [Sentence("docstart", (DOCSTART,)), *tagged], "IOB2")


@hookimpl
def register_writers(register: Any) -> None:
    register(ConllWriter)
