"""`predict --resume` continues only its own output, made from the same input, model and settings (items 7 and 8).

The runs predict with the example plugin's gazetteer, so every answer is known and fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit.cli import cli
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"
DOCUMENTS = ["Japan won.", "Essex lost.", "Japan won again."]


def gazetteer_run(folder: Path, names: dict[str, str]) -> Path:
    entries = folder / "names.json"
    folder.mkdir(parents=True, exist_ok=True)
    entries.write_text(json.dumps(names), encoding="utf-8")
    recipe = load_recipe(REFERENCE, ["data.train=null", "data.dev=null", "data.test=null", "trainer=null",
                                     f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}", f"output_dir={folder / 'run'}"])
    run(recipe, log=lambda message: None)
    return folder / "run"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return gazetteer_run(tmp_path / "a", {"Japan": "LOC", "Essex": "ORG"})


def predict(*args: object):
    return CliRunner().invoke(cli, ["predict", *map(str, args)])


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def keep_first(path: Path, count: int, torn: bool = False) -> None:
    """Cut an output to its first ``count`` records, as a killed run leaves it (with half a record after, if ``torn``)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:count]) + (lines[count][:9] if torn else ""), encoding="utf-8")


def begun(model: Path, tmp_path: Path, kept: int) -> tuple[Path, Path]:
    """An input of DOCUMENTS and an output of it cut to its first ``kept`` records, as a killed `predict` leaves it."""
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(DOCUMENTS) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert predict(model, "-i", source, "-o", out).exit_code == 0
    keep_first(out, kept)
    return source, out


def test_7_resume_touches_no_file_that_is_not_its_own_output(model: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nnot an output of predict", encoding="utf-8")
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(DOCUMENTS) + "\n", encoding="utf-8")
    result = predict(model, "-i", source, "-o", notes, "--resume")
    assert result.exit_code == 1 and "not written by `ner-toolkit predict`" in result.output, result.output
    assert notes.read_text(encoding="utf-8") == "# Notes\n\nnot an output of predict"

    result = predict(model, "-i", source, "-o", source, "--resume")
    assert result.exit_code == 1 and "is the input file" in result.output
    assert source.read_text(encoding="utf-8") == "\n".join(DOCUMENTS) + "\n"


def test_8_duplicate_ids_are_resumed_by_position(model: Path, tmp_path: Path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": "x", "text": text}) + "\n" for text in DOCUMENTS), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert predict(model, "-i", source, "--input-format", "jsonl", "-o", out).exit_code == 0
    whole = records(out)
    keep_first(out, 1, torn=True)
    result = predict(model, "-i", source, "--input-format", "jsonl", "-o", out, "--resume")
    assert result.exit_code == 0 and "tagged 2 documents (1 already done)" in result.output, result.output
    assert records(out) == whole and [r["text"] for r in whole] == DOCUMENTS


def test_8_an_edited_input_or_another_model_is_refused_and_a_grown_input_continued(model: Path, tmp_path: Path) -> None:
    source, out = begun(model, tmp_path, kept=2)
    kept = out.read_bytes()

    source.write_text("Syria won.\n" + "\n".join(DOCUMENTS[1:]) + "\n", encoding="utf-8")
    result = predict(model, "-i", source, "-o", out, "--resume")
    assert result.exit_code == 1 and "made from another input" in result.output, result.output
    source.write_text("\n".join(DOCUMENTS) + "\n", encoding="utf-8")

    other = gazetteer_run(tmp_path / "b", {"Japan": "ORG"})
    result = predict(other, "-i", source, "-o", out, "--resume")
    assert result.exit_code == 1 and "made from another predictor.options.entries" in result.output, result.output
    result = predict(model, "-i", source, "-o", out, "--resume", "--max-tokens", "3")
    assert result.exit_code == 1 and "made from another max_tokens" in result.output
    assert out.read_bytes() == kept

    source.write_text("\n".join(DOCUMENTS) + "\nEssex won.\n", encoding="utf-8")  # grown by a line: the same documents first
    result = predict(model, "-i", source, "-o", out, "--resume")
    assert result.exit_code == 0 and "tagged 2 documents (2 already done)" in result.output, result.output
    assert [r["text"] for r in records(out)] == [*DOCUMENTS, "Essex won."]


def test_8_the_input_is_known_by_its_contents_not_how_its_path_is_spelled(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(DOCUMENTS) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert predict(model, "-i", source.absolute(), "-o", out).exit_code == 0
    assert [r["id"] for r in records(out)] == ["docs.txt:1", "docs.txt:2", "docs.txt:3"]
    keep_first(out, 1)
    monkeypatch.chdir(tmp_path)
    result = predict(model, "-i", "docs.txt", "-o", "out.jsonl", "--resume")
    assert result.exit_code == 0 and "(1 already done)" in result.output, result.output
    assert [r["id"] for r in records(out)] == ["docs.txt:1", "docs.txt:2", "docs.txt:3"]


def test_resume_against_an_output_that_is_not_jsonl_names_the_file_and_line(model: Path, tmp_path: Path) -> None:
    source, out = begun(model, tmp_path, kept=1)
    with out.open("a", encoding="utf-8") as handle:
        handle.write("<html>not a record</html>\n")
    kept = out.read_bytes()
    result = predict(model, "-i", source, "-o", out, "--resume")
    assert result.exit_code == 1 and f"{out}:2: not a record of `ner-toolkit predict`" in result.output, result.output
    assert "Traceback" not in result.output and out.read_bytes() == kept
