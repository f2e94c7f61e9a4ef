"""A writer plugin in a package of its own: one tab-separated line per entity, for a spreadsheet.

    document	start	end	label	text
    notes.txt:1	0	7	PER	Hussain

It is the whole of what a third party writes: this module and one entry-point line.
"""

from __future__ import annotations

from typing import Any

from ner_toolkit import Document, Writer, hookimpl


class EntityTsv(Writer):
    """One tab-separated line per entity: document id, start, end, label, text (a header line first)."""

    name = "entity-tsv"

    def start(self) -> None:
        self.handle.write("document\tstart\tend\tlabel\ttext\n")

    def write(self, document: Document) -> None:
        for entity in document.entities:
            text = " ".join(entity.text.split())  # a tab or newline inside an entity would break the row
            self.handle.write(f"{document.id or ''}\t{entity.start}\t{entity.end}\t{entity.label}\t{text}\n")


@hookimpl
def register_writers(register: Any) -> None:
    register(EntityTsv)
