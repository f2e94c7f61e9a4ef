"""The run folder: the one place that knows where a run keeps each of its files.

    runs/quickstart/
      recipe.yaml  manifest.json  stages.json
      data/{train,dev,test}.json            Alpaca examples
      model/checkpoints/  model/adapter/    the trainer's resume points and saved model
      model/trained.json                    written when training finished: where the model is
      predictions/{dev,test}.jsonl          one parsed prediction per sentence
      metrics/{dev,test}.json  reports/{dev,test}.{md,html}
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..textio import write_json, write_text
from .recipe import Recipe, RecipeError, first_error


class RunFolderError(ValueError):
    """A run folder that cannot give what was asked of it; the message names the folder or file."""


RUN_FILES = ("recipe.yaml", "manifest.json", "stages.json", "data", "model", "predictions", "metrics", "reports")
"""What a run writes into its folder: all that ``--fresh`` removes."""


@dataclass(frozen=True)
class RunFolder:
    """A run's output folder and the paths of everything in it."""

    root: Path

    @staticmethod
    def holds_run(folder: Path) -> bool:
        """Whether ``folder`` is a run's folder (it has the resolved recipe)."""
        return (folder / "recipe.yaml").is_file()

    @property
    def recipe_path(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def model_dir(self) -> Path:
        """Where the trainer writes its checkpoints and saved model."""
        return self.root / "model"

    @property
    def trained_marker(self) -> Path:
        return self.model_dir / "trained.json"

    def examples(self, split: str) -> Path:
        return self.root / "data" / f"{split}.json"

    def predictions(self, split: str) -> Path:
        return self.root / "predictions" / f"{split}.jsonl"

    def metrics(self, split: str) -> Path:
        return self.root / "metrics" / f"{split}.json"

    def report(self, split: str) -> Path:
        """The report's path without suffix: ``.md`` and ``.html`` are written beside each other."""
        return self.root / "reports" / split

    def reports(self, split: str) -> list[Path]:
        return [self.report(split).with_suffix(".md"), self.report(split).with_suffix(".html")]

    def split_outputs(self, split: str) -> list[Path]:
        """Everything made from one split's examples: the examples, predictions, metrics and reports."""
        return [self.examples(split), self.predictions(split), self.metrics(split), *self.reports(split)]

    def write_recipe(self, recipe: Recipe) -> None:
        write_text(self.recipe_path, yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))

    def read_recipe(self) -> Recipe:
        """The run's resolved recipe; an error is one line naming the file and what is wrong."""
        try:
            tree = yaml.safe_load(self.recipe_path.read_text(encoding="utf-8"))
        except OSError as error:
            raise RecipeError(f"{self.recipe_path}: cannot read: {error.strerror}") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise RecipeError(f"{self.recipe_path}: not a run's recipe: not valid YAML{where}") from None
        try:
            return Recipe.model_validate(tree)
        except ValidationError as error:
            raise RecipeError(f"{self.recipe_path}: not a run's recipe: {first_error(error)}") from None

    def mark_trained(self, model: Path, seconds: float) -> None:
        """Record that training finished and saved ``model`` (kept relative to the folder, which may move)."""
        inside = model.absolute().is_relative_to(self.root.absolute())
        saved = Path(os.path.relpath(model.absolute(), self.root.absolute())) if inside else model.absolute()
        write_json(self.trained_marker, {"path": saved.as_posix(), "seconds": round(seconds, 1)})

    def trained_model(self, recipe: Recipe) -> Path | None:
        """The folder the recipe's training saved (adapter or full weights); None when the recipe trains nothing or training has not finished."""
        if recipe.trainer is None or not self.trained_marker.exists():
            return None
        try:
            record = json.loads(self.trained_marker.read_text(encoding="utf-8"))
            saved = Path(record["path"])
        except (ValueError, KeyError, TypeError) as error:
            raise RunFolderError(f"{self.trained_marker}: not a record of a finished training (no 'path': {error})") from None
        # a record written before paths were kept relative to the folder names it by absolute or working-directory path
        for candidate in (self.root / saved, self.model_dir / saved.name, saved):
            if candidate.is_dir():
                return candidate
        raise RunFolderError(f"{self.trained_marker} names {saved}, which is not there")

    def served_model(self, recipe: Recipe) -> Path | None:
        """The trained model a run's predictions were made with; None when the recipe trains nothing (the base model).

        A run whose training has not finished has no model to serve: that is an error, not the base model.
        """
        trained = self.trained_model(recipe)
        if trained is None and recipe.trainer is not None:
            raise RunFolderError(
                f"{self.root}: training has not finished (no {self.trained_marker.relative_to(self.root)}); "
                f"finish it with `ner-toolkit run {self.recipe_path}` before tagging with this run"
            )
        return trained

    def clear(self) -> None:
        """Remove what a run wrote (``--fresh``); other files in the folder stay."""
        for name in RUN_FILES:
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
