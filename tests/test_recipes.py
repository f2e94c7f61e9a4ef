"""The shipped recipes: each one validates; the quickstart prompts as the reference and its answers fit max_length."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from ner_toolkit.run.components import load_split, make_formatter
from ner_toolkit.run.pipeline import render_split
from ner_toolkit.run.recipe import load_recipe, validate_components

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda path: path.name)
def test_every_shipped_recipe_validates(path: Path, conll: Path) -> None:
    recipe = load_recipe(path, [f"data.dir={conll}"])
    validate_components(recipe, str(path))


def test_the_quickstart_prompts_as_the_reference_recipe(conll: Path) -> None:
    def instruction(name: str) -> str:
        recipe = load_recipe(REPO / "recipes" / name, [f"data.dir={conll}"])
        return make_formatter(recipe).instruction()

    assert instruction("quickstart.yaml") == instruction("qwen2.5-7b-conll2003.yaml")


def test_the_vllm_recipe_prompts_and_reads_answers_as_the_reference_recipe(conll: Path) -> None:
    served, reference = (load_recipe(REPO / "recipes" / name, [f"data.dir={conll}"]) for name in ("qwen2.5-7b-vllm.yaml", "qwen2.5-7b-conll2003.yaml"))
    assert served.format == reference.format and served.labels == reference.labels and served.model == reference.model
    assert served.data.dev == reference.data.dev and served.data.test == reference.data.test


def test_no_quickstart_training_answer_is_cut_by_max_length(conll: Path, smollm2_dir: Path) -> None:
    from transformers import AutoTokenizer

    from ner_toolkit.prompts import end_of_turn_id, training_rows

    overrides = [f"data.dir={conll}", f"model.name_or_path={smollm2_dir}", "model.package=null", "model.gguf_file=null"]
    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml", overrides)
    examples = render_split(make_formatter(recipe), load_split(recipe, "train"))
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_dir))  # SmolLM2's own tokenizer, saved from the GGUF
    layout, max_length = recipe.model.chat_template, recipe.trainer.options["max_length"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = training_rows(tokenizer, examples, layout, max_length, end_of_turn_id(tokenizer, layout), recipe.model.system_prompt)
    assert len(rows) == recipe.data.limit["train"]
