"""JSON formats: lenient loading of model output, and the record-list layout two formats share.

A JSON format does not copy the input, so entities are found by their text: ``Parse.locate``
looks for it as whole tokens, exactly first, then ignoring whitespace, then ignoring letter
case too (reported as ``case_mismatch``, the entity kept), and each format
says how to choose among several occurrences. Broken JSON (cut off, with a preamble or a
trailing comma) is reported as ``malformed_json`` and whatever complete pieces it holds
are used. ``copied_input`` means here that every entity's text was found in the input.
"""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from typing import Any

from ner_toolkit import Span

from . import diagnostics as d
from .align import TokenText
from .base import Parse, TextFormatter

_DECODER = json.JSONDecoder()
_KEY_LIST = re.compile(r'("(?:[^"\\]|\\.)*")\s*:\s*\[')
_LIST_ITEM = re.compile(r'\s*("(?:[^"\\]|\\.)*")\s*,?')


def load(output: str, parse: Parse) -> Any | None:
    """The JSON value of ``output``, or None with a ``malformed_json`` diagnostic."""
    try:
        return json.loads(output)
    except (ValueError, RecursionError) as error:
        parse.report(d.MALFORMED_JSON, f"invalid JSON ({error}); salvaging what is complete")
        return None


def salvage_objects(output: str) -> list[Any]:
    """Every complete top-level JSON object in a damaged output, in order."""
    found: list[Any] = []
    position = 0
    while (at := output.find("{", position)) >= 0:
        try:
            value, position = _DECODER.raw_decode(output, at)
        except (ValueError, RecursionError):
            position = at + 1
            continue
        found.append(value)
    return found


def salvage_groups(output: str) -> dict[str, list[Any]]:
    """Each ``"KEY": [...]`` of a damaged output; of a cut-off list, its complete strings."""
    groups: dict[str, list[Any]] = {}
    for match in _KEY_LIST.finditer(output):
        key = _string(match.group(1))
        if key is None:
            continue
        try:
            value, _ = _DECODER.raw_decode(output, match.end() - 1)
        except (ValueError, RecursionError):
            value = _complete_strings(output, match.end())
        groups.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    return groups


def _complete_strings(output: str, position: int) -> list[str]:
    """The complete JSON strings of a list that starts at ``position`` and may be cut off."""
    items: list[str] = []
    while (item := _LIST_ITEM.match(output, position)) and (text := _string(item.group(1))) is not None:
        items.append(text)
        position = item.end()
    return items


def _string(literal: str) -> str | None:
    """A JSON string literal's value, or None when its escapes are invalid."""
    try:
        return json.loads(literal)
    except ValueError:
        return None


class JsonFormatter(TextFormatter):
    """A format whose target is one line of JSON describing the entities."""

    def _render(self, text: TokenText, spans: list[Span]) -> str:
        return json.dumps(self._value(text, spans), ensure_ascii=False)

    def _parse(self, output: str, parse: Parse) -> None:
        value = load(output, parse)
        self._read(self._salvage(output) if value is None else value, parse)

    @abstractmethod
    def _value(self, text: TokenText, spans: list[Span]) -> Any:
        """The JSON value for these spans."""

    @abstractmethod
    def _salvage(self, output: str) -> Any:
        """What can be recovered from output that is not valid JSON."""

    @abstractmethod
    def _read(self, value: Any, parse: Parse) -> None:
        """Collect the entities of a loaded value into ``parse``."""


class RecordsFormatter(JsonFormatter):
    """A list of ``{"text", "label", ...}`` objects, one per entity; subclasses add the position fields."""

    def _value(self, text: TokenText, spans: list[Span]) -> list[dict[str, Any]]:
        return [
            {"text": " ".join(text.tokens[span.start : span.end]), "label": span.label, **self._position(text, span)}
            for span in spans
        ]

    def _salvage(self, output: str) -> list[Any]:
        return salvage_objects(output)

    def _read(self, value: Any, parse: Parse) -> None:
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            parse.report(d.MALFORMED_RECORD, f"expected a list of objects, got {type(value).__name__}")
            return
        for record in value:
            if not (isinstance(record, dict) and isinstance(record.get("text"), str) and isinstance(record.get("label"), str)):
                parse.report(d.MALFORMED_RECORD, f"{record!r} is not an object with string text and label")
                continue
            written, label = record["text"].strip(), record["label"]
            if not parse.mention(written, label):
                continue
            found = parse.locate(written)
            if not found:
                parse.not_found(written)
            elif tokens := self._choose(record, found, parse):
                parse.add(tokens, label)

    @abstractmethod
    def _position(self, text: TokenText, span: Span) -> dict[str, int]:
        """The fields that say where in the sentence the span's text stands."""

    @abstractmethod
    def _choose(self, record: dict[str, Any], found: list[tuple[int, int]], parse: Parse) -> tuple[int, int] | None:
        """Which of the text's whole-token occurrences the record means, or None (with a diagnostic)."""


def integer(value: Any) -> int | None:
    """``value`` if it is a JSON integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
