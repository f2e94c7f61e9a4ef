"""A predictor in a package of its own: a gazetteer that tags the names it was given, in any format.

No model: ``open`` reads a JSON file of ``{"entity text": "LABEL"}`` once, and ``generate``
writes each example's answer by rendering the longest known names found in its input with
the run's own format. A baseline to compare a fine-tuned model against, and the smallest
working example of the predictor seam.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ner_toolkit import Example, Predictor, Span, hookimpl


class GazetteerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: Path
    """JSON object mapping entity texts (tokens joined by single spaces) to labels."""


class GazetteerPredictor(Predictor):
    """Tags the longest names of a gazetteer file found in each input (a baseline; no model)."""

    name = "gazetteer"
    Options = GazetteerOptions
    options: GazetteerOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names: dict[tuple[str, ...], str] | None = None

    def open(self) -> None:
        entries = json.loads(self.options.entries.read_text(encoding="utf-8"))
        self.names = {tuple(text.split()): label for text, label in entries.items()}

    def close(self) -> None:
        self.names = None

    def generate(self, examples: Sequence[Example]) -> Iterator[tuple[int, str]]:
        if self.names is None:
            self.open()
        assert self.names is not None
        longest = max((len(name) for name in self.names), default=0)
        for index, example in enumerate(examples):
            tokens = example.tokens or tuple(example.input.split())
            spans, i = [], 0
            while i < len(tokens):
                size = next((n for n in range(min(longest, len(tokens) - i), 0, -1) if tokens[i : i + n] in self.names), 0)
                if size:
                    spans.append(Span(i, i + size, self.names[tokens[i : i + size]]))
                i += size or 1
            yield index, self.formatter.render(tokens, spans)


@hookimpl
def register_predictors(register):
    register(GazetteerPredictor)
