"""Label specs: one parser for every place a user names labels (Tagger.load, predict, evaluate, spaCy)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ner_toolkit import CONLL2003_LABELS, Label, label_set
from ner_toolkit.run.evaluate import evaluation_recipe


def test_a_spec_names_conll2003_or_labels_and_known_names_keep_their_descriptions() -> None:
    assert label_set(None) == label_set("conll2003") == list(CONLL2003_LABELS)
    per, custom = label_set("PER, GPE")
    assert per == CONLL2003_LABELS[1] and custom == Label("GPE")
    assert label_set(["LOC", Label("X", "x")]) == [CONLL2003_LABELS[2], Label("X", "x")]
    with pytest.raises(ValueError, match="no labels"):
        label_set(" , ")


def test_evaluate_reads_labels_with_the_same_parser() -> None:
    recipe = evaluation_recipe(None, None, None, "conll2003", (), None, None)
    assert recipe.labels == list(CONLL2003_LABELS)  # not one label named "conll2003"
    assert [label.name for label in evaluation_recipe(None, None, None, "PER,LOC", (), None, None).labels] == ["PER", "LOC"]


def test_a_label_is_validated_as_a_recipe_field() -> None:
    with pytest.raises(ValidationError):
        Label("two words")
    with pytest.raises(ValidationError):
        Label(**{"name": "PER", "colour": "red"})  # type: ignore[arg-type]
