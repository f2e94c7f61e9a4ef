"""Shared fixtures: the CoNLL-2003 folder and a maker of predictions from spans."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ner_toolkit import Diagnostic, Mention, Prediction, Sentence, Span

LABELS = ("ORG", "PER", "LOC", "MISC")


def conll_dir() -> Path:
    """``$CONLL2003_DIR``, else ``shared/data/conll2003`` beside the repository root."""
    if os.environ.get("CONLL2003_DIR"):
        return Path(os.environ["CONLL2003_DIR"])
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "conll2003"


@pytest.fixture(scope="session")
def conll() -> Path:
    folder = conll_dir()
    if not (folder / "eng.testb").exists():
        pytest.fail(f"CoNLL-2003 files not found in {folder}; set CONLL2003_DIR")
    return folder


MakePrediction = Callable[..., Prediction]


def _predict(
    sentence: Sentence,
    spans: Sequence[Span] | None = None,
    *,
    mentions: Sequence[tuple[str, str]] | None = None,
    copied: bool = True,
    diagnostics: Sequence[tuple[str, str]] = (),
) -> Prediction:
    """A prediction for ``sentence``: its gold spans unless ``spans`` is given; mentions from the spans."""
    spans = tuple(sentence.spans if spans is None else spans)
    found = (
        tuple(Mention(text, label) for text, label in mentions)
        if mentions is not None
        else tuple(Mention(" ".join(sentence.tokens[s.start : s.end]), s.label) for s in spans)
    )
    return Prediction(sentence.id, sentence.text, spans, tuple(Diagnostic(*d) for d in diagnostics), found, copied)


@pytest.fixture
def predict() -> MakePrediction:
    return _predict
