"""The predictor leaves the process's garbage collector as it was, unless ``freeze_gc`` asks it to change it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, Example, ModelSpec, plugins
from ner_toolkit import read_conll

from ner_toolkit_trainers.transformers_predictor import TransformersPredictor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def examples(conll: Path) -> list[Example]:
    fmt = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    return [fmt.example(sentence) for sentence in read_conll(conll / "eng.testb")[48:54]]


def predictor(model: Path, **options) -> TransformersPredictor:
    fmt = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    options = {"decoding": "speculative", "prefix_cache": True, "batch_size": 4, "progress": False, "threads": 1, **options}
    return TransformersPredictor(ModelSpec(str(model)), None, fmt, **options)


def collector() -> tuple[bool, int]:
    return gc.isenabled(), gc.get_freeze_count()


def test_default_options_leave_the_collector_alone(
    tiny_qwen2_dir: Path, examples: list[Example], monkeypatch: pytest.MonkeyPatch
) -> None:
    called = []
    for name in ("freeze", "disable", "unfreeze", "enable"):
        real = getattr(gc, name)
        monkeypatch.setattr(gc, name, lambda real=real, name=name: (called.append(name), real())[1])
    before = collector()
    made = predictor(tiny_qwen2_dir)
    made.open()
    assert collector() == before
    during = {collector() for _ in made.generate(examples)}  # outputs come while their batch decodes
    made.close()
    assert during == {before} and collector() == before
    assert called == []


def test_freeze_gc_freezes_what_was_loaded_and_pauses_the_collector_while_a_batch_decodes(
    tiny_qwen2_dir: Path, examples: list[Example]
) -> None:
    assert collector() == (True, 0)
    made = predictor(tiny_qwen2_dir, freeze_gc=True)
    try:
        made.open()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        during = {gc.isenabled() for _ in made.generate(examples)}
        assert during == {False} and gc.isenabled()  # paused in each batch, running again once it is done
    finally:
        made.close()
    assert collector() == (True, 0)
