"""The ``jsonl`` reader: one record per line with text and character-offset entities.

This is the shape annotation tools export (spaCy, doccano, Label Studio's JSON-MIN,
Prodigy)::

    {"text": "EU rejects German call", "entities": [[0, 2, "ORG"], [11, 17, "MISC"]]}
    {"id": "a7", "document_id": "d1", "text": "...", "spans": [{"start": 0, "end": 2, "label": "ORG"}]}

Entities may be under ``entities``, ``spans`` or ``label`` (doccano), as ``[start, end,
label]`` lists or ``{"start", "end", "label"}`` objects; whitespace at their edges is
trimmed. Each record is one sentence: its text is split into tokens by a tokenizer plugin
(option ``tokenizer``), and the sentence keeps each token's character offsets. An entity
whose boundaries fall inside a token is an error naming the record's line, unless
``misaligned`` says to drop it or to widen it to the tokens it touches (then counted and
warned about). Sentence ids are the record's ``id`` (or Prodigy's ``meta.id``), else ``file:line``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..hookspecs import hookimpl
from ..interfaces import Reader, Tokenizer
from ..spans import Sentence, Span
from ..textio import TextError, text_lines
from .tokenizers import token_texts

ENTITY_KEYS = ("entities", "spans", "label")


class JsonlFormatError(ValueError):
    """A record that cannot be read; the message names the file and line."""


class JsonlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokenizer: str = Field("regex", description="tokenizer plugin that splits each text into tokens")
    tokenizer_options: dict[str, Any] | None = Field(
        None, description="the tokenizer's options (default: none; for regex, split_sentences: false, as a record is one sentence)"
    )
    misaligned: Literal["error", "drop", "widen"] = Field(
        "error", description="an entity boundary inside a token: stop, drop the entity, or widen it to whole tokens"
    )


def _entity(raw: Any) -> tuple[Any, Any, Any] | None:
    if isinstance(raw, dict):
        label = raw.get("label", raw.get("labels"))
        if isinstance(label, list) and len(label) == 1:  # Label Studio: "labels": ["PER"]
            label = label[0]
        return raw.get("start"), raw.get("end"), label
    if isinstance(raw, list) and len(raw) == 3:
        return raw[0], raw[1], raw[2]
    return None


class JsonlReader(Reader):
    """JSON Lines with text and character-offset entities, as annotation tools export (spaCy, doccano, Prodigy)."""

    name = "jsonl"
    Options = JsonlOptions
    options: JsonlOptions

    @classmethod
    def check_recipe(cls, recipe: Any) -> list[str]:
        from .. import plugins

        try:
            cls(**recipe.data.reader.options).tokenizer()
        except (plugins.PluginError, ValueError) as error:
            return [f"data.reader.options.tokenizer: {error}"]
        return []

    def tokenizer(self) -> Tokenizer:
        from .. import plugins

        options = self.options.tokenizer_options
        if options is None:
            options = {"split_sentences": False} if self.options.tokenizer == "regex" else {}
        return plugins.get_tokenizer(self.options.tokenizer)(**options)

    def read(self, path: Path) -> list[Sentence]:
        path = Path(path)
        tokenizer = self.tokenizer()
        sentences: list[Sentence] = []
        changed: list[str] = []
        first_at: dict[str, str] = {}
        try:
            for where, source, record in self.records(path):
                sentence = self._sentence(where, record, tokenizer, changed, source)
                if sentence.id in first_at:
                    raise JsonlFormatError(
                        f"{source}: id {sentence.id!r} is given twice ({first_at[sentence.id]} and {where}); "
                        "each record needs an id of its own (predictions are matched to sentences by id)"
                    )
                first_at[sentence.id] = where
                sentences.append(sentence)
        except OSError as error:
            raise JsonlFormatError(f"{path}: cannot read: {error.strerror}") from None
        except TextError as error:
            raise JsonlFormatError(str(error)) from None
        if changed:
            action = "dropped" if self.options.misaligned == "drop" else "widened to whole tokens"
            warnings.warn(
                f"{path}: {len(changed)} entities start or end inside a token and were {action}; first: {'; '.join(changed[:3])}",
                stacklevel=2,
            )
        return sentences

    def records(self, path: Path) -> Iterator[tuple[str, str, Any]]:
        """Each record with where it stands: ``(file:line, path:line, record)``; a line that is not JSON is an error naming it."""
        for number, line in text_lines(path.read_bytes(), str(path)):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                raise JsonlFormatError(f"{path.name}:{number}: not JSON: {error}") from None
            yield f"{path.name}:{number}", f"{path}:{number}", record

    def _sentence(self, where: str, record: Any, tokenizer: Tokenizer, changed: list[str], source: str) -> Sentence:
        if not isinstance(record, dict):
            raise JsonlFormatError(f"{where}: expected an object with 'text', not {type(record).__name__}")
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise JsonlFormatError(f"{where}: 'text' must be a non-empty string")
        offsets = tokenizer.tokenize(text)
        starts = {start: i for i, (start, _) in enumerate(offsets)}
        ends = {end: i + 1 for i, (_, end) in enumerate(offsets)}
        key = next((k for k in ENTITY_KEYS if k in record), None)
        raw_entities = record.get(key, []) if key else []
        if not isinstance(raw_entities, list):
            raise JsonlFormatError(f"{where}: '{key}' must be a list of entities")
        spans = []
        for n, raw in enumerate(raw_entities):
            entity = _entity(raw)
            start, end, label = entity if entity else (None, None, None)
            if not (isinstance(start, int) and isinstance(end, int) and isinstance(label, str) and label.strip()):
                raise JsonlFormatError(f"{where}: {key}[{n}]: expected [start, end, label] or {{start, end, label}}, got {raw!r}")
            if not 0 <= start < end <= len(text):
                raise JsonlFormatError(f"{where}: {key}[{n}]: offsets [{start}, {end}) outside the text's {len(text)} characters")
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if start == end:
                raise JsonlFormatError(f"{where}: {key}[{n}]: the entity {label!r} covers only whitespace")
            first, last = starts.get(start), ends.get(end)
            if first is None or last is None:
                message = f"{where}: {key}[{n}]: {label} {text[start:end]!r} at [{start}, {end}) starts or ends inside a token"
                if self.options.misaligned == "error":
                    raise JsonlFormatError(message + " (set data.reader.options.misaligned to drop or widen)")
                changed.append(message)
                if self.options.misaligned == "drop":
                    continue
                covered = [i for i, (s, e) in enumerate(offsets) if s < end and start < e]
                first, last = covered[0], covered[-1] + 1
            spans.append(Span(first, last, label))
        meta = record.get("meta")
        identifier = record.get("id", meta.get("id") if isinstance(meta, dict) else None)  # Prodigy keeps ids in meta
        document = record.get("document_id")
        return Sentence(
            str(identifier) if identifier is not None else where,
            token_texts(text, offsets),
            tuple(dict.fromkeys(spans)),
            str(document) if document is not None else None,
            tuple(offsets),
            source,
        )


@hookimpl
def register_readers(register: Any) -> None:
    register(JsonlReader)
