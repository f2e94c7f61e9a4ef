"""Tagged documents: a text with its entities in characters, and the sentences and predictions they came from.

What ``Tagger.pipe`` gives and what output writers (``ner-toolkit predict --output-format``) write.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .interfaces import Prediction
from .spans import Sentence


@dataclass(frozen=True)
class Entity:
    """An entity in a text: characters ``[start, end)``, its label, the text it covers, and its score."""

    start: int
    end: int
    label: str
    text: str
    score: float | None = None
    """The model's confidence in the entity, in [0, 1] (``ner_toolkit.confidence``); None where the predictor gave none."""

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"start": self.start, "end": self.end, "label": self.label, "text": self.text}
        if self.score is not None:
            found["score"] = self.score
        return found


@dataclass
class Document:
    """A tagged text: its entities (character offsets), the sentences decoded with their predictions, warnings."""

    text: str
    entities: list[Entity] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    id: str | None = None

    @property
    def token_offsets(self) -> list[tuple[int, int]]:
        """Every token's ``(start, end)`` characters in ``text``, sentence after sentence."""
        return [offset for sentence in self.sentences for offset in sentence.offsets]

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities)

    def __len__(self) -> int:
        return len(self.entities)

    def to_json(self) -> dict[str, Any]:
        """The record ``ner-toolkit predict`` writes: text, entities, per-sentence diagnostics, warnings."""
        record: dict[str, Any] = {} if self.id is None else {"id": self.id}
        record["text"] = self.text
        record["entities"] = [entity.to_json() for entity in self.entities]
        record["diagnostics"] = [
            {"sentence": k, "kind": d.kind, "message": d.message}
            for k, prediction in enumerate(self.predictions)
            for d in prediction.diagnostics
        ]
        record["warnings"] = list(self.warnings)
        return record
