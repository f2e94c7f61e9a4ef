"""`export` writes a Hub-ready model card: metadata with the run's scores, read back offline by huggingface_hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from huggingface_hub import ModelCard

from ner_toolkit.cli import cli
from ner_toolkit.run.folder import RunFolder
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe
from ner_toolkit.tagging.model_card import model_card

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"


@pytest.fixture(scope="module")
def scored_run(conll: Path, tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference recipe on the tiny model: one training step, two dev and three test sentences scored."""
    folder = tmp_path_factory.mktemp("card") / "run"
    recipe = load_recipe(REFERENCE, [f"model.name_or_path={tiny_qwen2_dir}", f"data.dir={conll}", "data.limit={train: 2, dev: 2, test: 3}",
                                     "trainer.options.max_steps=1", "trainer.options.gradient_accumulation_steps=1",
                                     "trainer.options.threads=1", "predictor.options.threads=1", "predictor.options.max_new_tokens=4",
                                     "predictor.options.progress=false", f"output_dir={folder}"])
    run(recipe, log=lambda message: None)
    return folder


def test_the_card_carries_the_runs_scores_as_the_hub_reads_them(scored_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "quickstart-ner"
    result = CliRunner().invoke(cli, ["export", str(scored_run), str(out), "--license", "apache-2.0", "--dataset", "eriktks/conll2003"])
    assert result.exit_code == 0, result.output
    text = (out / "README.md").read_text(encoding="utf-8")
    card = ModelCard(text)
    data = card.data.to_dict()
    assert (data["library_name"], data["license"], data["datasets"]) == ("peft", "apache-2.0", ["eriktks/conll2003"])
    assert "base_model" not in data  # a local base model is named in the text, not as a Hub id
    results = {(r.dataset_split, r.metric_name): r.metric_value for r in card.data.eval_results}
    for split, hub_split in (("dev", "validation"), ("test", "test")):
        metrics = json.loads((scored_run / "metrics" / f"{split}.json").read_text())
        micro = metrics["seqeval"]["micro"]
        assert results[(hub_split, "seqeval strict micro f1")] == round(micro["f1"], 4)
        assert results[(hub_split, "seqeval strict micro precision")] == round(micro["precision"], 4)
        for scenario in ("strict", "exact", "partial", "ent_type"):
            assert results[(hub_split, f"nervaluate {scenario} F1")] == round(metrics["nervaluate"]["overall"][scenario]["f1"], 4)
    assert {r.task_type for r in card.data.eval_results} == {"token-classification"}
    assert "## Results: test (test)" in text and "| micro |" in text and "| ent_type |" in text
    assert 'Tagger.load("quickstart-ner")' in text and "## The recipe" in text
    assert str(scored_run.parent) not in text and "/tmp" not in text  # no path of the machine


def test_a_hub_base_model_is_named_in_the_metadata(scored_run: Path) -> None:
    folder = RunFolder(scored_run)
    text = model_card("x", folder.read_recipe(), folder, "Qwen/Qwen2.5-7B", True, "other", None)
    data = ModelCard(text).data.to_dict()
    assert data["base_model"] == "Qwen/Qwen2.5-7B" and "datasets" not in data
    assert {r.dataset_name for r in ModelCard(text).data.eval_results} == {"custom"}
