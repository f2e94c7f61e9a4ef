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
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..textio import write_json, write_text
from .recipe import Recipe, RecipeError

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
        """The run's resolved recipe; an error names the file."""
        try:
            return Recipe.model_validate(yaml.safe_load(self.recipe_path.read_text(encoding="utf-8")))
        except (ValueError, yaml.YAMLError) as error:
            raise RecipeError(f"{self.recipe_path}: not a run's recipe: {error}") from None

    def mark_trained(self, model: Path, seconds: float) -> None:
        """Record that training finished and saved ``model``."""
        write_json(self.trained_marker, {"path": str(model), "seconds": round(seconds, 1)})

    def trained_model(self) -> Path | None:
        """The folder training saved (adapter or full weights), found even when the run folder moved; None before it finished."""
        if not self.trained_marker.exists():
            return None
        saved = Path(json.loads(self.trained_marker.read_text(encoding="utf-8"))["path"])
        for candidate in (self.model_dir / saved.name, saved):
            if candidate.is_dir():
                return candidate
        raise FileNotFoundError(f"{self.trained_marker} names {saved}, which is not there (nor {self.model_dir / saved.name})")

    def clear(self) -> None:
        """Remove what a run wrote (``--fresh``); other files in the folder stay."""
        for name in RUN_FILES:
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
