"""Shared fixtures: a maker of predictions from spans (the CoNLL folder comes from the root conftest)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from ner_toolkit import Diagnostic, Mention, Prediction, Sentence, Span

LABELS = ("ORG", "PER", "LOC", "MISC")


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
