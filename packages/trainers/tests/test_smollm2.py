"""A short LoRA run on the real SmolLM2-135M-Instruct learns the bracketed format."""

from __future__ import annotations

import json
from pathlib import Path

from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe

REPO = Path(__file__).resolve().parents[3]


def test_a_short_lora_run_lowers_the_loss_and_gives_parseable_outputs(
    conll: Path, smollm2_dir: Path, tmp_path: Path
) -> None:
    recipe = load_recipe(
        REPO / "recipes" / "quickstart.yaml",
        [
            f"model={json.dumps({'name_or_path': str(smollm2_dir), 'system_prompt': ''})}",
            f"data.dir={conll}",
            "data.limit={train: 48, test: 8}",
            "data.dev=null",
            "trainer.options.method=lora",
            "trainer.options.lora_rank=16",
            "trainer.options.lora_alpha=32",
            "trainer.options.learning_rate=2.0e-3",
            "trainer.options.max_steps=12",
            "trainer.options.per_device_batch_size=4",
            "trainer.options.logging_steps=1",
            "trainer.options.save_steps=100",
            "predictor.options.progress=false",
            "predictor.options.decoding=plain",  # unconstrained: the model itself must write valid brackets
            "predictor.options.prefix_cache=false",
            "scorers=[seqeval]",
            f"output_dir={tmp_path}",
        ],
    )
    results = run(recipe, log=lambda message: None)

    state = json.loads(next((tmp_path / "model" / "checkpoints").glob("checkpoint-*/trainer_state.json")).read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < 0.6 * sum(losses[:3]) / 3, losses

    predictions = [json.loads(line) for line in (tmp_path / "predictions" / "test.jsonl").read_text().splitlines()]
    assert len(predictions) == 8
    clean = [p for p in predictions if not p["diagnostics"]]
    assert len(clean) >= 6, [p["output"] for p in predictions]
    assert sum(len(p["spans"]) for p in clean) > 0
    assert results["test"]["seqeval"]["micro"]["f1"] > 0.0
