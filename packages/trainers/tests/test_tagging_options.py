"""The options a Tagger runs the transformers predictor with, from a run's or an export's."""

from __future__ import annotations

import pytest
from ner_toolkit import CONLL2003_LABELS, plugins

from ner_toolkit_trainers.transformers_predictor import TransformersPredictor


def formatter(name: str):
    return plugins.get_formatter(name)(CONLL2003_LABELS)


@pytest.mark.parametrize(("name", "decoding"), [("bracketed", "speculative"), ("xml", "speculative"), ("json-grouped", "plain")])
def test_without_a_decoding_mode_an_inline_format_copies_speculatively(name: str, decoding: str) -> None:
    options = TransformersPredictor.tagging_options({"batch_size": 8}, formatter(name))
    assert options == {"batch_size": 8, "progress": False, "decoding": decoding, "prefix_cache": True}
    TransformersPredictor.Options.model_validate(options)


def test_what_the_run_says_is_kept_and_not_changed() -> None:
    given = {"decoding": "constrained", "progress": True}
    options = TransformersPredictor.tagging_options(given, formatter("bracketed"))
    assert options == {"decoding": "constrained", "progress": True}  # no prefix cache added to a mode the run chose
    assert options is not given and given == {"decoding": "constrained", "progress": True}
    assert TransformersPredictor.tagging_options({"prefix_cache": False}, formatter("xml")) == {
        "prefix_cache": False, "progress": False, "decoding": "speculative",
    }  # fmt: skip


def test_the_options_a_run_was_scored_with_are_kept_but_for_the_progress_bar() -> None:
    """A run that set no decoding mode was scored with plain decoding: its Tagger decodes plainly too."""
    options = TransformersPredictor.tagging_options({"batch_size": 8}, formatter("bracketed"), scored=True)
    assert options == {"batch_size": 8, "progress": False}
    assert TransformersPredictor.Options.model_validate(options).decoding == "plain"
