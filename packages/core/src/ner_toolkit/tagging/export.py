"""``ner-toolkit export``: a run's model as a self-contained folder that ``Tagger.load`` reads and a model hub can host.

The folder holds the trained weights (a PEFT adapter, or full weights) with the tokenizer,
``ner_toolkit.json``: the format with its options, the labels, the instruction as the
model was trained on it, the chat layout, and for an adapter the base model it adapts;
and ``README.md``, a Hub model card with the run's scores (``model_card``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..run.components import make_formatter
from ..run.folder import RunFolder
from ..textio import write_json, write_text
from .loading import EXPORT_FILE
from .model_card import model_card


def export(run: Path, out: Path, license: str = "other", dataset: str | None = None) -> Path:
    """Copy ``run``'s trained model into ``out`` with the metadata that loading needs and a model card; return ``out``.

    ``license`` and ``dataset`` (a Hub dataset id) go into the card's metadata.
    """
    folder = RunFolder(run)
    if not RunFolder.holds_run(run):
        raise ValueError(f"{run}: not a run folder (no recipe.yaml)")
    recipe = folder.read_recipe()
    if recipe.trainer is None or recipe.model is None:
        raise ValueError(f"{run}: the run trains no model (trainer: null); its model is the base model, export that instead")
    model_dir = folder.served_model(recipe)
    assert model_dir is not None
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out}: exists and is not empty; export into a new folder")
    shutil.copytree(model_dir, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("checkpoint-*", "training_args.bin"))
    adapter = (out / "adapter_config.json").is_file()
    formatter = make_formatter(recipe)
    model: dict[str, Any] = {"chat_template": recipe.model.chat_template, "system_prompt": recipe.model.system_prompt}
    if adapter:
        model.update(base=recipe.model.name_or_path if recipe.model.package is None else recipe.model.resolved_path(),
                     gguf_file=recipe.model.gguf_file, revision=recipe.model.revision)
    meta = {
        "format": {"name": recipe.format.name, "options": dict(recipe.format.options), "context": recipe.format.context},
        "labels": [label.to_json() for label in recipe.labels],
        "instruction": formatter.instruction(),
        "model": model,
        "predictor": recipe.predictor.model_dump(mode="json") if recipe.predictor else {"name": "transformers", "options": {}},
    }
    write_json(out / EXPORT_FILE, meta)
    write_text(  # replaces the placeholder card PEFT saves beside an adapter
        out / "README.md",
        model_card(out.name, recipe, folder, model.get("base") if adapter else None, adapter, license, dataset),
    )
    return out
