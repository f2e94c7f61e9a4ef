"""A rerun into the same output folder never reports results computed under another recipe.

Each case runs a recipe, reruns it with one kind of change, and checks that the stages
the change reaches say they are redone and that every result equals a fresh run of the
changed recipe in a folder of its own. A rerun with no change redoes nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe, validate_components

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"


TRAIN = ["data.limit={train: 2, dev: 1, test: 2}", "trainer.options.max_steps=1",
         "trainer.options.gradient_accumulation_steps=1", "trainer.options.threads=1", "trainer.options.save_steps=1"]


def overrides(conll: Path, model: Path, output: Path, *extra: str) -> list[str]:
    """The reference recipe on the tiny model, predicting 2 dev and 3 test sentences; training only when ``extra`` has TRAIN."""
    untrained = ["data.train=null", "data.limit={dev: 2, test: 3}", "trainer=null"] if TRAIN[0] not in extra else []
    return [
        f"model.name_or_path={model}",
        f"data.dir={conll}",
        *untrained,
        "predictor.options.max_new_tokens=4",
        "predictor.options.batch_size=3",
        "predictor.options.progress=false",
        "predictor.options.threads=1",
        f"output_dir={output}",
        *extra,
    ]


def run_logged(conll: Path, model: Path, output: Path, *extra: str) -> tuple[dict, list[str]]:
    recipe = load_recipe(REFERENCE, overrides(conll, model, output, *extra))
    validate_components(recipe, str(REFERENCE))
    lines: list[str] = []
    return run(recipe, log=lines.append), lines


def results_on_disk(folder: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for split in ("dev", "test"):
        for name in (f"metrics/{split}.json", f"predictions/{split}.jsonl", f"data/{split}.json"):
            path = folder / name
            found[name] = path.read_text() if path.exists() else None
    return found


@pytest.fixture(scope="module")
def other_model(tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model under another path with one file changed: a local model is an input by its files' contents."""
    folder = tmp_path_factory.mktemp("other-model")
    for path in tiny_qwen2_dir.iterdir():
        shutil.copy(path, folder / path.name)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "note": "another model"}))
    return folder


@pytest.fixture(scope="module")
def moved_model(tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same tiny model, byte for byte, under another path."""
    folder = tmp_path_factory.mktemp("moved-model")
    for path in tiny_qwen2_dir.iterdir():
        shutil.copy(path, folder / path.name)
    return folder


EVERYTHING = ["render:dev", "render:test", "predict:dev", "predict:test"]
CHANGES = {
    "format": (["format.name=xml"], EVERYTHING),
    "document context": (["format.context=1"], EVERYTHING),
    "labels": (["labels=[{name: PER}, {name: LOC}]", "data.unknown_labels=drop"], EVERYTHING),
    "data limit": (["data.limit={dev: 2, test: 2}"], ["render:test", "predict:test"]),
    "predictor option": (["predictor.options.max_new_tokens=3"], ["predict:dev", "predict:test"]),
    "decoding mode": (["predictor.options.decoding=constrained", "predictor.options.max_new_tokens=null"], ["predict:dev", "predict:test"]),
    "model": (["MODEL"], ["predict:dev", "predict:test"]),
    "model moved": (["MOVED"], []),
    "no test split": (["data.test=null"], ["render:test"]),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_changed_recipe_redoes_what_the_change_reaches(
    change: str, conll: Path, tiny_qwen2_dir: Path, other_model: Path, moved_model: Path, tmp_path: Path
) -> None:
    extra, redone = CHANGES[change]
    model = tiny_qwen2_dir
    if extra in (["MODEL"], ["MOVED"]):
        extra, model = [], other_model if extra == ["MODEL"] else moved_model
    out = tmp_path / "run"
    run_logged(conll, tiny_qwen2_dir, out)
    results, lines = run_logged(conll, model, out, *extra)
    said = [line.split(": redo (")[0] for line in lines if ": redo (" in line]
    assert said == redone, lines
    assert all("changed:" in line for line in lines if ": redo (" in line)

    fresh_results, _ = run_logged(conll, model, tmp_path / "fresh", *extra)
    assert results == fresh_results
    assert results_on_disk(out) == results_on_disk(tmp_path / "fresh")
    assert yaml.safe_load((out / "recipe.yaml").read_text()) == {
        **yaml.safe_load((tmp_path / "fresh" / "recipe.yaml").read_text()), "output_dir": str(out)
    }


def test_an_unchanged_rerun_redoes_nothing_and_fresh_starts_over(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    """Options marked RUNTIME_ONLY (a progress bar, a garbage-collector setting) are no change."""
    out = tmp_path / "run"
    first, _ = run_logged(conll, tiny_qwen2_dir, out)
    stamp = (out / "predictions" / "test.jsonl").stat().st_mtime_ns
    again, lines = run_logged(conll, tiny_qwen2_dir, out, "predictor.options.progress=true", "predictor.options.freeze_gc=false")
    assert again == first
    assert not [line for line in lines if ": redo (" in line or line.startswith("predict: ")], lines
    assert (out / "predictions" / "test.jsonl").stat().st_mtime_ns == stamp

    recipe = load_recipe(REFERENCE, overrides(conll, tiny_qwen2_dir, out))
    said: list[str] = []
    assert run(recipe, log=said.append, fresh=True) == first
    assert any(line.startswith("fresh: removed") for line in said) and any(line.startswith("predict: 2 of 2") for line in said)


def test_a_folder_from_before_stage_records_is_redone(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first, _ = run_logged(conll, tiny_qwen2_dir, out)
    (out / "stages.json").unlink()
    again, lines = run_logged(conll, tiny_qwen2_dir, out)
    assert again == first
    assert any(line.startswith("predict:test: redo (no record") for line in lines), lines


def test_a_changed_trainer_setting_retrains(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_logged(conll, tiny_qwen2_dir, out, *TRAIN)
    marker = json.loads((out / "model" / "trained.json").read_text())
    _, lines = run_logged(conll, tiny_qwen2_dir, out, *TRAIN, "trainer.options.learning_rate=0.001")
    redone = [line for line in lines if ": redo (" in line]
    assert [line.split(" ")[0] for line in redone] == ["train:", "predict:dev:", "predict:test:"]
    assert "trainer.options.learning_rate" in redone[0]
    assert any(line.startswith("train: sft-lora on 2 examples") for line in lines)
    assert json.loads((out / "model" / "trained.json").read_text())["path"] == marker["path"]
