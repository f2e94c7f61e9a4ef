"""A wrong model argument, device, run record or recipe is one line at load, not a traceback on the first text.

Each command exits non-zero with a single line naming what is wrong; the Python API
raises the same message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
from click.testing import CliRunner

from ner_toolkit import Tagger
from ner_toolkit.cli import cli
from ner_toolkit.run.folder import RunFolder
from ner_toolkit.run.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"


def one_line_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, args, input="Japan won.\n")
    assert result.exit_code == 1, result.output
    assert message in result.output and result.output.strip().count("\n") == 0, result.output


@pytest.fixture(params=["missing", "empty folder", "a file"])
def not_a_model(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "runs" / "nope"
    if request.param == "empty folder":
        path.mkdir(parents=True)
    elif request.param == "a file":
        path.parent.mkdir(parents=True)
        path.write_text("x", encoding="utf-8")
    return path


def test_a_missing_or_non_run_folder_is_no_such_run_or_model_at_load(not_a_model: Path) -> None:
    one_line_error(["predict", str(not_a_model)], "no such run or model")
    one_line_error(["serve", str(not_a_model)], "no such run or model")
    with pytest.raises(ValueError, match="no such run or model"):
        Tagger.load(not_a_model)
    with pytest.raises(ValueError, match="no such run or model"):
        spacy.blank("en").add_pipe("ner_toolkit", config={"model": str(not_a_model)})


def test_an_unknown_device_is_one_line(tiny_qwen2_dir: Path) -> None:
    one_line_error(["predict", str(tiny_qwen2_dir), "--format", "bracketed", "--labels", "conll2003", "--device", "nope"],
                   "predictor transformers: option device: Value error, 'nope' is not a device")


def test_a_trained_json_without_path_is_one_line(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    RunFolder(folder).write_recipe(load_recipe(REFERENCE, [f"model.name_or_path={tiny_qwen2_dir}", f"data.dir={conll}"]))
    (folder / "model").mkdir()
    (folder / "model" / "trained.json").write_text(json.dumps({"seconds": 3.0}), encoding="utf-8")
    one_line_error(["predict", str(folder)], "trained.json: not a record of a finished training")
    one_line_error(["export", str(folder), str(tmp_path / "out")], "trained.json: not a record of a finished training")


@pytest.mark.parametrize(
    ("text", "message"),
    [("data: [unclosed\n", "not a run's recipe: not valid YAML (line 2)"),
     ("data: {}\nlabels: 7\n", "not a run's recipe: labels: Input should be a valid list")],
)
def test_a_broken_recipe_yaml_is_one_line_in_export_and_predict(tmp_path: Path, text: str, message: str) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "recipe.yaml").write_text(text, encoding="utf-8")
    one_line_error(["export", str(folder), str(tmp_path / "out")], message)
    one_line_error(["predict", str(folder)], message)
