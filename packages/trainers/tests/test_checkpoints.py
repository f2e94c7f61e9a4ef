"""A resume starts from the newest checkpoint written whole; torn ones (a run killed while saving) are passed over."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from ner_toolkit_trainers.checkpoints import last_whole_checkpoint, torn_file


def checkpoint(folder: Path, step: int) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    save_file({"weight": np.ones((4, 4), dtype=np.float32)}, str(path / "adapter_model.safetensors"))
    torch.save({"step": step}, path / "optimizer.pt")
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step}), encoding="utf-8")
    return path


def cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_whole_checkpoints_are_whole_and_the_newest_is_taken(tmp_path: Path) -> None:
    for step in (5, 10, 15):
        checkpoint(tmp_path, step)
    assert [torn_file(tmp_path / f"checkpoint-{s}") for s in (5, 10, 15)] == [None, None, None]
    assert last_whole_checkpoint(tmp_path) == (tmp_path / "checkpoint-15", [])


def test_each_kind_of_torn_file_is_found_and_passed_over(tmp_path: Path) -> None:
    first = checkpoint(tmp_path, 10)
    newest = checkpoint(tmp_path, 20)
    weights = newest / "adapter_model.safetensors"
    cut(weights, weights.stat().st_size - 1)
    assert torn_file(newest) == "adapter_model.safetensors is shorter than its header says"
    found, passed = last_whole_checkpoint(tmp_path)
    assert found == first and passed == [f"{newest}: adapter_model.safetensors is shorter than its header says; not resumed from"]

    save_file({"weight": np.ones((4, 4), dtype=np.float32)}, str(weights))
    cut(newest / "optimizer.pt", 100)
    assert torn_file(newest) == "optimizer.pt is not a whole torch archive"
    torch.save({"step": 20}, newest / "optimizer.pt")
    (newest / "trainer_state.json").write_text('{"global_st', encoding="utf-8")
    assert torn_file(newest) == "trainer_state.json is missing or not JSON"


def test_no_whole_checkpoint_means_training_from_the_start(tmp_path: Path) -> None:
    assert last_whole_checkpoint(tmp_path / "none") == (None, [])
    only = checkpoint(tmp_path, 3)
    cut(only / "adapter_model.safetensors", 4)
    found, passed = last_whole_checkpoint(tmp_path)
    assert found is None and len(passed) == 1
