"""The four scorers are registered through their entry points, like any third-party plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ner_toolkit import plugins


@pytest.fixture
def metrics_only(monkeypatch):
    monkeypatch.setenv(plugins.LOAD_PLUGINS_ENV, "ner-toolkit-metrics")
    yield


def test_entry_points_register_each_scorer(metrics_only):
    found = {c.name: c for c in plugins.components() if c.kind == "scorer"}
    assert set(found) == {"seqeval", "nervaluate", "paper", "errors", "calibration"}
    assert all(c.distribution.startswith("ner-toolkit-metrics") for c in found.values())
    assert found["seqeval"].plugin == "seqeval"


def test_options_are_validated(metrics_only):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        plugins.get_scorer("nervaluate")(["PER"], unknown_labels="drop")
    with pytest.raises(ValidationError):
        plugins.get_scorer("paper")(["PER"], typo=1)


def test_loading_the_plugins_imports_neither_seqeval_nor_nervaluate():
    code = (
        "import sys; from ner_toolkit import plugins; plugins.components(); "
        "print(sorted(m for m in ('seqeval', 'nervaluate', 'sklearn', 'numpy', 'torch') if m in sys.modules))"
    )
    env = {"NER_TOOLKIT_LOAD_PLUGINS": "ner-toolkit-metrics", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"
