"""Recipes: one YAML file that says what to read, how to render, train, predict and score.

A recipe is validated in full before any work starts, plugin options included. String
values may use ``${VAR}`` or ``${VAR:-default}`` to read the environment. Relative paths
are relative to the working directory; the copy a run writes into its folder has them
absolute, and that copy always runs into the folder it is in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..context import MAX_CONTEXT
from ..interfaces import ModelSpec
from ..labels import CONLL2003_LABELS, Label
from ..shots import MAX_SHOTS

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^${}]*))?\}")
SPLITS = ("train", "dev", "test")


class RecipeError(ValueError):
    """An invalid recipe; the message names the file and each failing field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentConfig(_Strict):
    """A plugin by name plus its options (validated by the plugin's ``Options`` model)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


def _name_as_component(value: Any) -> Any:
    """``conll`` is short for ``{name: conll}``."""
    return {"name": value} if isinstance(value, str) else value


class DataConfig(_Strict):
    """Which corpus files to read, with which reader plugin."""

    dir: Path = Field(Path("."), description="folder the split file names are relative to")
    reader: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="conll"))
    train: str | None = None
    dev: str | None = None
    test: str | None = None
    limit: dict[str, int] = Field(default_factory=dict, description="first N sentences of a split")
    label_map: dict[str, str | None] = Field(
        default_factory=dict, description="a corpus label to the recipe's label it stands for (null: drop its entities)"
    )
    unknown_labels: Literal["error", "drop"] = Field(
        "error", description="an entity label neither in labels nor in label_map: stop with an error naming it, or drop the entity"
    )

    @field_validator("reader", mode="before")
    @classmethod
    def _reader_by_name(cls, value: Any) -> Any:
        return _name_as_component(value)

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


class FormatConfig(ComponentConfig):
    name: str = "bracketed"
    instruction: str | None = Field(None, description="replaces the format's built-in instruction")
    context: int = Field(
        0, ge=0, le=MAX_CONTEXT,
        description="sentences before and after each sentence, from its own document, shown in the prompt as context",
    )
    shots: int = Field(
        0, ge=0, le=MAX_SHOTS,
        description="solved examples from data.train shown before every sentence, as earlier turns of the conversation",
    )
    shot_seed: int = Field(0, description="which examples format.shots draws: the same seed draws the same ones")


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
    labels: list[Label] = Field(default_factory=lambda: list(CONLL2003_LABELS))
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
        return [_name_as_component(item) for item in value] if isinstance(value, list) else value

    @field_validator("trainer", "predictor", mode="before")
    @classmethod
    def _component_by_name(cls, value: Any) -> Any:
        return _name_as_component(value)

    def label_set(self) -> list[Label]:
        return list(self.labels)


def interpolate(value: Any, where: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed YAML tree.

    As in a shell, the default is used when VAR is unset or empty, and a default may itself
    read a variable (``${A:-${B}}``): the innermost reference is replaced first.
    """
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            variable, default = match.group(1), match.group(2)
            if os.environ.get(variable):
                return os.environ[variable]
            if default is not None:
                return default
            if variable in os.environ:
                return ""
            raise RecipeError(f"{where or 'value'}: environment variable {variable} is not set and has no default")

        while True:
            replaced = _VARIABLE.sub(replace, value)
            if replaced == value:
                break
            value = replaced
        if "${" in value:
            raise RecipeError(f"{where or 'value'}: cannot read {value!r}: expected ${{VAR}} or ${{VAR:-default}}")
        return value
    if isinstance(value, Mapping):
        return {key: interpolate(item, f"{where}.{key}" if where else str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping, naming both lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in first:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice, on lines {first[key]} and {line}", key_node.start_mark
                )
            first[key] = line
        return super().construct_mapping(node, deep=deep)


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


def first_error(error: ValidationError) -> str:
    """A validation error as one line: its first failing field and message, and how many more there are."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{field}: {first['msg']}{more}"


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
        tree = yaml.load(text, Loader=_UniqueKeyLoader)
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
        recipe = Recipe.model_validate(tree)
    except ValidationError as error:
        raise RecipeError(format_validation_error(source, error)) from None
    if _in_run_folder(path) and not any(override.startswith("output_dir=") for override in overrides):
        recipe = recipe.model_copy(update={"output_dir": path.parent})
    return recipe


def _in_run_folder(path: Path) -> bool:
    """Whether ``path`` is the recipe a run wrote into its folder: rerun, it runs into that folder, wherever it was moved."""
    from .stages import RECORD

    return path.name == "recipe.yaml" and (path.parent / RECORD).is_file()


def validate_components(recipe: Recipe, source: str) -> list[str]:
    """Check that every named plugin exists and accepts its options, before any work starts.

    Raises ``RecipeError`` listing every problem; returns warnings about settings that are
    valid but do nothing in the chosen mode, each as ``file: field.path: message``.
    """
    from .. import plugins

    checks: list[tuple[str, plugins.Kind, ComponentConfig | None]] = [
        ("data.reader", "reader", recipe.data.reader),
        ("format", "format", recipe.format),
        ("trainer", "trainer", recipe.trainer),
        ("predictor", "predictor", recipe.predictor),
    ]
    checks += [(f"scorers.{i}", "scorer", scorer) for i, scorer in enumerate(recipe.scorers)]
    problems: list[str] = []
    warnings: list[str] = []
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
        warnings += [f"{source}: {warning}" for warning in cls.recipe_warnings(recipe)]
    needs_model = recipe.trainer is not None or (
        recipe.predictor is not None and getattr(_known("predictor", recipe.predictor.name), "needs_model", True)
    )
    if needs_model and recipe.model is None:
        problems.append(f"  {source}: model: required when a trainer or predictor is set")
    if recipe.format.shots and recipe.data.train is None:
        problems.append(f"  {source}: format.shots: draws its examples from data.train, which the recipe does not name")
    if problems:
        raise RecipeError(f"{source}: invalid recipe ({len(problems)} error(s))\n" + "\n".join(problems))
    return warnings


def _known(kind: Any, name: str) -> Any:
    """The plugin class ``name`` of ``kind``, or None when there is none (reported on its own field)."""
    from .. import plugins

    try:
        return plugins.get(kind, name)
    except plugins.PluginError:
        return None


def check_paths(recipe: Recipe, source: str) -> None:
    """Every data file exists and the output folder can be written, before any work starts."""
    from .. import plugins

    folders = getattr(plugins.get("reader", recipe.data.reader.name), "reads_folders", False)
    problems = []
    for split in SPLITS:
        path = recipe.data.path(split)
        if path is not None and not (path.is_file() or (folders and path.is_dir())):
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            problems.append(f"  {source}: data.{split}: {path} {what}")
    out = recipe.output_dir
    if out.exists() and not out.is_dir():
        problems.append(f"  {source}: output_dir: {out} is a file, not a folder")
    else:
        existing = next(folder for folder in (out, *out.absolute().parents) if folder.exists())
        if not os.access(existing, os.W_OK | os.X_OK):
            problems.append(f"  {source}: output_dir: {out} cannot be written ({existing} is read-only)")
    if problems:
        raise RecipeError(f"{source}: invalid recipe ({len(problems)} error(s))\n" + "\n".join(problems))
