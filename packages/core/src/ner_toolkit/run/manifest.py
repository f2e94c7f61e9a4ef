"""What a run's results depend on: Python, package and plugin versions, data file hashes, the toolkit's commit."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import plugins
from .recipe import SPLITS, Recipe
from .stages import path_digest

LIBRARIES = ("torch", "transformers", "peft", "trl", "accelerate", "seqeval", "nervaluate", "pluggy", "pydantic")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("ner-toolkit-core", *LIBRARIES):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def plugin_versions() -> list[dict[str, str]]:
    """Every loaded component with the distribution (and version) it came from, third-party ones included."""
    return [
        {"kind": c.kind, "name": c.name, "plugin": c.plugin, "distribution": c.distribution}
        for c in plugins.components()
    ]


def toolkit_commit() -> str | None:
    """The git commit of the toolkit's own checkout, when it runs from one (not of the working directory's repository)."""
    source = Path(__file__).resolve()
    root = next((folder for folder in source.parents if (folder / ".git").exists()), None)
    if root is None or not (root / "packages" / "core").is_dir():
        return None
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def setup(recipe: Recipe) -> dict[str, Any]:
    """Where a run's answers came from, as its manifest and reports name it: a served model and its host, the shots; empty for a model run in process."""
    about: dict[str, Any] = {}
    if recipe.predictor is not None:
        about.update(plugins.get_predictor(recipe.predictor.name).describe(recipe.predictor.options))
    if recipe.format.shots:
        about["shots"] = recipe.format.shots
        about["shot_seed"] = recipe.format.shot_seed
    return about


def manifest(recipe: Recipe, digest: Callable[[Path], str] = path_digest) -> dict[str, Any]:
    """What the run's results depend on; ``digest`` hashes a data file or folder (the run's cached one)."""
    data = {}
    for split in SPLITS:
        path = recipe.data.path(split)
        if path is not None and path.exists():
            data[split] = {"path": str(path), "sha256": digest(path)}
    return {
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "plugins": plugin_versions(),
        "data": data,
        "toolkit_commit": toolkit_commit(),
        **({"setup": about} if (about := setup(recipe)) else {}),
    }
