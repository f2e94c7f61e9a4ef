"""Fixtures shared by every test folder: the CoNLL-2003 files and offline test models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent

# torch runs far steadier with one thread per process on these 2-core machines.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def conll_dir() -> Path:
    """CONLL2003_DIR, or shared/data/conll2003 beside the repository."""
    return Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))


@pytest.fixture(scope="session")
def conll() -> Path:
    folder = conll_dir()
    if not (folder / "eng.testb").exists():
        pytest.fail(f"CoNLL-2003 files not found in {folder}; set CONLL2003_DIR")
    return folder


def _cached(request: pytest.FixtureRequest, name: str, build) -> Path:
    """A folder kept in pytest's cache across runs, built once when missing or incomplete."""
    folder = Path(request.config.cache.mkdir(name))
    done = folder / ".complete"
    if not done.exists():
        build(folder)
        done.touch()
    return folder


@pytest.fixture(scope="session")
def qwen25_tokenizer_dir(request: pytest.FixtureRequest) -> Path:
    from model_fixtures import build_qwen25_tokenizer

    return _cached(request, "qwen25-tokenizer", build_qwen25_tokenizer)


@pytest.fixture(scope="session")
def tiny_qwen2_dir(request: pytest.FixtureRequest, qwen25_tokenizer_dir: Path) -> Path:
    from model_fixtures import make_tiny_qwen2

    return _cached(request, "tiny-qwen2", lambda folder: make_tiny_qwen2(folder, qwen25_tokenizer_dir))


@pytest.fixture(scope="session")
def varied_qwen2_dir(request: pytest.FixtureRequest, qwen25_tokenizer_dir: Path) -> Path:
    """The tiny random Qwen2 with larger weights: its greedy answer differs from prompt to prompt."""
    from model_fixtures import make_tiny_qwen2

    return _cached(request, "tiny-qwen2-varied", lambda folder: make_tiny_qwen2(folder, qwen25_tokenizer_dir, 0.2))


@pytest.fixture(scope="session")
def smollm2_dir(request: pytest.FixtureRequest) -> Path:
    from model_fixtures import save_smollm2

    return _cached(request, "smollm2-135m-instruct", save_smollm2)
