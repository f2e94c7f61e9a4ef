"""The three extension points as a third party uses them, and the seams behind them.

- a reader (``enamex``, in the example plugin package) feeds a run and ``stats``;
- an inline format (``curly``, ditto) gets constrained and speculative decoding from its
  declared ``inline_markup`` alone, with no code in the trainers package;
- a predictor is opened once per run; options it would ignore are warned about;
- every launch line written in the README and the recipes starts the command line.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import plugins
from ner_toolkit.cli import cli
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe, validate_components

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"
ENAMEX = """\
<ORG>EU</ORG> rejects <MISC>German</MISC> call to boycott <MISC>British</MISC> lamb .
<PER>Peter Blackburn</PER>
<LOC>BRUSSELS</LOC> 1996-08-22
"""


def predict_only(model: Path, output: Path, *extra: str) -> list[str]:
    return [
        f"model.name_or_path={model}", "data.train=null", "data.dev=null", "trainer=null",
        "predictor.options.batch_size=2", "predictor.options.progress=false", "predictor.options.threads=1",
        f"output_dir={output}", *extra,
    ]


def test_a_third_party_reader_feeds_a_run_and_stats(tmp_path: Path) -> None:
    (tmp_path / "news.txt").write_text(ENAMEX, encoding="utf-8")
    recipe = load_recipe(REFERENCE, [f"data.dir={tmp_path}", "data.reader=enamex", "data.train=news.txt", "data.dev=null",
                                     "data.test=null", "trainer=null", "predictor=null", f"output_dir={tmp_path / 'run'}"])
    validate_components(recipe, str(REFERENCE))
    run(recipe, log=lambda message: None)
    train = json.loads((tmp_path / "run" / "data" / "train.json").read_text())
    assert [example["output"] for example in train] == [
        "[EU | ORG] rejects [German | MISC] call to boycott [British | MISC] lamb .",
        "[Peter Blackburn | PER]",
        "[BRUSSELS | LOC] 1996-08-22",
    ]
    result = CliRunner().invoke(cli, ["stats", "--reader", "enamex", str(tmp_path / "news.txt")])
    assert result.exit_code == 0, result.output
    assert "sentences  3" in result.output and "entities   5  LOC 1  MISC 2  ORG 1  PER 1" in result.output

    (tmp_path / "bad.txt").write_text("<PER>Peter Blackburn\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["stats", "--reader", "enamex", str(tmp_path / "bad.txt")])
    assert result.exit_code == 1 and "bad.txt:1: <PER> is never closed" in result.output


@pytest.mark.parametrize("decoding", ["constrained", "speculative"])
def test_a_third_party_inline_format_decodes_constrained_with_no_diagnostics(
    decoding: str, conll: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    overrides = predict_only(tiny_qwen2_dir, tmp_path / "run", f"data.dir={conll}", "data.limit={test: 4}",
                             "format={name: curly}", f"predictor.options.decoding={decoding}", "predictor.options.prefix_cache=true")
    recipe = load_recipe(REFERENCE, overrides)
    validate_components(recipe, str(REFERENCE))
    results = run(recipe, log=lambda message: None)
    records = [json.loads(line) for line in (tmp_path / "run" / "predictions" / "test.jsonl").read_text().splitlines()]
    assert len(records) == 4
    for record in records:
        assert record["diagnostics"] == [] and record["copied_input"], record
        assert re.fullmatch(r"[^{}]*(\{[^{}]+\}\((ORG|PER|LOC|MISC)\)[^{}]*)*", record["output"]), record["output"]
    assert results["test"]["counts"]["sentences_with_diagnostics"] == 0


def test_constrained_decoding_is_refused_for_a_format_without_inline_markup(tmp_path: Path) -> None:
    recipe = load_recipe(REFERENCE, ["format={name: slash-tags}", "predictor.options.decoding=speculative"])
    with pytest.raises(ValueError, match="predictor.options.decoding: speculative decoding needs an inline format"):
        validate_components(recipe, str(REFERENCE))


def test_the_predictor_is_loaded_once_for_every_split(
    conll: Path, tiny_qwen2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = plugins.get_predictor("transformers")
    opened: list[object] = []
    original = cls.open

    def counting_open(self) -> None:
        opened.append(self)
        original(self)

    monkeypatch.setattr(cls, "open", counting_open)
    overrides = predict_only(tiny_qwen2_dir, tmp_path / "run", f"data.dir={conll}", "data.dev=eng.testa",
                             "data.limit={dev: 2, test: 2}", "predictor.options.max_new_tokens=3")
    results = run(load_recipe(REFERENCE, overrides), log=lambda message: None)
    assert set(results) == {"dev", "test"}
    assert len({id(predictor) for predictor in opened}) == 1  # one predictor for both splits
    assert opened[0].loads == 1  # and its model was loaded once


def test_options_the_decoding_mode_ignores_are_warned_about() -> None:
    recipe = load_recipe(REFERENCE, ["predictor.options.decoding=speculative", "predictor.options.max_new_tokens=8"])
    assert validate_components(recipe, "r.yaml") == [
        "r.yaml: predictor.options.max_new_tokens: has no effect with decoding: speculative (the copy grammar bounds constrained outputs)"
    ]
    recipe = load_recipe(REFERENCE, ["predictor.options.draft_tokens=8"])
    assert validate_components(recipe, "r.yaml") == [
        "r.yaml: predictor.options.draft_tokens: has no effect with decoding: plain (drafts are made only by speculative decoding)"
    ]
    assert validate_components(load_recipe(REFERENCE), "r.yaml") == []
    recipe = load_recipe(REFERENCE, ["trainer.options.method=full"])
    assert validate_components(recipe, "r.yaml") == [
        f"r.yaml: trainer.options.{name}: has no effect with method: full (no adapter is trained)"
        for name in ("lora_rank", "lora_alpha", "lora_dropout", "target_modules")
    ]


def launch_lines() -> list[tuple[str, str]]:
    """Every command line in the README's shell blocks and the recipes' comments that starts the toolkit."""
    found = []
    sources = [REPO / "README.md", *sorted((REPO / "recipes").glob("*.yaml")), *sorted((REPO / "docs").glob("*.md"))]
    for path in sources:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip().lstrip("#$ ").split("  #")[0].strip()
            for command in text.split("&&"):
                command = command.strip()
                if re.match(r"^(uv run )?(ner-toolkit |accelerate launch |torchrun |python -m )", command):
                    found.append((path.name, command))
    return found


def test_the_readme_and_recipes_have_launch_lines() -> None:
    names = {name for name, _ in launch_lines()}
    assert {"README.md", "qwen2.5-7b-conll2003.yaml", "quickstart.yaml"} <= names


@pytest.mark.parametrize(("source", "command"), launch_lines(), ids=[f"{n}: {c}" for n, c in launch_lines()])
def test_every_launch_line_starts_the_command_line(source: str, command: str) -> None:
    """Each line's program and subcommand, run with --help, prints that subcommand's usage."""
    words = shlex.split(command)
    if words[:2] == ["uv", "run"]:
        words = words[2:]
    if words[0] in ("accelerate", "torchrun"):
        module = words[words.index("-m") + 1]
        rest = words[words.index("-m") + 2 :]
        program = [sys.executable, "-m", module]
    elif words[0] == "python":
        program, rest = [sys.executable, "-m", words[2]], words[3:]
    else:
        program, rest = [sys.executable, "-m", "ner_toolkit"], words[1:]
    subcommand = rest[0]
    result = subprocess.run([*program, subcommand, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout and f" {subcommand} " in result.stdout, (program, result.stdout)


def test_a_third_party_predictor_runs_in_a_recipe(conll: Path, tmp_path: Path) -> None:
    """The gazetteer predictor (example plugin) answers in the run's format; its output parses and scores."""
    entries = tmp_path / "names.json"
    entries.write_text(json.dumps({"Japan": "LOC", "China": "LOC", "Nadim Ladki": "PER"}), encoding="utf-8")
    recipe = load_recipe(REFERENCE, [f"data.dir={conll}", "data.train=null", "data.dev=null", "data.limit={test: 3}",
                                     "trainer=null", f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}",
                                     f"output_dir={tmp_path / 'run'}"])
    validate_components(recipe, str(REFERENCE))
    results = run(recipe, log=lambda message: None)
    outputs = [json.loads(line)["output"] for line in (tmp_path / "run" / "predictions" / "test.jsonl").read_text().splitlines()]
    assert outputs[0] == "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT ."  # the gazetteer is case-sensitive
    assert outputs[1] == "[Nadim Ladki | PER]"
    assert results["test"]["counts"]["sentences_with_diagnostics"] == 0
    assert results["test"]["seqeval"]["micro"]["precision"] == 1.0
