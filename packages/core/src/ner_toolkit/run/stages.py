"""Stage fingerprints: a rerun redoes exactly the stages whose inputs changed.

Each stage of a run (render, train, predict per split, score per split) is described by
the inputs it depends on: the recipe fields it reads, the data files' sha256, the
versions of the plugins it uses and the fingerprint of the stage before it. The record
in ``stages.json`` keeps, per stage, those inputs as they were when the stage began. A
stage begun under other inputs has its outputs removed and runs again; a stage begun
under the same inputs resumes (training from its checkpoint, prediction from the last
sentence written).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..textio import write_json

RECORD = "stages.json"


def fingerprint(inputs: dict[str, Any]) -> str:
    """A short hash of a stage's inputs (canonical JSON)."""
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def changed_fields(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two input trees."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += changed_fields(a, b, f"{prefix}{key}.")
        else:
            found.append(f"{prefix}{key}")
    return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class Stages:
    """The stage record of one output folder."""

    def __init__(self, folder: Path, log: Callable[[str], None], write: bool = True) -> None:
        self.folder = folder
        self.path = folder / RECORD
        self.log = log
        self.write = write
        self.record: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def begin(self, stage: str, inputs: dict[str, Any], outputs: Iterable[Path]) -> str:
        """Record that ``stage`` runs under ``inputs``; remove its ``outputs`` when they were made under others.

        Returns the stage's fingerprint, which downstream stages include in their inputs.
        Outputs that exist with no record at all (a folder written before records were
        kept) are treated as made under other inputs.
        """
        key = fingerprint(inputs)
        previous = self.record.get(stage)
        outputs = list(outputs)
        if previous is not None and previous["fingerprint"] == key:
            return key
        stale = [path for path in outputs if path.exists()]
        if stale:
            if previous is None:
                reason = "no record of the inputs they were made with"
            else:
                fields = changed_fields(previous["inputs"], inputs)
                reason = "changed: " + ", ".join(fields[:6]) + (f" and {len(fields) - 6} more" if len(fields) > 6 else "")
            self.log(f"{stage}: redo ({reason}); removing {', '.join(str(p) for p in stale)}")
            if self.write:
                for path in stale:
                    _remove(path)
        self.record[stage] = {"fingerprint": key, "inputs": inputs}
        if self.write:
            write_json(self.path, self.record)
        return key
