"""The whole quickstart recipe reaches its target (about 10 minutes on 2 cores: run with -m slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe, validate_components

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_quickstart_reaches_f1_060_on_its_eng_testb_subset(conll: Path, tmp_path: Path) -> None:
    recipe_path = REPO / "recipes" / "quickstart.yaml"
    recipe = load_recipe(recipe_path, [f"data.dir={conll}", f"output_dir={tmp_path}"])
    validate_components(recipe, str(recipe_path))
    results = run(recipe)
    assert results["test"]["counts"]["sentences"] == 300
    assert results["test"]["seqeval"]["micro"]["f1"] >= 0.60
