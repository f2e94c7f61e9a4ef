"""Recipes are validated before any work starts; errors name the file and the field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ner_toolkit import plugins
from ner_toolkit.run.recipe import RecipeError, check_paths, load_recipe, validate_components

MINIMAL = """\
name: tiny
data:
  dir: ${CONLL2003_DIR:-/nowhere}
  test: eng.testb
format:
  name: slash-tags
scorers: []
output_dir: ${RUNS:-runs}/tiny
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_defaults_and_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONLL2003_DIR", raising=False)
    monkeypatch.setenv("RUNS", "/tmp/r")
    recipe = load_recipe(write(tmp_path, MINIMAL))
    assert recipe.data.path("test") == Path("/nowhere/eng.testb")
    assert recipe.data.path("train") is None
    assert recipe.output_dir == Path("/tmp/r/tiny")
    assert [label.name for label in recipe.labels] == ["ORG", "PER", "LOC", "MISC"]
    assert recipe.data.reader.name == "conll" and recipe.data.reader.options == {}


def test_overrides_are_parsed_as_yaml(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, MINIMAL), ["data.limit.test=25", "output_dir=elsewhere"])
    assert recipe.data.limit == {"test": 25}
    assert recipe.output_dir == Path("elsewhere")


def test_missing_variable_without_default_names_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = write(tmp_path, MINIMAL.replace("${RUNS:-runs}", "${NOT_SET_ANYWHERE}"))
    with pytest.raises(RecipeError, match=r"recipe.yaml: output_dir: environment variable NOT_SET_ANYWHERE is not set"):
        load_recipe(path)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("  test: eng.testb", "  test: eng.testb\n  tset: eng.testa"),
         "data.tset: unknown field; expected one of: dir, reader, train, dev, test, limit"),
        (("  test: eng.testb", "  test: eng.testb\n  limit: {tests: 3}"), "data.limit: Value error, unknown split 'tests'"),
        (("data:\n  dir: ${CONLL2003_DIR:-/nowhere}\n  test: eng.testb\n", ""), "data: required field is missing"),
        (("name: tiny", "name: tiny\nlabels:\n  - gloss: person"), "labels.0.name: required field is missing"),
    ],
)
def test_schema_errors_name_file_and_field(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    path = write(tmp_path, MINIMAL.replace(*edit))
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert f"{path}: " in str(error.value)
    assert expected in str(error.value)


def test_not_a_mapping_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="a recipe is a mapping of fields, not list"):
        load_recipe(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.yaml")


def test_plugin_names_and_options_are_checked_before_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "slash_tags")
    path = write(tmp_path, MINIMAL.replace("name: slash-tags", "name: slash-tags\n  options: {shout: true}")
                 .replace("scorers: []", "scorers: [no-such-scorer]")
                 .replace("  test: eng.testb", "  test: eng.testb\n  reader: {name: conll, options: {scheme: IOB3}}"))
    recipe = load_recipe(path)
    with pytest.raises(RecipeError) as error:
        validate_components(recipe, str(path))
    message = str(error.value)
    assert f"{path}: format.options.shout: unknown option; SlashTags accepts: none" in message
    assert f"{path}: scorers.0.name: unknown scorer 'no-such-scorer'" in message
    assert f"{path}: data.reader.options.scheme: Input should be 'IOB1', 'IOB2', 'IOBES' or 'BILOU'" in message


@pytest.mark.parametrize(
    ("environment", "value", "expected"),
    [
        ({"RUNS": ""}, "${RUNS:-runs}/x", "runs/x"),  # set but empty: the default, as in a shell
        ({"RUNS": "/r"}, "${RUNS:-runs}/x", "/r/x"),
        ({"B": "/b"}, "${A:-${B}}/x", "/b/x"),  # a default that reads another variable
        ({"A": "/a", "B": "/b"}, "${A:-${B}}/x", "/a/x"),
        ({}, "${A:-${B:-/c}}/x", "/c/x"),
    ],
)
def test_interpolation_reads_as_a_shell_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], value: str, expected: str
) -> None:
    for name in ("RUNS", "A", "B"):
        monkeypatch.delenv(name, raising=False)
    for name, setting in environment.items():
        monkeypatch.setenv(name, setting)
    assert load_recipe(write(tmp_path, MINIMAL.replace("${RUNS:-runs}/tiny", value))).output_dir == Path(expected)


def test_an_unreadable_reference_is_an_error_not_a_literal_path(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"output_dir: cannot read '\$\{A:-x/y'"):
        load_recipe(write(tmp_path, MINIMAL.replace("${RUNS:-runs}/tiny", "${A:-x/y")))


def test_a_key_given_twice_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "output_dir: elsewhere\n")
    with pytest.raises(RecipeError, match=r"recipe.yaml: not valid YAML: .*key 'output_dir' is given twice, on lines 8 and 9"):
        load_recipe(path)


def test_missing_data_files_and_an_unwritable_output_dir_name_their_fields(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, MINIMAL), ["data.dir=" + str(tmp_path), f"output_dir={tmp_path / 'recipe.yaml'}"])
    with pytest.raises(RecipeError) as error:
        check_paths(recipe, "r.yaml")
    assert f"r.yaml: data.test: {tmp_path / 'eng.testb'} does not exist" in str(error.value)
    assert f"r.yaml: output_dir: {tmp_path / 'recipe.yaml'} is a file, not a folder" in str(error.value)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    (tmp_path / "eng.testb").write_text("EU I-ORG\n")
    if os.access(locked, os.W_OK):
        pytest.skip("running as a user who can write anywhere")
    with pytest.raises(RecipeError, match=r"output_dir: .*locked/run cannot be written"):
        check_paths(load_recipe(write(tmp_path, MINIMAL), ["data.dir=" + str(tmp_path), f"output_dir={locked / 'run'}"]), "r.yaml")
