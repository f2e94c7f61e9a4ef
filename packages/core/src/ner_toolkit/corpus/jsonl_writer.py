"""The ``jsonl`` writer: one record per document with its text, entities in characters, diagnostics and warnings.

The default of ``ner-toolkit predict``, and the only output ``--resume`` continues (each
line carries the document's ``id``). The ``jsonl`` reader reads it back.
"""

from __future__ import annotations

import json
from typing import Any

from ..documents import Document
from ..hookspecs import hookimpl
from ..interfaces import Writer


class JsonlWriter(Writer):
    """One JSON record per document: id, text, entities with character offsets, diagnostics, warnings."""

    name = "jsonl"

    def write(self, document: Document) -> None:
        self.handle.write(json.dumps(document.to_json(), ensure_ascii=False) + "\n")


@hookimpl
def register_writers(register: Any) -> None:
    register(JsonlWriter)
