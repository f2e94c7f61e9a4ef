"""Offset JSON: ``[{"text": "EU", "label": "ORG", "start": 0, "end": 2}, ...]``.

One object per entity, in sentence order; ``start`` and ``end`` are character offsets
into the input string (tokens joined by single spaces), end exclusive. Every flat or
nested span set is representable.

Parsing trusts the text over the offsets: when the offsets do not frame a whole-token
occurrence of the text, that is a ``bad_offsets`` diagnostic and the entity goes on the
occurrence of its text that starts nearest the given ``start`` (the first, without one).
"""

from __future__ import annotations

from typing import Any

from ner_toolkit import Span, hookimpl

from . import diagnostics as d
from .align import TokenText
from .base import Parse
from .jsonish import RecordsFormatter, integer


class JsonOffset(RecordsFormatter):
    """A JSON list of entities, each with its character offsets in the input."""

    name = "json-offset"
    output_description = (
        "output a JSON list with one object per entity, using the format "
        '[{"text": "Entity Text", "label": "LABEL", "start": S, "end": E}], '
        "where S and E are the character offsets of the entity in the input sentence, from 0, E exclusive."
    )

    def _position(self, text: TokenText, span: Span) -> dict[str, int]:
        start, end = text.char_range(span.start, span.end)
        return {"start": start, "end": end}

    def _choose(self, record: dict[str, Any], found: list[tuple[int, int]], parse: Parse) -> tuple[int, int] | None:
        start, end = integer(record.get("start")), integer(record.get("end"))
        if start is not None and end is not None and parse.text.token_range(start, end) in found:
            return parse.text.token_range(start, end)
        parse.report(
            d.BAD_OFFSETS,
            f"{record['text']!r}: offsets {record.get('start')!r}-{record.get('end')!r} do not frame that text",
        )
        if start is None:
            return found[0]
        return min(found, key=lambda tokens: abs(parse.text.offsets[tokens[0]] - start))


@hookimpl
def register_formats(register):
    register(JsonOffset)
