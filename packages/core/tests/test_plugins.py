"""Plugins come through entry points; typos and bad registrations fail loudly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import plugins
from ner_toolkit.cli import cli


def install_plugin(root: Path, module: str, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install a one-module distribution with an entry point, the way pip would lay it out."""
    (root / f"{module}.py").write_text(source)
    dist_info = root / f"{module}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[ner_toolkit]\n{module} = {module}\n")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, module, raising=False)


def test_builtin_plugins_come_from_their_own_distributions() -> None:
    found = {(c.kind, c.name): c.distribution.split()[0] for c in plugins.components()}
    assert found[("format", "bracketed")] == "ner-toolkit-formats"
    assert found[("scorer", "seqeval")] == "ner-toolkit-metrics"
    assert found[("scorer", "nervaluate")] == "ner-toolkit-metrics"
    assert found[("trainer", "sft-lora")] == "ner-toolkit-trainers"
    assert found[("predictor", "transformers")] == "ner-toolkit-trainers"
    assert found[("format", "slash-tags")] == "ner-toolkit-example-format"


def test_plugins_command_lists_kind_name_and_distribution() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    listed = {(row[0], row[1], row[2]) for row in rows}
    for kind, name, dist in [("format", "bracketed", "ner-toolkit-formats"), ("format", "slash-tags", "ner-toolkit-example-format"),
                             ("scorer", "seqeval", "ner-toolkit-metrics"), ("trainer", "sft-lora", "ner-toolkit-trainers")]:
        assert (kind, name, dist) in listed


def not_core(found: tuple[plugins.Component, ...]) -> list[tuple[str, str]]:
    return [(c.kind, c.name) for c in found if not c.distribution.startswith("ner-toolkit-core ")]


def test_env_var_restricts_loading_and_the_core_readers_always_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "ner-toolkit-example-format")
    assert set(not_core(plugins.components())) == {("reader", "enamex"), ("format", "slash-tags"), ("format", "curly"),
                                                   ("predictor", "gazetteer"), ("writer", "entity-tsv")}
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "slash_tags")
    assert not_core(plugins.components()) == [("format", "slash-tags")]
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "")
    assert not_core(plugins.components()) == []
    assert {("reader", "conll"), ("reader", "jsonl"), ("tokenizer", "regex"), ("splitter", "pysbd"), ("writer", "jsonl")} <= {(c.kind, c.name) for c in plugins.components()}
    with pytest.raises(plugins.PluginError, match=r"unknown format 'bracketed'; available: none"):
        plugins.get_formatter("bracketed")
    monkeypatch.delenv(plugins.LOAD_PLUGINS_ENV)
    assert ("format", "bracketed") in not_core(plugins.components())  # the manager follows the environment by itself


def test_one_manager_per_environment_and_hooks_called_through_pluggy(monkeypatch: pytest.MonkeyPatch) -> None:
    first = plugins.manager()
    assert plugins.manager() is first
    calls: list[str] = []
    undo = first.pluggy.add_hookcall_monitoring(lambda name, impls, kwargs: calls.append(name), lambda *args: None)
    try:
        first._collect()
    finally:
        undo()
    assert calls == [hook for hook, _ in plugins.KINDS.values()]
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "slash_tags")
    assert plugins.manager() is not first


def test_misspelled_hook_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(
        tmp_path,
        "typo_plugin",
        "from ner_toolkit import hookimpl\n\n@hookimpl\ndef register_format(register):\n    pass\n",
        monkeypatch,
    )
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "typo_plugin")
    with pytest.raises(plugins.PluginError, match=r"plugin 'typo_plugin' \(module typo_plugin\) implements a hook that does not exist: .*register_format"):
        plugins.manager()


def test_registering_a_non_component_names_the_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(
        tmp_path,
        "wrong_plugin",
        "from ner_toolkit import hookimpl\n\n@hookimpl\ndef register_scorers(register):\n    register(dict)\n",
        monkeypatch,
    )
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "wrong_plugin")
    with pytest.raises(plugins.PluginError, match="plugin 'wrong_plugin' registered <class 'dict'> as a scorer"):
        plugins.components()


def test_a_plugin_that_fails_to_import_names_its_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, "broken_plugin", "raise ImportError('no such thing')\n", monkeypatch)
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "broken_plugin")
    with pytest.raises(plugins.PluginError, match="plugin 'broken_plugin' .* failed to load: no such thing"):
        plugins.components()


def test_duplicate_names_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(
        tmp_path,
        "copycat_plugin",
        "from ner_toolkit import hookimpl\nfrom ner_toolkit_example_format import SlashTags\n\n"
        "@hookimpl\ndef register_formats(register):\n    register(SlashTags)\n",
        monkeypatch,
    )
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "copycat_plugin,slash_tags")
    with pytest.raises(plugins.PluginError, match="format 'slash-tags' is registered twice"):
        plugins.components()
