"""A run folder never lies: what it tags with, and what a rerun does to it, is what its recipe says.

Each test names the item of the reliability issue it covers. Runs that need no model
predict with the example plugin's gazetteer; runs that train use the tiny Qwen2 model for
one or two steps.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import spacy
from click.testing import CliRunner

from ner_toolkit import Tagger, read_conll
from ner_toolkit.cli import cli
from ner_toolkit.run.folder import RunFolder, RunFolderError
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"
NAMES = {"Japan": "LOC", "Syria": "LOC", "China": "LOC", "Nadim Ladki": "PER", "AL-AIN": "LOC"}
TINY = ["trainer.options.gradient_accumulation_steps=1", "trainer.options.threads=1", "predictor.options.threads=1",
        "predictor.options.max_new_tokens=4", "predictor.options.progress=false"]


def silent(message: str) -> None:
    pass


def gazetteer(conll: Path, entries: Path, out: Path, *extra: str):
    return load_recipe(REFERENCE, [f"data.dir={conll}", "data.train=null", "data.limit={dev: 3, test: 5}", "trainer=null",
                                   f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}", f"output_dir={out}", *extra])


def tiny(conll: Path, model: Path, out: Path, *extra: str):
    return load_recipe(REFERENCE, [f"model.name_or_path={model}", f"data.dir={conll}", "data.dev=null",
                                   "data.limit={train: 2, test: 3}", "trainer.options.max_steps=1", *TINY, f"output_dir={out}", *extra])


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def entries(tmp_path: Path) -> Path:
    path = tmp_path / "names.json"
    path.write_text(json.dumps(NAMES), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(conll: Path, tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished LoRA run on the tiny model: one training step, three test sentences predicted."""
    out = tmp_path_factory.mktemp("trained") / "run"
    run(tiny(conll, tiny_qwen2_dir, out), log=silent)
    return out


def test_1_a_run_whose_training_has_not_finished_tags_nothing(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    """Item 1: no model/trained.json (only checkpoints, or nothing) is an error everywhere, never the base model."""
    folder = tmp_path / "copied"
    RunFolder(folder).write_recipe(tiny(conll, tiny_qwen2_dir, tmp_path / "elsewhere"))  # the recipe alone, as copied
    for checkpoints in (False, True):
        if checkpoints:
            (folder / "model" / "checkpoints" / "checkpoint-1").mkdir(parents=True)
        result = CliRunner().invoke(cli, ["predict", str(folder)], input="Japan won.\n")
        assert result.exit_code == 1 and "training has not finished" in result.output, result.output
        assert "Traceback" not in result.output and result.output.count("\n") == 1
        with pytest.raises(RunFolderError, match="training has not finished"):
            Tagger.load(folder)
        result = CliRunner().invoke(cli, ["serve", str(folder), "--port", "1"])
        assert result.exit_code == 1 and "training has not finished" in result.output
        with pytest.raises(RunFolderError, match="training has not finished"):
            spacy.blank("en").add_pipe("ner_toolkit", config={"model": str(folder)})
        result = CliRunner().invoke(cli, ["export", str(folder), str(tmp_path / f"export-{checkpoints}")])
        assert result.exit_code == 1 and "training has not finished" in result.output


def test_2_an_option_that_cannot_change_the_model_keeps_it(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    """Item 2: logging, saving and thread options redo nothing; a real change with a bad data file deletes nothing."""
    out = tmp_path / "run"
    run(tiny(conll, tiny_qwen2_dir, out), log=silent)
    before = files(out)
    lines: list[str] = []
    quiet = ["trainer.options.logging_steps=1", "trainer.options.save_steps=3", "trainer.options.save_total_limit=5",
             "trainer.options.report_to=[]", "trainer.options.threads=2"]
    run(tiny(conll, tiny_qwen2_dir, out, *quiet), log=lines.append)
    assert not [line for line in lines if "redo" in line or "removing" in line], lines
    assert "train: done already" in " ".join(lines)
    assert {k: v for k, v in files(out).items() if k.startswith(("model/", "predictions/", "metrics/"))} == {
        k: v for k, v in before.items() if k.startswith(("model/", "predictions/", "metrics/"))
    }

    bad = tmp_path / "bad.conll"
    bad.write_text("EU B-ORG I-ORG X\nrejects\n", encoding="utf-8")
    with pytest.raises(ValueError):
        run(tiny(conll, tiny_qwen2_dir, out, "trainer.options.learning_rate=0.001", f"data.test={bad}"), log=silent)
    assert (out / "model" / "trained.json").is_file() and (out / "model" / "adapter" / "adapter_model.safetensors").is_file()


def test_3_a_failed_rerun_changes_nothing_in_the_folder(conll: Path, entries: Path, tmp_path: Path) -> None:
    """Item 3: the recipe, stage record and files change together or not at all."""
    out = tmp_path / "run"
    run(gazetteer(conll, entries, out), log=silent)
    before = files(out)
    bad = tmp_path / "bad.conll"
    bad.write_text("EU B-ORG I-ORG X\nrejects\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.conll"):
        run(gazetteer(conll, entries, out, "format.name=xml", f"data.test={bad}"), log=silent)
    assert files(out) == before
    assert Tagger.load(out).formatter.name == "bracketed"


def test_4_a_rerun_without_training_tags_with_the_base_model_everywhere(
    conll: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    """Item 4: trainer: null means the base model for Tagger, predict and export; the adapter stays on disk."""
    out = tmp_path / "run"
    run(tiny(conll, tiny_qwen2_dir, out), log=silent)
    assert Tagger.load(out).predictor.adapter == out / "model" / "adapter"
    run(tiny(conll, tiny_qwen2_dir, out, "trainer=null"), log=silent)
    assert Tagger.load(out).predictor.adapter is None
    result = CliRunner().invoke(cli, ["export", str(out), str(tmp_path / "exported")])
    assert result.exit_code == 1 and "trains no model" in result.output
    assert (out / "model" / "adapter" / "adapter_model.safetensors").is_file()
    lines: list[str] = []
    run(tiny(conll, tiny_qwen2_dir, out), log=lines.append)  # training again under the same inputs finds its model
    assert "train: done already" in " ".join(lines) and Tagger.load(out).predictor.adapter == out / "model" / "adapter"


def test_4_a_moved_run_with_relative_paths_reruns_in_its_new_place(
    conll: Path, trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 4: relative paths in a recipe are written absolute; a run folder's recipe.yaml runs into the folder it is in."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "names.json").write_text(json.dumps(NAMES), encoding="utf-8")
    monkeypatch.chdir(project)
    data = os.path.relpath(conll, project)
    recipe = load_recipe(REFERENCE, [f"data.dir={data}", "data.train=null", "data.limit={dev: 2, test: 3}", "trainer=null",
                                     "predictor={name: gazetteer, options: {entries: names.json}}", "output_dir=runs/a"])
    first = run(recipe, log=silent)
    written = (project / "runs" / "a" / "recipe.yaml").read_text()
    assert f"entries: {project / 'names.json'}" in written and f"output_dir: {project / 'runs' / 'a'}" in written
    assert f"dir: {os.path.abspath(project / data)}" in written

    moved = tmp_path / "moved"
    shutil.move(project / "runs" / "a", moved)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    lines: list[str] = []
    again = run(load_recipe(moved / "recipe.yaml"), log=lines.append)
    assert again == first and not [line for line in lines if "redo" in line], lines
    assert not (project / "runs" / "a").exists()
    assert [e.text for e in Tagger.load(moved)("Japan won.")] == ["Japan"]

    copied = tmp_path / "copied-trained"
    shutil.copytree(trained, copied)
    lines = []
    run(load_recipe(copied / "recipe.yaml"), log=lines.append)
    assert not [line for line in lines if "redo" in line] and "train: done already" in " ".join(lines), lines
    assert Tagger.load(copied).predictor.adapter == copied / "model" / "adapter"


def test_5_the_tagger_decodes_as_the_run_was_scored(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    """Item 5: a run without a decoding mode was scored with plain decoding; its Tagger answers what its predictions hold."""
    out = tmp_path / "run"
    run(tiny(conll, tiny_qwen2_dir, out, "trainer=null", "data.train=null"), log=silent)
    tagger = Tagger.load(out)
    assert tagger.predictor.options.decoding == "plain" and not tagger.predictor.options.prefix_cache
    assert Tagger.load(out, decoding="speculative").predictor.options.decoding == "speculative"  # unless asked otherwise
    scored = [json.loads(line)["output"] for line in (out / "predictions" / "test.jsonl").read_text().splitlines()]
    sentences = read_conll(conll / "eng.testb")[:3]
    with tagger:
        assert [p.output for p in tagger.tag_tokens([s.tokens for s in sentences])] == scored


def test_6_editing_a_file_an_option_names_redoes_what_it_reaches(conll: Path, entries: Path, tmp_path: Path) -> None:
    """Item 6: files named by options (typed Path) are inputs by content: edited, the rerun redoes; moved, it does not."""
    out = tmp_path / "run"
    first = run(gazetteer(conll, entries, out), log=silent)
    moved = tmp_path / "moved-names.json"
    shutil.copy(entries, moved)
    lines: list[str] = []
    assert run(gazetteer(conll, moved, out), log=lines.append) == first
    assert not [line for line in lines if "redo" in line], lines

    moved.write_text(json.dumps({"Japan": "LOC"}), encoding="utf-8")
    lines = []
    again = run(gazetteer(conll, moved, out), log=lines.append)
    redone = [line.split(": redo")[0] for line in lines if ": redo (changed: predictor.options.entries" in line]
    assert redone == ["predict:dev", "predict:test"], lines
    assert again != first and again == run(gazetteer(conll, moved, tmp_path / "fresh"), log=silent)


def test_6_a_torn_last_checkpoint_resumes_from_the_one_before(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    """Item 6: a checkpoint with a truncated file is passed over, with a warning naming it."""
    out = tmp_path / "run"
    steps = ["trainer.options.max_steps=2", "trainer.options.save_steps=1", "trainer.options.save_total_limit=null", "predictor=null"]
    run(tiny(conll, tiny_qwen2_dir, out, *steps), log=silent)
    (out / "model" / "trained.json").unlink()  # as if killed while saving the second checkpoint
    shutil.rmtree(out / "model" / "adapter")
    weights = out / "model" / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.warns(UserWarning, match="checkpoint-2: adapter_model.safetensors is shorter than its header says"):
        run(tiny(conll, tiny_qwen2_dir, out, *steps), log=silent)
    assert json.loads((out / "model" / "trained.json").read_text())["path"] == "model/adapter"
    state = json.loads((out / "model" / "checkpoints" / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
