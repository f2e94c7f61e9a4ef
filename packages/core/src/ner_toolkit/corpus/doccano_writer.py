"""The ``doccano`` writer: doccano's sequence-labelling JSONL, ``{"text", "label": [[start, end, label], ...]}``.

One line per document; doccano keeps other keys (``document_id``) as metadata. The
``jsonl`` reader reads it back (``label``).
"""

from __future__ import annotations

import json
from typing import Any

from ..documents import Document
from ..hookspecs import hookimpl
from ..interfaces import Writer


class DoccanoWriter(Writer):
    """doccano sequence-labelling records: text and [start, end, label] character spans."""

    name = "doccano"

    def write(self, document: Document) -> None:
        record: dict[str, Any] = {"text": document.text, "label": [[e.start, e.end, e.label] for e in document.entities]}
        if document.id is not None:
            record["document_id"] = document.id
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")


@hookimpl
def register_writers(register: Any) -> None:
    register(DoccanoWriter)
