"""The model card ``export`` writes: Hub metadata with the run's scores, and the tables a reader checks first.

The YAML header follows the Hugging Face model card: ``library_name``, ``base_model``,
``license``, ``datasets``, ``tags`` and a ``model-index`` whose results are the run's
seqeval strict micro precision, recall and F1 and nervaluate's F1 in its four scenarios,
per split, read from ``metrics/{dev,test}.json``. The body shows seqeval per type and the
nervaluate scenarios for each split, the recipe, and how to tag with the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ..run.folder import RunFolder
from ..run.recipe import Recipe

SPLIT_NAMES = {"dev": "validation", "test": "test"}
SCENARIOS = ("strict", "exact", "partial", "ent_type")


def run_metrics(folder: RunFolder) -> dict[str, dict[str, Any]]:
    """The metrics of each split the run scored, by split."""
    found = {}
    for split in SPLIT_NAMES:
        path = folder.metrics(split)
        if path.is_file():
            found[split] = json.loads(path.read_text(encoding="utf-8"))
    return found


def model_index(name: str, dataset: str | None, metrics: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``model-index`` results: per split, seqeval strict micro P/R/F1 and nervaluate F1 per scenario."""
    results = []
    for split, found in metrics.items():
        values = []
        micro = found.get("seqeval", {}).get("micro")
        if micro:
            values += [{"type": kind, "value": round(micro[kind], 4), "name": f"seqeval strict micro {kind}"}
                       for kind in ("precision", "recall", "f1")]
        overall = found.get("nervaluate", {}).get("overall", {})
        values += [{"type": "f1", "value": round(overall[scenario]["f1"], 4), "name": f"nervaluate {scenario} F1"}
                   for scenario in SCENARIOS if scenario in overall]
        if values:
            results.append({
                "task": {"type": "token-classification", "name": "Named Entity Recognition"},
                "dataset": {"type": dataset or "custom", "name": dataset or "custom", "split": SPLIT_NAMES[split]},
                "metrics": values,
            })
    return [{"name": name, "results": results}]


def _seqeval_table(found: dict[str, Any]) -> list[str]:
    seqeval = found.get("seqeval")
    if not seqeval:
        return []
    rows = ["| type | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, scores in [*seqeval.get("per_type", {}).items(), ("micro", seqeval["micro"])]:
        rows.append(f"| {label} | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} | {scores['support']} |")
    return ["seqeval (strict, IOB2):", "", *rows, ""]


def _nervaluate_table(found: dict[str, Any]) -> list[str]:
    overall = found.get("nervaluate", {}).get("overall")
    if not overall:
        return []
    rows = ["| scenario | correct | incorrect | partial | missed | spurious | precision | recall | F1 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for scenario in SCENARIOS:
        if scenario in overall:
            s = overall[scenario]
            rows.append(f"| {scenario} | {s['correct']} | {s['incorrect']} | {s['partial']} | {s['missed']} | {s['spurious']} "
                        f"| {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} |")
    return ["nervaluate:", "", *rows, ""]


def model_card(name: str, recipe: Recipe, folder: RunFolder, base: str | None, adapter: bool,
               license: str, dataset: str | None) -> str:
    """The README.md of an exported model: YAML metadata, scores per split, the recipe, and how to tag."""
    metrics = run_metrics(folder)
    meta: dict[str, Any] = {"library_name": "peft" if adapter else "transformers"}
    if base and not Path(base).is_absolute():  # the Hub knows a base by its name; a local folder is named in the text only
        meta["base_model"] = base
    meta["license"] = license
    if dataset:
        meta["datasets"] = [dataset]
    meta["tags"] = ["ner", "token-classification", "ner-toolkit", f"format-{recipe.format.name}"]
    meta["model-index"] = model_index(name, dataset, metrics)
    labels = ", ".join(label.name for label in recipe.labels)
    shown = Path(base).name if base and Path(base).is_absolute() else base
    lines = [
        "---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---",
        f"# {name}", "",
        "Named-entity recognition with a generative model fine-tuned by ner-toolkit"
        + (f" from `{shown}`" if shown else "") + f": it answers in the `{recipe.format.name}` format with the labels {labels}.", "",
    ]
    for split, found in metrics.items():
        lines += [f"## Results: {SPLIT_NAMES[split]} ({split})", "", *_seqeval_table(found), *_nervaluate_table(found)]
    if not metrics:
        lines += ["The run this model comes from scored no split.", ""]
    lines += [
        "## Tag with it", "", "```python", "from ner_toolkit import Tagger", f'tagger = Tagger.load("{name}")',
        'print(tagger("Hussain, considered surplus to England\'s one-day requirements, struck 158.").entities)', "```", "",
        "## The recipe", "", "```yaml", yaml.safe_dump(public_recipe(recipe), sort_keys=False).rstrip(), "```", "",
    ]
    return "\n".join(lines)


def public_recipe(recipe: Recipe) -> dict[str, Any]:
    """The recipe as a card shows it: folders and files by their names, never the paths of the machine it ran on."""
    tree = recipe.model_dump(mode="json")
    tree["output_dir"] = Path(tree["output_dir"]).name
    tree["data"]["dir"] = Path(tree["data"]["dir"]).name
    model = tree.get("model") or {}
    if model.get("name_or_path") and Path(model["name_or_path"]).is_absolute():
        model["name_or_path"] = Path(model["name_or_path"]).name
    for section in ("trainer", "predictor"):
        options = (tree.get(section) or {}).get("options", {})
        for key, value in options.items():
            if isinstance(value, str) and Path(value).is_absolute():
                options[key] = Path(value).name
    return tree

