"""Shared fixtures: where the CoNLL-2003 files are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def conll_dir() -> Path:
    """CONLL2003_DIR, or shared/data/conll2003 beside the repository."""
    return Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))


@pytest.fixture(scope="session")
def conll() -> Path:
    folder = conll_dir()
    if not (folder / "eng.testb").exists():
        pytest.fail(f"CoNLL-2003 files not found in {folder}; set CONLL2003_DIR")
    return folder
