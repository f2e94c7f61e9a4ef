"""The ``label-studio`` reader: Label Studio tasks (its JSON export, a JSON list, or one task per line) to sentences.

Each task's text is ``data.text`` (option ``data_key``); its entities are the ``labels``
results of its first annotation that was not cancelled, else of its first prediction
(what the ``label-studio`` writer gives to review). A task is one sentence, tokenized as
the ``jsonl`` reader does (same options); its id is the task's ``id``, else its
``data.document_id``, else ``file:task N``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from ..hookspecs import hookimpl
from .jsonl_reader import JsonlFormatError, JsonlOptions, JsonlReader


class LabelStudioOptions(JsonlOptions):
    data_key: str = Field("text", description="the task data key holding the text ($text in the labelling config)")


def _results(task: dict[str, Any]) -> list[Any]:
    """The results to read: the first annotation not cancelled, else the first prediction."""
    for key in ("annotations", "completions", "predictions"):
        for entry in task.get(key) or []:
            if isinstance(entry, dict) and not entry.get("was_cancelled"):
                return entry.get("result") or []
    return []


class LabelStudioReader(JsonlReader):
    """Label Studio tasks (JSON export or JSONL) with labels results, annotations before predictions."""

    name = "label-studio"
    Options = LabelStudioOptions
    options: LabelStudioOptions

    def records(self, path: Path) -> Iterator[tuple[str, str, Any]]:
        data = path.read_bytes()
        if data.lstrip()[:1] == b"[":
            try:
                tasks = json.loads(data.decode("utf-8-sig"))
            except ValueError as error:
                raise JsonlFormatError(f"{path}: not a JSON list of tasks: {error}") from None
            for n, task in enumerate(tasks, start=1):
                yield f"{path.name}: task {n}", f"{path}: task {n}", self._record(f"{path.name}: task {n}", task)
            return
        for where, source, task in super().records(path):  # one task per line
            yield where, source, self._record(where, task)

    def _record(self, where: str, task: Any) -> dict[str, Any]:
        """The task as a ``jsonl`` record: id, document id, text and ``[start, end, label]`` entities."""
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise JsonlFormatError(f"{where}: expected a Label Studio task with 'data', got {str(task)[:60]}")
        data = task["data"]
        entities = []
        for n, result in enumerate(_results(task)):
            value = result.get("value") if isinstance(result, dict) else None
            if not isinstance(value, dict) or "labels" not in value:
                continue  # results of other control tags (choices, relations) carry no entity
            labels = value["labels"]
            if not (isinstance(labels, list) and len(labels) == 1):
                raise JsonlFormatError(f"{where}: result {n}: expected one label in 'labels', got {labels!r}")
            entities.append([value.get("start"), value.get("end"), labels[0]])
        identifier = task.get("id", data.get("document_id"))
        record: dict[str, Any] = {"text": data.get(self.options.data_key), "entities": entities}
        if identifier is not None:
            record["id"] = identifier
        if data.get("document_id") is not None:
            record["document_id"] = data["document_id"]
        return record


@hookimpl
def register_readers(register: Any) -> None:
    register(LabelStudioReader)
