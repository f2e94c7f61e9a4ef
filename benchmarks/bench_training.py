"""Training throughput with and without the shared prompt prefix, side by side in one process.

    uv run python benchmarks/bench_training.py [--recipe recipes/quickstart.yaml] [--steps 20] [--repeats 2]

Trains the recipe's model with its trainer options for ``--steps`` optimizer steps on its
first training examples, once with ``share_prompt_prefix`` off and once on, alternating
``--repeats`` times so that drift of the shared machine hits both alike. Reports examples
per second (the trainer's own ``train_samples_per_second``) and the mean training loss.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from ner_toolkit import plugins
from ner_toolkit.run.components import load_split, make_formatter
from ner_toolkit.run.pipeline import render_split
from ner_toolkit.run.recipe import load_recipe


def train_once(recipe: Any, examples: list[Any], steps: int, share: bool) -> dict[str, Any]:
    options = {**recipe.trainer.options, "max_steps": steps, "share_prompt_prefix": share, "save_steps": 10**6, "logging_steps": steps}
    trainer = plugins.get_trainer(recipe.trainer.name)(**options)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        trainer.train(recipe.model.spec(), examples, Path(folder))
        wall = time.perf_counter() - start
        metrics = json.loads((Path(folder) / "train_metrics.json").read_text())
    return {
        "share_prompt_prefix": share,
        "shared_prefix_tokens": metrics["shared_prefix_tokens"],
        "examples_per_second": metrics["train_samples_per_second"],
        "train_runtime_s": metrics["train_runtime"],
        "wall_s": round(wall, 1),
        "train_loss": metrics["train_loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="recipes/quickstart.yaml")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe, args.overrides)
    options = plugins.get_trainer(recipe.trainer.name).Options.model_validate(recipe.trainer.options)  # defaults filled in
    batch = options.per_device_batch_size * options.gradient_accumulation_steps
    examples = render_split(make_formatter(recipe), load_split(recipe, "train"))[: args.steps * batch]
    rows = []
    for _ in range(args.repeats):
        for share in (False, True):
            row = train_once(recipe, examples, args.steps, share)
            rows.append(row)
            print(json.dumps(row), flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(json.dumps({"recipe": args.recipe, "steps": args.steps, "examples": len(examples), "machine": machine}))


if __name__ == "__main__":
    main()
