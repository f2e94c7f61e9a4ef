"""The components a recipe names, built from their plugins: the one place a reader, format, trainer, predictor or scorer is made.

``run``, ``render``, ``evaluate``, ``stats`` and the tagging layer all build through here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import plugins
from ..interfaces import Formatter, ModelSpec, Predictor, Reader, Scorer, Trainer, path_options
from ..labels import Label
from ..spans import Sentence, is_flat
from .recipe import ComponentConfig, Recipe, first_error


def make_reader(recipe: Recipe) -> Reader:
    config = recipe.data.reader
    return plugins.get_reader(config.name)(**config.options)


def build_formatter(
    name: str, labels: Sequence[Label], instruction: str | None = None, options: dict[str, Any] | None = None, context: int = 0
) -> Formatter:
    """The format plugin ``name`` for ``labels``, with its instruction, document context and options."""
    return plugins.get_formatter(name)(labels, instruction=instruction, context=context, **(options or {}))


def make_formatter(recipe: Recipe) -> Formatter:
    f = recipe.format
    return build_formatter(f.name, recipe.label_set(), f.instruction, f.options, f.context)


def make_scorers(recipe: Recipe) -> list[Scorer]:
    labels = [label.name for label in recipe.labels]
    return [plugins.get_scorer(s.name)(labels, **s.options) for s in recipe.scorers]


def make_trainer(recipe: Recipe) -> Trainer:
    assert recipe.trainer is not None
    return plugins.get_trainer(recipe.trainer.name)(**recipe.trainer.options)


def build_predictor(name: str, model: ModelSpec | None, adapter: Path | None, formatter: Formatter, options: dict[str, Any]) -> Predictor:
    """The predictor plugin ``name``, not yet opened (use it as a context manager); a bad option is a one-line error naming it."""
    try:
        return plugins.get_predictor(name)(model, adapter, formatter, **options)
    except ValidationError as error:
        raise ValueError(f"predictor {name}: option {first_error(error)}") from None


def make_predictor(recipe: Recipe, formatter: Formatter, model_dir: Path | None) -> Predictor:
    """The recipe's predictor, not yet opened (use it as a context manager)."""
    assert recipe.predictor is not None
    model = recipe.model.spec() if recipe.model is not None else None
    return build_predictor(recipe.predictor.name, model, model_dir, formatter, recipe.predictor.options)


def load_split(recipe: Recipe, split: str, reader: Reader | None = None, check_labels: bool = True) -> list[Sentence]:
    """The sentences of one split, cut to the recipe's limit, their labels mapped and checked (``read_sentences``)."""
    path = recipe.data.path(split)
    if path is None:
        return []
    sentences = read_sentences(recipe, path, reader, f"data.{split}", check_labels)
    limit = recipe.data.limit.get(split)
    return sentences[:limit] if limit else sentences


def read_sentences(
    recipe: Recipe, path: Path, reader: Reader | None = None, field: str = "gold", check_labels: bool = True
) -> list[Sentence]:
    """A corpus file's sentences as the recipe's labels name them; a repeated id or an unknown label is an error naming where.

    Predictions are matched to sentences by id, so ids must be unique. Labels are mapped by
    ``data.label_map``; a label still outside the recipe's set is dropped under
    ``data.unknown_labels: drop``, else an error: it would be rendered into targets the
    instruction never names. Scoring outputs alone (``check_labels`` false) keeps such
    labels, for the scorers to report as gold outside the label set.
    """
    sentences = (reader or make_reader(recipe)).read(path)
    seen: dict[str, Sentence] = {}
    for sentence in sentences:
        if sentence.id in seen:
            raise ValueError(
                f"{field}: {path}: sentence id {sentence.id!r} is given twice ({_where(seen[sentence.id], path)} and "
                f"{_where(sentence, path)}); predictions are matched to sentences by id"
            )
        seen[sentence.id] = sentence
    known = {label.name for label in recipe.labels}
    mapping = recipe.data.label_map
    if not mapping and (not check_labels or all(span.label in known for sentence in sentences for span in sentence.spans)):
        return sentences
    relabeled = []
    for sentence in sentences:
        spans = []
        for span in sentence.spans:
            label = mapping[span.label] if span.label in mapping else span.label
            if label is None:
                continue
            if label not in known and check_labels:
                if recipe.data.unknown_labels == "drop":
                    continue
                raise ValueError(
                    f"{field}: {_where(sentence, path)}: entity label {label!r} is not one of the recipe's labels "
                    f"({', '.join(sorted(known))}); add it to labels, map it with data.label_map, "
                    "or set data.unknown_labels: drop"
                )
            spans.append(replace(span, label=label))
        relabeled.append(replace(sentence, spans=tuple(dict.fromkeys(spans))))
    return relabeled


def _where(sentence: Sentence, path: Path) -> str:
    return sentence.source or f"{path} sentence {sentence.id}"


def with_absolute_paths(recipe: Recipe) -> Recipe:
    """The recipe with each path it names absolute (data folder, output folder, a local model, options typed ``Path``).

    A run writes this copy into its folder, so the folder can be used from any directory.
    """
    def absolute(value: Any) -> str:
        return os.path.abspath(value)

    def component(kind: plugins.Kind, config: ComponentConfig | None) -> ComponentConfig | None:
        if config is None:
            return None
        options = dict(config.options)
        for name in path_options(plugins.get(kind, config.name).Options):
            if isinstance(options.get(name), str):
                options[name] = absolute(options[name])
        return config.model_copy(update={"options": options})

    model = recipe.model
    if model is not None and model.package is None and Path(model.name_or_path).exists():
        model = model.model_copy(update={"name_or_path": absolute(model.name_or_path)})
    data = recipe.data.model_copy(update={"dir": Path(absolute(recipe.data.dir)), "reader": component("reader", recipe.data.reader)})
    return recipe.model_copy(update={
        "data": data,
        "output_dir": Path(absolute(recipe.output_dir)),
        "model": model,
        "format": component("format", recipe.format),
        "trainer": component("trainer", recipe.trainer),
        "predictor": component("predictor", recipe.predictor),
        "scorers": [component("scorer", scorer) for scorer in recipe.scorers],
    })


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
