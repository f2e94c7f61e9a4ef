"""The components a recipe names, built from their plugins: the one place a reader, format, trainer, predictor or scorer is made.

``run``, ``render``, ``evaluate``, ``stats`` and the tagging layer all build through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import plugins
from ..interfaces import Formatter, ModelSpec, Predictor, Reader, Scorer, Trainer
from ..labels import Label
from ..spans import Sentence, is_flat
from .recipe import Recipe


def make_reader(recipe: Recipe) -> Reader:
    config = recipe.data.reader
    return plugins.get_reader(config.name)(**config.options)


def build_formatter(name: str, labels: Sequence[Label], instruction: str | None = None, options: dict[str, Any] | None = None) -> Formatter:
    """The format plugin ``name`` for ``labels``, with its instruction and options."""
    return plugins.get_formatter(name)(labels, instruction=instruction, **(options or {}))


def make_formatter(recipe: Recipe) -> Formatter:
    return build_formatter(recipe.format.name, recipe.label_set(), recipe.format.instruction, recipe.format.options)


def make_scorers(recipe: Recipe) -> list[Scorer]:
    labels = [label.name for label in recipe.labels]
    return [plugins.get_scorer(s.name)(labels, **s.options) for s in recipe.scorers]


def make_trainer(recipe: Recipe) -> Trainer:
    assert recipe.trainer is not None
    return plugins.get_trainer(recipe.trainer.name)(**recipe.trainer.options)


def build_predictor(name: str, model: ModelSpec, adapter: Path | None, formatter: Formatter, options: dict[str, Any]) -> Predictor:
    """The predictor plugin ``name``, not yet opened (use it as a context manager)."""
    return plugins.get_predictor(name)(model, adapter, formatter, **options)


def make_predictor(recipe: Recipe, formatter: Formatter, model_dir: Path | None) -> Predictor:
    """The recipe's predictor, not yet opened (use it as a context manager)."""
    assert recipe.predictor is not None and recipe.model is not None
    return build_predictor(recipe.predictor.name, recipe.model.spec(), model_dir, formatter, recipe.predictor.options)


def load_split(recipe: Recipe, split: str, reader: Reader | None = None) -> list[Sentence]:
    """The sentences of one split, cut to the recipe's limit."""
    path = recipe.data.path(split)
    if path is None:
        return []
    sentences = (reader or make_reader(recipe)).read(path)
    limit = recipe.data.limit.get(split)
    return sentences[:limit] if limit else sentences


def nested_problem(formatter: Formatter, splits: dict[str, list[Sentence]]) -> str | None:
    """Where the data holds overlapping spans that the format's settings cannot write, or None."""
    if formatter.writes_nested():
        return None
    for split, sentences in splits.items():
        for sentence in sentences:
            if not is_flat(sentence.spans):
                return (
                    f"data.{split}: sentence {sentence.id} has nested or overlapping entities, which the "
                    f"{formatter.name} format cannot write with format.options.nested false"
                )
    return None
