"""Where a trained model and the settings to prompt it come from: a run folder, an exported folder, or a bare model.

A run folder holds the resolved recipe and the trained model (``RunFolder`` knows where);
an exported folder holds the weights beside ``ner_toolkit.json``; a bare model or PEFT
adapter (folder or hub name) is prompted in the bracketed format with the CoNLL-2003
labels unless the caller says otherwise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import plugins
from ..interfaces import ModelSpec
from ..labels import CONLL2003_LABELS, Label
from ..run.folder import RunFolder
from ..run.recipe import RecipeError

EXPORT_FILE = "ner_toolkit.json"
"""The metadata file of an exported folder: format, labels, instruction, chat layout, base model, predictor."""


@dataclass
class ModelSettings:
    """Everything a Tagger needs to know about a model: its weights, how to prompt it, how to read and decode its answers."""

    model: ModelSpec | None
    """None for a run whose predictor asks a served model (``openai``)."""
    adapter: Path | str | None = None
    format: str = "bracketed"
    format_options: dict[str, Any] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=lambda: list(CONLL2003_LABELS))
    instruction: str | None = None
    context: int = 0
    """Sentences of document context on each side the model was trained with."""
    predictor: str = "transformers"
    predictor_options: dict[str, Any] = field(default_factory=dict)
    scored: bool = False
    """The predictor options are those the model was scored with (a run's or an export's): tagging keeps them."""


def from_run(folder: Path) -> ModelSettings:
    """The settings of a run: its recipe's format, labels, prompt and predictor, and the model its training saved."""
    run = RunFolder(folder)
    recipe = run.read_recipe()
    predictor = recipe.predictor
    served = predictor is not None and not plugins.get_predictor(predictor.name).needs_model
    if recipe.model is None and not served:
        raise RecipeError(f"{run.recipe_path}: the run names no model")
    if recipe.format.shots:
        raise RecipeError(f"{run.recipe_path}: format.shots: tagging new text with few-shot prompts is not supported; "
                          "the run's shots are drawn from its train split")
    return ModelSettings(
        model=recipe.model.spec() if recipe.model is not None else None,
        adapter=run.served_model(recipe),
        format=recipe.format.name,
        format_options=dict(recipe.format.options),
        labels=recipe.label_set(),
        instruction=recipe.format.instruction,
        context=recipe.format.context,
        predictor=predictor.name if predictor else "transformers",
        predictor_options=dict(predictor.options) if predictor else {},
        scored=predictor is not None,
    )


def from_export(folder: Path) -> ModelSettings:
    """The settings an exported folder's ``ner_toolkit.json`` records."""
    meta = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))
    adapter = (folder / "adapter_config.json").is_file()
    model = meta["model"]
    predictor = meta.get("predictor", {"name": "transformers", "options": {}})
    return ModelSettings(
        model=ModelSpec(
            model["base"] if adapter else str(folder),
            model.get("gguf_file") if adapter else None,
            model.get("revision") if adapter else None,
            model.get("chat_template", "model"),
            model.get("system_prompt"),
        ),
        adapter=folder if adapter else None,
        format=meta["format"]["name"],
        format_options=dict(meta["format"].get("options", {})),
        labels=[Label(**label) for label in meta["labels"]],
        instruction=meta.get("instruction"),
        context=meta["format"].get("context", 0),
        predictor=predictor["name"],
        predictor_options=dict(predictor.get("options", {})),
        scored="predictor" in meta,
    )


def from_model(source: str, base: str | None = None) -> ModelSettings:
    """A bare model or PEFT adapter (folder or hub name); an adapter folder names its base in ``adapter_config.json``."""
    folder = Path(source)
    if base is None and (folder / "adapter_config.json").is_file():
        base = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    return ModelSettings(model=ModelSpec(base or source), adapter=source if base else None)


class NoSuchModel(ValueError):
    """A model argument that names no run, exported folder, model folder or model name."""


MODEL_FILES = ("config.json", "adapter_config.json")
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def model_settings(source: str | Path, base: str | None = None) -> ModelSettings:
    """The settings of a run folder, an exported folder, or a bare model or adapter, whichever ``source`` is.

    A folder that is none of these, or a path that does not exist, is an error here, before
    any model loads; a name that is no path is taken as a model hub name.
    """
    folder = Path(source)
    if folder.is_dir():
        if RunFolder.holds_run(folder):
            return from_run(folder)
        if (folder / EXPORT_FILE).is_file():
            return from_export(folder)
        if not any((folder / name).is_file() for name in MODEL_FILES):
            raise NoSuchModel(
                f"{source}: no such run or model (a folder without recipe.yaml, {EXPORT_FILE}, {' or '.join(MODEL_FILES)})"
            )
    elif folder.exists():
        raise NoSuchModel(f"{source}: no such run or model (a file, not a folder)")
    elif _looks_like_a_path(str(source)) or not HUB_NAME.fullmatch(str(source)):
        raise NoSuchModel(f"{source}: no such run or model (no such folder, and not a model hub name such as Qwen/Qwen2.5-7B)")
    return from_model(str(source), base)


def _looks_like_a_path(source: str) -> bool:
    """Absolute, relative to ``.``, ``..`` or ``~``, deeper than ``org/name``, or inside a folder that exists here."""
    path = Path(source)
    return (
        path.is_absolute() or source.startswith((".", "~")) or "\\" in source or len(path.parts) > 2
        or (len(path.parts) == 2 and Path(path.parts[0]).is_dir())
    )
