"""Recipes: one YAML file that says what to read, how to render, train, predict and score.

A recipe is validated in full before any work starts, plugin options included. String
values may use ``${VAR}`` or ``${VAR:-default}`` to read the environment. Relative paths
are relative to the working directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .interfaces import ModelSpec
from .labels import CONLL2003_LABELS, Label
from .schemes import Scheme

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SPLITS = ("train", "dev", "test")


class RecipeError(ValueError):
    """An invalid recipe; the message names the file and each failing field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Which CoNLL files to read and how."""

    dir: Path = Field(Path("."), description="folder the split file names are relative to")
    train: str | None = None
    dev: str | None = None
    test: str | None = None
    scheme: Scheme = Scheme.IOB1
    tag_column: int = -1
    docstart: str = Field("skip", pattern="^(skip|keep)$")
    limit: dict[str, int] = Field(default_factory=dict, description="first N sentences of a split")

    @field_validator("limit")
    @classmethod
    def _known_splits(cls, value: dict[str, int]) -> dict[str, int]:
        for split, n in value.items():
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
            if n < 1:
                raise ValueError(f"limit for {split} must be at least 1, not {n}")
        return value

    def path(self, split: str) -> Path | None:
        name = getattr(self, split)
        return None if name is None else self.dir / name


class LabelConfig(_Strict):
    name: str = Field(pattern=r"^\S+$")
    gloss: str = ""
    description: str = ""

    def to_label(self) -> Label:
        return Label(self.name, self.gloss, self.description)


class ComponentConfig(_Strict):
    """A plugin by name plus its options (validated by the plugin's ``Options`` model)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class FormatConfig(ComponentConfig):
    name: str = "bracketed"
    instruction: str | None = Field(None, description="replaces the format's built-in instruction")


class ModelConfig(_Strict):
    """The base model: a hub name or local folder; ``package`` finds the folder inside an installed package."""

    name_or_path: str
    gguf_file: str | None = None
    package: str | None = Field(None, description="import name of a package whose folder holds the weights")
    revision: str | None = None
    chat_template: str = Field("model", pattern="^(model|alpaca)$")
    system_prompt: str | None = Field(None, description="replaces the chat template's default system turn")

    def spec(self) -> ModelSpec:
        return ModelSpec(self.resolved_path(), self.gguf_file, self.revision, self.chat_template, self.system_prompt)

    def resolved_path(self) -> str:
        """``name_or_path``, or the folder of ``package`` joined with it when a package is named."""
        if self.package is None:
            return self.name_or_path
        import importlib.util

        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise RecipeError(f"model.package: package {self.package!r} is not installed")
        return str(Path(list(spec.submodule_search_locations)[0]) / self.name_or_path)


class Recipe(_Strict):
    """A whole run: data, labels, format, model, trainer, predictor, scorers, output folder."""

    name: str = "run"
    data: DataConfig
    labels: list[LabelConfig] = Field(
        default_factory=lambda: [LabelConfig(name=l.name, gloss=l.gloss, description=l.description) for l in CONLL2003_LABELS]
    )
    format: FormatConfig = Field(default_factory=FormatConfig)
    model: ModelConfig | None = None
    trainer: ComponentConfig | None = None
    predictor: ComponentConfig | None = None
    scorers: list[ComponentConfig] = Field(
        default_factory=lambda: [ComponentConfig(name="seqeval"), ComponentConfig(name="nervaluate")]
    )
    output_dir: Path = Path("runs/run")

    @field_validator("scorers", mode="before")
    @classmethod
    def _names_as_components(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    def label_set(self) -> list[Label]:
        return [label.to_label() for label in self.labels]


def interpolate(value: Any, where: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed YAML tree."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            variable, default = match.group(1), match.group(2)
            if variable in os.environ:
                return os.environ[variable]
            if default is None:
                raise RecipeError(f"{where or 'value'}: environment variable {variable} is not set and has no default")
            return default

        return _VARIABLE.sub(replace, value)
    if isinstance(value, Mapping):
        return {key: interpolate(item, f"{where}.{key}" if where else str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def apply_overrides(tree: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML) to a recipe tree."""
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise RecipeError(f"override {override!r}: expected dotted.key=value")
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError(f"override {override!r}: {part} is not a mapping")
        node[parts[-1]] = yaml.safe_load(raw)
    return tree


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line per failing field: ``file: field.path: message (got ...)``."""
    lines = [f"{source}: invalid recipe ({error.error_count()} error(s))"]
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            model = _model_at(Recipe, item["loc"][:-1])
            expected = ", ".join(model.model_fields) if model else "see the documentation"
            message = f"unknown field; expected one of: {expected}"
        elif item["type"] == "missing":
            message = "required field is missing"
        got = "" if item["type"] in ("missing", "extra_forbidden") else f" (got {item.get('input')!r})"
        lines.append(f"  {source}: {path}: {message}{got}")
    return "\n".join(lines)


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model that a validation error location points into, if any."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        for arg in (annotation, *typing.get_args(annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    current = inner
                    break
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def load_recipe(path: str | Path, overrides: Sequence[str] = ()) -> Recipe:
    """Read, interpolate and validate a recipe file; errors name the file and field."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RecipeError(f"{source}: cannot read recipe: {error.strerror}") from None
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RecipeError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(tree, dict):
        raise RecipeError(f"{source}: a recipe is a mapping of fields, not {type(tree).__name__}")
    tree = apply_overrides(tree, overrides)
    try:
        tree = interpolate(tree)
    except RecipeError as error:
        raise RecipeError(f"{source}: {error}") from None
    try:
        return Recipe.model_validate(tree)
    except ValidationError as error:
        raise RecipeError(format_validation_error(source, error)) from None


def validate_components(recipe: Recipe, source: str) -> None:
    """Check that every named plugin exists and accepts its options, before any work starts."""
    from . import plugins

    checks: list[tuple[str, plugins.Kind, ComponentConfig | None]] = [
        ("format", "format", recipe.format),
        ("trainer", "trainer", recipe.trainer),
        ("predictor", "predictor", recipe.predictor),
    ]
    checks += [(f"scorers.{i}", "scorer", scorer) for i, scorer in enumerate(recipe.scorers)]
    problems: list[str] = []
    for where, kind, config in checks:
        if config is None:
            continue
        try:
            cls = plugins.get(kind, config.name)
        except plugins.PluginError as error:
            problems.append(f"  {source}: {where}.name: {error}")
            continue
        try:
            cls.Options.model_validate(config.options)
        except ValidationError as error:
            for item in error.errors():
                path = ".".join(str(part) for part in item["loc"])
                message = item["msg"]
                if item["type"] == "extra_forbidden":
                    message = f"unknown option; {cls.__name__} accepts: {', '.join(cls.Options.model_fields) or 'none'}"
                problems.append(f"  {source}: {where}.options.{path}: {message}")
            continue
        problems += [f"  {source}: {problem}" for problem in cls.check_recipe(recipe)]
    if (recipe.trainer or recipe.predictor) and recipe.model is None:
        problems.append(f"  {source}: model: required when a trainer or predictor is set")
    if problems:
        raise RecipeError(f"{source}: invalid recipe ({len(problems)} error(s))\n" + "\n".join(problems))
