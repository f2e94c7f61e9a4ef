"""The ``conll`` reader: CoNLL column files (one token per line, blank lines between sentences).

The reading itself is ``conll.read_conll``; this module makes it a plugin with validated
options, so a recipe says ``data.reader: {name: conll, options: {scheme: IOB1}}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..hookspecs import hookimpl
from ..interfaces import Reader
from ..schemes import Scheme
from ..spans import Sentence
from .conll import read_conll


class CoNLLOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheme: Scheme = Scheme.IOB1
    """Tag scheme of the label column (CoNLL-2003 is IOB1)."""
    tag_column: int = -1
    """Label column; negative counts from the right."""
    docstart: Literal["skip", "keep"] = "skip"
    """Whether each ``-DOCSTART-`` line is kept as a one-token sentence."""


class CoNLLReader(Reader):
    """CoNLL column files: token and tag columns, blank lines between sentences, -DOCSTART- between documents."""

    name = "conll"
    Options = CoNLLOptions
    options: CoNLLOptions

    def read(self, path: Path) -> list[Sentence]:
        o = self.options
        return read_conll(path, o.scheme, o.tag_column, o.docstart)


@hookimpl
def register_readers(register: Any) -> None:
    register(CoNLLReader)
