"""Shared fixtures: formatters by name, and where the CoNLL-2003 files are."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, Formatter, plugins

REPO = Path(__file__).resolve().parents[3]
FORMATS = ("bracketed", "xml", "json-grouped", "json-occurrence", "json-offset")


def conll_dir() -> Path:
    """CONLL2003_DIR, or shared/data/conll2003 beside the repository."""
    return Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))


def make(name: str, **options: object) -> Formatter:
    """A formatter for the CoNLL-2003 label set, found through its entry point."""
    return plugins.get_formatter(name)(CONLL2003_LABELS, **options)


@pytest.fixture
def formatter() -> Callable[..., Formatter]:
    return make


@pytest.fixture(scope="session")
def conll() -> Path:
    folder = conll_dir()
    if not (folder / "eng.testb").exists():
        pytest.fail(f"CoNLL-2003 files not found in {folder}; set CONLL2003_DIR")
    return folder


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``format_name`` runs once for each built-in format."""
    if "format_name" in metafunc.fixturenames:
        metafunc.parametrize("format_name", FORMATS)
