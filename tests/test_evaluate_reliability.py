"""`evaluate` and the run's reports cannot flatter or corrupt: loud warnings, refused inputs, consistent files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ner_toolkit import Prediction, Scorer, Sentence
from ner_toolkit.cli import cli
from ner_toolkit.run.evaluate import write_reports
from ner_toolkit.run.manifest import manifest
from ner_toolkit.run.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
CONLL = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
"""
RIGHT = ["[EU | ORG] rejects [German | MISC] call", "[Peter Blackburn | PER]"]


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    path = tmp_path / "gold.conll"
    path.write_text(CONLL, encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def evaluate(*args: object):
    return CliRunner().invoke(cli, ["evaluate", *map(str, args)])


@pytest.mark.parametrize(("value", "shown"), [(None, "null"), (123, "123"), (["a"], '["a"]'), ({"x": 1}, '{"x": 1}')])
def test_an_output_that_is_not_a_string_is_an_error_naming_its_line(tmp_path: Path, gold: Path, value: object, shown: str) -> None:
    preds = write_jsonl(tmp_path / "p.jsonl", [{"output": RIGHT[0]}, {"output": value}])
    result = evaluate(preds, "--gold", gold)
    assert result.exit_code == 1
    assert f"p.jsonl:2: 'output' must be a string, not {shown}" in result.output
    assert not (tmp_path / "p.eval").exists()


def test_outputs_read_with_the_wrong_format_are_a_loud_warning_and_a_failing_exit(tmp_path: Path, gold: Path) -> None:
    preds = write_jsonl(tmp_path / "p.jsonl", [{"output": o} for o in RIGHT])
    result = evaluate(preds, "--gold", gold, "--format", "json-grouped", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "warning: 2 of 2 outputs (100%) could not be read" in result.output
    assert "over --max-unparsed 0.5" in result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())  # written all the same: nothing is lost
    assert metrics["counts"]["unparsed_outputs"] == 2 and metrics["warnings"][0].startswith("2 of 2 outputs (100%)")
    assert "> **Warning:** 2 of 2 outputs (100%) could not be read" in (tmp_path / "out" / "report.md").read_text()
    assert evaluate(preds, "--gold", gold, "--format", "json-grouped", "--max-unparsed", "1").exit_code == 0
    clean = evaluate(preds, "--gold", gold, "-o", tmp_path / "clean")
    assert clean.exit_code == 0 and "warning" not in clean.output
    assert json.loads((tmp_path / "clean" / "metrics.json").read_text())["warnings"] == []


def test_a_llamafactory_file_out_of_gold_order_is_a_warning_in_the_report(tmp_path: Path, gold: Path) -> None:
    records = [{"prompt": "...", "predict": o, "label": t} for o, t in zip(RIGHT, reversed(RIGHT))]
    result = evaluate(write_jsonl(tmp_path / "generated_predictions.jsonl", records), "--gold", gold, "-o", tmp_path / "out")
    assert result.exit_code == 1 and "2 of 2 reference targets ('label') differ from the gold" in result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["counts"]["reference_mismatches"] == 2 and "is the file in gold order?" in metrics["warnings"][0]


def test_evaluate_never_writes_over_its_own_input(tmp_path: Path, gold: Path) -> None:
    preds = write_jsonl(tmp_path / "predictions.jsonl", [{"output": o} for o in RIGHT])
    before = preds.read_text()
    result = evaluate(preds, "--gold", gold, "-o", tmp_path)
    assert result.exit_code == 1 and f"{preds} is the outputs file and would be overwritten by predictions.jsonl" in result.output
    assert preds.read_text() == before and not (tmp_path / "metrics.json").exists()


def test_a_count_mismatch_from_the_recipes_limit_is_explained(tmp_path: Path, gold: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"data: {{dir: {tmp_path}, test: gold.conll, limit: {{test: 1}}}}\nscorers: [seqeval]\n", encoding="utf-8")
    result = evaluate(write_jsonl(tmp_path / "p.jsonl", RIGHT), "--recipe", recipe)
    assert result.exit_code == 1
    assert "2 outputs for 1 gold sentences (the recipe's data.limit keeps only the first 1 gold sentences)" in result.output


class BrokenReport(Scorer):
    """A scorer whose report section fails, as a buggy third-party scorer would."""

    name = "broken-report"

    def score(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        return {"n": len(predictions)}

    def markdown(self, result: dict[str, Any]) -> str:
        raise RuntimeError("report section failed")


def test_a_report_that_fails_half_way_leaves_no_metrics_beside_older_reports(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    results: dict[str, Any] = {"counts": {"sentences": 0, "tokens": 0, "gold_entities": {}, "predicted_entities": {},
                                          "sentences_with_diagnostics": 0, "diagnostics": {}}, "warnings": []}
    write_reports(folder, "old", [], results, [])
    assert (folder / "metrics.json").exists()
    with pytest.raises(RuntimeError, match="report section failed"):
        write_reports(folder, "new", [BrokenReport([])], {**results, "broken-report": {"n": 0}}, [])
    assert not (folder / "metrics.json").exists()  # the old report.md stays, but no metrics claim to match it
    assert not list(folder.glob(".*.tmp"))


def test_the_manifest_names_every_plugin_and_no_foreign_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a working directory that is not the toolkit's checkout
    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml", ["data.dir=/nowhere"])
    found = manifest(recipe)
    plugins = {(p["kind"], p["name"]): p["distribution"] for p in found["plugins"]}
    assert plugins[("format", "slash-tags")].startswith("ner-toolkit-example-format ")  # third-party plugins too
    assert plugins[("reader", "conll")].startswith("ner-toolkit-core ")
    assert "git_commit" not in found
    commit = found["toolkit_commit"]
    assert commit is None or len(commit) == 40
