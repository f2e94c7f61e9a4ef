"""The command line as a user meets it: render with a built-in and a third-party format, errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ner_toolkit.cli import cli

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = str(REPO / "recipes" / "quickstart.yaml")


def render(conll: Path, tmp_path: Path, *overrides: str):
    args = ["render", QUICKSTART, "-o", str(tmp_path), "--set", f"data.dir={conll}", "--set", "data.limit={train: 3, dev: 2, test: 2}"]
    for override in overrides:
        args += ["--set", override]
    return CliRunner().invoke(cli, args)


def test_render_writes_alpaca_json_for_every_split(conll: Path, tmp_path: Path) -> None:
    result = render(conll, tmp_path)
    assert result.exit_code == 0, result.output
    assert "train: 3 examples" in result.output
    train = json.loads((tmp_path / "train.json").read_text())
    assert train[0]["input"] == "EU rejects German call to boycott British lamb ."
    assert train[0]["output"] == "[EU | ORG] rejects [German | MISC] call to boycott [British | MISC] lamb ."
    assert train[0]["instruction"].startswith("Your task is to identify all named entities in the input sentence")
    assert len(json.loads((tmp_path / "test.json").read_text())) == 2


def test_the_reference_instruction_is_rendered_from_the_label_set(conll: Path, tmp_path: Path) -> None:
    reference = str(REPO / "recipes" / "qwen2.5-7b-conll2003.yaml")
    args = ["render", reference, "-o", str(tmp_path), "--set", f"data.dir={conll}", "--set", "data.limit={train: 1, dev: 1, test: 1}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    instruction = json.loads((tmp_path / "test.json").read_text())[0]["instruction"]
    assert instruction.startswith(
        "Your task is to identify all named entities in the input sentence and rewrite the sentence by enclosing "
        "each entity using the format [Entity Text | LABEL]. Use only the label tags defined in the Label Set below.\n"
        "Label Set:\nORG(organization): A collective entity"
    )
    assert instruction.endswith("and types of objects.\nNow process the input sentence:")


def test_a_third_party_format_is_used_by_name(conll: Path, tmp_path: Path) -> None:
    result = render(conll, tmp_path, "format={name: slash-tags}", "predictor.options.decoding=plain")
    assert result.exit_code == 0, result.output
    train = json.loads((tmp_path / "train.json").read_text())
    assert train[0]["output"] == "EU/B-ORG rejects/O German/B-MISC call/O to/O boycott/O British/B-MISC lamb/O ./O"
    assert train[0]["instruction"].startswith("Your task is to identify all named entities in the input sentence and "
                                              "rewrite the sentence with each word followed by a slash")


def test_recipe_errors_name_the_file_and_field_and_stop_before_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", QUICKSTART, "--set", "trainer.options.lora_rnak=8",
                                      "--set", f"output_dir={tmp_path / 'never'}"])
    assert result.exit_code == 1
    assert f"{QUICKSTART}: trainer.options.lora_rnak: unknown option; SFTLoRATrainer accepts:" in result.output
    assert not (tmp_path / "never").exists()


def test_a_malformed_data_file_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "data"
    bad.mkdir()
    (bad / "eng.train").write_text("EU I-ORG\nrejects O\n\nGerman Q-MISC\n")
    result = CliRunner().invoke(cli, ["render", QUICKSTART, "-o", str(tmp_path / "out"), "--set", f"data.dir={bad}",
                                      "--set", "data.dev=null", "--set", "data.test=null"])
    assert result.exit_code == 1
    assert "eng.train:4:" in result.output


def test_constrained_decoding_with_a_json_format_is_refused_before_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", QUICKSTART, "--set", "format.name=json-grouped",
                                      "--set", "predictor.options.decoding=speculative",
                                      "--set", f"output_dir={tmp_path / 'never'}"])
    assert result.exit_code == 1
    assert (f"{QUICKSTART}: predictor.options.decoding: speculative decoding needs an inline format "
            "(bracketed, xml), not 'json-grouped'") in result.output
    assert not (tmp_path / "never").exists()


def test_debug_keeps_the_traceback_that_an_error_line_hides(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "bad.conll"
    data.write_text("EU NNP I-NP I-ORG\nrejects VBZ\n", encoding="utf-8")
    args = ["render", QUICKSTART, "--set", f"data.dir={tmp_path}", "--set", "data.train=bad.conll", "--set", "data.dev=null",
            "--set", "data.test=null", "-o", str(tmp_path / "out")]
    plain = subprocess.run([sys.executable, "-m", "ner_toolkit", *args], capture_output=True, text=True)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert "bad.conll:2:" in plain.stderr.strip().splitlines()[-1]
    debug = subprocess.run([sys.executable, "-m", "ner_toolkit", "--debug", *args], capture_output=True, text=True)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr and "CoNLLFormatError" in debug.stderr
