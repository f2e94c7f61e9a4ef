"""``ner-toolkit evaluate`` (core's ``evaluate`` command) on outputs files in each layout, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import plugins, read_conll
from ner_toolkit.cli import evaluate

CONLL = """-DOCSTART- -X- O O

EU NNP I-NC I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP I-NP I-LOC
"""
# the slash-tags rendering (test plugin format) of the three sentences, one with an error
OUTPUTS = [
    "EU/B-ORG rejects/O German/B-MISC call/O",
    "Peter/B-PER Blackburn/I-PER",
    "BRUSSELS/B-ORG",
]


@pytest.fixture(autouse=True)
def known_plugins(monkeypatch):
    """Only the metrics and the test format: the real formats are another package's business."""
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "ner-toolkit-metrics,ner-toolkit-example-format")
    yield


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    path = tmp_path / "gold.conll"
    path.write_text(CONLL, encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(evaluate, [*map(str, args)], catch_exceptions=False)


def test_outputs_in_file_order(tmp_path, gold):
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"output": o} for o in OUTPUTS])
    result = run(preds, "--gold", gold, "--format", "slash-tags", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "seqeval strict micro: P 0.7500 R 0.7500 F1 0.7500" in result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["counts"]["sentences"] == 3 and metrics["counts"]["gold_entities"] == {"LOC": 1, "MISC": 1, "ORG": 1, "PER": 1}
    assert metrics["errors"]["confusion"]["LOC"]["ORG"] == 1
    assert set(metrics) == {"counts", "warnings", "seqeval", "nervaluate", "paper", "errors", "calibration"} and metrics["warnings"] == []
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| **micro avg** | 0.7500 | 0.7500 | 0.7500 | 4 |" in report and "strict (exact boundaries and type)" in report
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<table>" in page
    assert len((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()) == 3


def test_outputs_by_id_in_any_order(tmp_path, gold):
    ids = [s.id for s in read_conll(gold)]
    assert ids == ["gold.conll:3", "gold.conll:8", "gold.conll:11"]
    records = [{"id": i, "output": o} for i, o in zip(ids, OUTPUTS)][::-1]
    result = run(write_jsonl(tmp_path / "p.jsonl", records), "--gold", gold, "--format", "slash-tags", "--no-html")
    assert result.exit_code == 0, result.output
    assert "F1 0.7500" in result.output
    assert (tmp_path / "p.eval" / "metrics.json").exists() and not (tmp_path / "p.eval" / "report.html").exists()


def test_llamafactory_layout(tmp_path, gold):
    records = [{"prompt": "...", "predict": o, "label": o} for o in OUTPUTS]
    records[2]["label"] = "BRUSSELS/B-LOC"
    result = run(write_jsonl(tmp_path / "generated_predictions.jsonl", records), "--gold", gold, "--format", "slash-tags")
    assert result.exit_code == 0, result.output
    assert "F1 0.7500" in result.output
    # labels 1 and 2 match the gold, 3 does not (it is the model's error copied here)
    records = [{"prompt": "...", "predict": o, "label": o} for o in OUTPUTS]
    result = run(write_jsonl(tmp_path / "generated_predictions.jsonl", records), "--gold", gold, "--format", "slash-tags")
    assert "warning: 1 of 3 reference targets" in result.output and "generated_predictions.jsonl:3" in result.output


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([{"output": "a"}, {"output": "b"}], "preds.jsonl: 2 outputs for 3 gold sentences"),
        ([{"output": "a", "id": "gold.conll:3"}, {"output": "b", "id": "gold.conll:999"}],
         "preds.jsonl:2: unknown id 'gold.conll:999' (gold ids look like 'gold.conll:3')"),
        ([{"output": "a", "id": "gold.conll:3"}, {"output": "b", "id": "gold.conll:3"}],
         "preds.jsonl:2: id 'gold.conll:3' again (first on line 1)"),
        ([{"output": "a", "id": "gold.conll:3"}, {"output": "b"}], "preds.jsonl:2: output without an id"),
        ([{"output": "a", "id": "gold.conll:3"}], "preds.jsonl: no output for 2 of 3 gold sentences, e.g. 'gold.conll:8'"),
        ([{"text": "a"}], "preds.jsonl:1: expected an object with 'output'"),
        (["a", "b", "c", "d"], "preds.jsonl: 4 outputs for 3 gold sentences (if the outputs include -DOCSTART- lines, try --docstart keep)"),
    ],
)
def test_errors_name_file_and_line(tmp_path, gold, lines, message):
    preds = write_jsonl(tmp_path / "preds.jsonl", lines)
    result = run(preds, "--gold", gold, "--format", "slash-tags")
    assert result.exit_code == 1
    assert message in result.output


def test_not_json(tmp_path, gold):
    preds = tmp_path / "preds.jsonl"
    preds.write_text('{"output": "a"}\n{oops\n', encoding="utf-8")
    result = run(preds, "--gold", gold, "--format", "slash-tags")
    assert result.exit_code == 1 and f"{preds}:2: not JSON" in result.output


def test_wrong_layout_flag(tmp_path, gold):
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"output": o} for o in OUTPUTS])
    result = run(preds, "--gold", gold, "--format", "slash-tags", "--layout", "llamafactory")
    assert result.exit_code == 1 and "preds.jsonl:1: expected an object with 'predict'" in result.output


def test_docstart_keep_counts_docstart_lines(tmp_path, gold):
    preds = write_jsonl(tmp_path / "preds.jsonl", ["-DOCSTART-/O", *OUTPUTS])
    result = run(preds, "--gold", gold, "--format", "slash-tags", "--docstart", "keep", "--scorer", "seqeval")
    assert result.exit_code == 0, result.output
    assert "F1 0.7500" in result.output and "nervaluate" not in result.output


def test_unknown_format_lists_the_available(tmp_path, gold):
    preds = write_jsonl(tmp_path / "preds.jsonl", OUTPUTS)
    result = run(preds, "--gold", gold, "--format", "nope")
    assert result.exit_code == 1 and "unknown format 'nope'; available: " in result.output
    available = result.output.split("available: ", 1)[1].split("\n", 1)[0].split(", ")
    assert "slash-tags" in available  # the formats the test loads (other test plugins may add theirs)


def test_recipe_gives_format_labels_scorers_and_gold(tmp_path, gold):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"data: {{dir: {tmp_path}, test: gold.conll}}\n"
        "labels: [{name: PER}, {name: LOC}]\n"
        "format: {name: slash-tags}\n"
        "scorers: [seqeval, {name: nervaluate, options: {unknown_labels: ignore}}]\n",
        encoding="utf-8",
    )
    # with PER and LOC only, the outputs' ORG and MISC spans are unknown labels; the gold ORG/MISC are not scored
    preds = write_jsonl(tmp_path / "preds.jsonl", OUTPUTS)
    result = run(preds, "--recipe", recipe, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics) == {"counts", "warnings", "seqeval", "nervaluate"}
    assert metrics["seqeval"]["gold_outside_labels"] == {"MISC": 1, "ORG": 1}
    assert metrics["nervaluate"]["overall"]["strict"]["actual"] == 1  # PER only; the ORG prediction is ignored

    # flags override the recipe's data settings: with -DOCSTART- kept, 3 outputs are too few
    result = run(preds, "--recipe", recipe, "--docstart", "keep")
    assert result.exit_code == 1 and "3 outputs for 4 gold sentences (the gold counts -DOCSTART-" in result.output


def test_eng_testb_gold_outputs_score_one(conll, tmp_path):
    from ner_toolkit import spans_to_tags

    gold = read_conll(conll / "eng.testb")
    records = [{"id": s.id, "output": " ".join(f"{t}/{g}" for t, g in zip(s.tokens, spans_to_tags(s.spans, len(s.tokens))))}
               for s in gold]
    preds = write_jsonl(tmp_path / "preds.jsonl", records)
    result = run(preds, "--gold", conll / "eng.testb", "--format", "slash-tags", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "seqeval strict micro: P 1.0000 R 1.0000 F1 1.0000" in result.output
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["counts"]["sentences"] == 3453


@pytest.fixture
def bracketed(monkeypatch):
    """The reference format from ner-toolkit-formats, when that package provides it."""
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "ner-toolkit-metrics,ner-toolkit-formats")
    try:
        plugins.get_formatter("bracketed")
    except plugins.PluginError as error:
        pytest.skip(f"bracketed format not available: {error}")


def test_llamafactory_bracketed_outputs(tmp_path, gold, bracketed):
    outputs = [
        "[EU | ORG] rejects [German | MISC] call",
        "[Peter Blackburn | PER]\nanything after the first newline is ignored",
        "[BRUSELS | LOC]",  # mis-copied: compared by text in the paper scorer, and wrong there too
    ]
    targets = ["[EU | ORG] rejects [German | MISC] call", "[Peter Blackburn | PER]", "[BRUSSELS | LOC]"]
    records = [{"prompt": "...", "predict": o, "label": t} for o, t in zip(outputs, targets)]
    result = run(write_jsonl(tmp_path / "generated_predictions.jsonl", records), "--gold", gold, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["seqeval"]["micro"]["recall"] == pytest.approx(3 / 4)
    assert metrics["paper"]["sentences_matched_by_text"] == 1
    assert (metrics["paper"]["micro"]["tp"], metrics["paper"]["micro"]["predicted"]) == (3, 4)
    assert metrics["errors"]["parse"]["sentences_not_copied"] == 1
    assert metrics["counts"]["sentences_with_diagnostics"] >= 1
