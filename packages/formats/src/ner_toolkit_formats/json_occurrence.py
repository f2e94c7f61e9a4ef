"""Occurrence JSON: ``[{"text": "EU", "label": "ORG", "occurrence_index": 1}, ...]``.

One object per entity, in sentence order; ``occurrence_index`` n says the entity is the
n-th (from 1) occurrence of its text in the sentence, counting only occurrences as whole
tokens (``U.S.`` inside ``U.S.-based`` does not count) and counting overlapping ones
(``a a`` occurs twice in ``a a a``). Every flat or nested span set is representable.

Parsing: an index that is missing or out of range is a ``bad_occurrence``; the entity is
still placed when its text occurs exactly once, and dropped otherwise.
"""

from __future__ import annotations

from typing import Any

from ner_toolkit import Span, hookimpl

from . import diagnostics as d
from .align import TokenText
from .base import Parse
from .jsonish import RecordsFormatter, integer


class JsonOccurrence(RecordsFormatter):
    """A JSON list of entities, each with the occurrence number of its text."""

    name = "json-occurrence"
    output_description = (
        "output a JSON list with one object per entity, using the format "
        '[{"text": "Entity Text", "label": "LABEL", "occurrence_index": N}], '
        "where N counts the occurrences of that text in the input sentence from 1."
    )

    def _position(self, text: TokenText, span: Span) -> dict[str, int]:
        occurrences = text.occurrences(" ".join(text.tokens[span.start : span.end]))
        return {"occurrence_index": occurrences.index((span.start, span.end)) + 1}

    def _choose(self, record: dict[str, Any], found: list[tuple[int, int]], parse: Parse) -> tuple[int, int] | None:
        index = integer(record.get("occurrence_index"))
        if index is not None and 1 <= index <= len(found):
            return found[index - 1]
        parse.report(
            d.BAD_OCCURRENCE,
            f"{record['text']!r}: occurrence_index {record.get('occurrence_index')!r} for {len(found)} occurrence(s)",
        )
        return found[0] if len(found) == 1 else None


@hookimpl
def register_formats(register):
    register(JsonOccurrence)
