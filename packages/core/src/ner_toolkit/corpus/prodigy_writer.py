"""The ``prodigy`` writer: Prodigy's NER task JSONL, ``tokens`` and ``spans`` with character and token offsets.

One task per document: ``text``, ``tokens`` (``text``, ``start``, ``end``, ``id``, ``ws``,
numbered across the document's sentences), ``spans`` (``start``, ``end``, ``token_start``,
``token_end`` (inclusive, as Prodigy counts), ``label``) and ``meta.id``; what
``ner.manual`` and ``db-in`` read. The ``jsonl`` reader reads it back (``spans``).
"""

from __future__ import annotations

import json
from typing import Any

from ..documents import Document
from ..hookspecs import hookimpl
from ..interfaces import Writer


class ProdigyWriter(Writer):
    """Prodigy NER tasks: text, tokens and token-aligned spans, one document per line."""

    name = "prodigy"

    def write(self, document: Document) -> None:
        text = document.text
        offsets = document.token_offsets
        tokens = [
            {"text": text[start:end], "start": start, "end": end, "id": i,
             "ws": end < len(text) and text[end].isspace()}
            for i, (start, end) in enumerate(offsets)
        ]
        first = {start: i for i, (start, _) in enumerate(offsets)}
        last = {end: i for i, (_, end) in enumerate(offsets)}
        spans = [
            {"start": e.start, "end": e.end, "token_start": first[e.start], "token_end": last[e.end], "label": e.label}
            for e in document.entities
        ]
        task: dict[str, Any] = {"text": text, "tokens": tokens, "spans": spans}
        task["meta"] = {key: value for key, value in (("id", document.id), ("model", self.model_version)) if value is not None}
        self.handle.write(json.dumps(task, ensure_ascii=False) + "\n")


@hookimpl
def register_writers(register: Any) -> None:
    register(ProdigyWriter)
