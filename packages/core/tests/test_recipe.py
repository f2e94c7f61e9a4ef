"""Recipes are validated before any work starts; errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ner_toolkit import plugins
from ner_toolkit.recipe import RecipeError, load_recipe, validate_components

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
    assert recipe.data.scheme.value == "IOB1"


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
         "data.tset: unknown field; expected one of: dir, train, dev, test, scheme, tag_column, docstart, limit"),
        (("  test: eng.testb", "  test: eng.testb\n  scheme: IOB3"), "data.scheme: Input should be 'IOB1', 'IOB2', 'IOBES' or 'BILOU'"),
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
    plugins.reset()
    try:
        path = write(tmp_path, MINIMAL.replace("name: slash-tags", "name: slash-tags\n  options: {shout: true}")
                     .replace("scorers: []", "scorers: [no-such-scorer]"))
        recipe = load_recipe(path)
        with pytest.raises(RecipeError) as error:
            validate_components(recipe, str(path))
        message = str(error.value)
        assert f"{path}: format.options.shout: unknown option; SlashTags accepts: none" in message
        assert f"{path}: scorers.0.name: unknown scorer 'no-such-scorer'" in message
    finally:
        plugins.reset()
