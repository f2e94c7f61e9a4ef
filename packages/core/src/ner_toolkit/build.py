"""The components a recipe names, built from their plugins: used by ``run``, ``render``, ``evaluate`` and ``predict`` alike."""

from __future__ import annotations

from pathlib import Path

from . import plugins
from .interfaces import Formatter, Predictor, Reader, Scorer
from .recipe import Recipe
from .spans import Sentence


def make_reader(recipe: Recipe) -> Reader:
    config = recipe.data.reader
    return plugins.get_reader(config.name)(**config.options)


def make_formatter(recipe: Recipe) -> Formatter:
    cls = plugins.get_formatter(recipe.format.name)
    return cls(recipe.label_set(), instruction=recipe.format.instruction, **recipe.format.options)


def make_scorers(recipe: Recipe) -> list[Scorer]:
    labels = [label.name for label in recipe.labels]
    return [plugins.get_scorer(s.name)(labels, **s.options) for s in recipe.scorers]


def make_predictor(recipe: Recipe, formatter: Formatter, model_dir: Path | None) -> Predictor:
    """The recipe's predictor, not yet opened (use it as a context manager)."""
    assert recipe.predictor is not None and recipe.model is not None
    cls = plugins.get_predictor(recipe.predictor.name)
    return cls(recipe.model.spec(), model_dir, formatter, **recipe.predictor.options)


def load_split(recipe: Recipe, split: str, reader: Reader | None = None) -> list[Sentence]:
    """The sentences of one split, cut to the recipe's limit."""
    path = recipe.data.path(split)
    if path is None:
        return []
    sentences = (reader or make_reader(recipe)).read(path)
    limit = recipe.data.limit.get(split)
    return sentences[:limit] if limit else sentences


def nested_problem(recipe: Recipe, formatter: Formatter, splits: dict[str, list[Sentence]]) -> str | None:
    """Where the data holds overlapping spans that the format's settings cannot write, or None."""
    from .spans import is_flat

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
