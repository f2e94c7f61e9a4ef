"""The ``label-studio`` writer: a JSON list of Label Studio tasks with the model's entities as ``predictions``.

Each task is ``{"data": {"text", "document_id"}, "predictions": [{"model_version", "result"}]}``
with one ``labels`` result per entity (``value``: ``start``, ``end``, ``text``, ``labels``;
the entity's ``score`` where it has one; the prediction's ``score`` is the lowest of them),
as Label Studio imports pre-annotations for the NER template
(``<Labels name="label" toName="text">`` over ``<Text name="text" value="$text">``;
options ``from_name``, ``to_name`` and ``data_key`` follow another labelling config). The
``label-studio`` reader reads the tasks back, annotations first.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..documents import Document
from ..hookspecs import hookimpl
from ..interfaces import Writer


class LabelStudioOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_name: str = Field("label", description="the name of the labelling config's <Labels> tag")
    to_name: str = Field("text", description="the name of the labelling config's <Text> tag")
    data_key: str = Field("text", description="the task data key the <Text> tag shows ($text)")


class LabelStudioWriter(Writer):
    """Label Studio tasks (a JSON list) with each document's entities as pre-annotations to review."""

    name = "label-studio"
    Options = LabelStudioOptions
    options: LabelStudioOptions

    def start(self) -> None:
        self.handle.write("[")
        self.written = 0

    def write(self, document: Document) -> None:
        o = self.options
        result = [
            {"id": f"e{n}", "from_name": o.from_name, "to_name": o.to_name, "type": "labels",
             "value": {"start": e.start, "end": e.end, "text": e.text, "labels": [e.label]},
             **({"score": e.score} if e.score is not None else {})}
            for n, e in enumerate(document.entities)
        ]
        prediction: dict[str, Any] = {"result": result}
        scores = [e.score for e in document.entities if e.score is not None]
        if scores:
            prediction["score"] = min(scores)  # Label Studio sorts tasks by it: the most doubtful entity first
        if self.model_version is not None:
            prediction["model_version"] = self.model_version
        data: dict[str, Any] = {o.data_key: document.text}
        if document.id is not None:
            data["document_id"] = document.id
        task = {"data": data, "predictions": [prediction]}
        self.handle.write(("," if self.written else "") + "\n" + json.dumps(task, ensure_ascii=False))
        self.written += 1

    def finish(self) -> None:
        self.handle.write("\n]\n")


@hookimpl
def register_writers(register: Any) -> None:
    register(LabelStudioWriter)
