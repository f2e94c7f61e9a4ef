"""Stage fingerprints: a rerun redoes exactly the stages whose inputs changed.

Each stage of a run (render, train, predict per split, score per split) is described by
the inputs it depends on: the recipe fields it reads, the data files' sha256, the
versions of the plugins it uses and the fingerprint of the stage before it. The record
in ``stages.json`` keeps, per stage, those inputs as they were when the stage began. A
stage begun under other inputs has its outputs removed and runs again; a stage begun
under the same inputs resumes (training from its checkpoint, prediction from the last
sentence written). Files and folders are inputs by their contents' digest, never by path.

A run plans every stage before it changes anything: outputs are removed only once all
inputs were read and validated, and the record is written with the recipe, so a rerun
that fails early leaves the folder as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..textio import write_json

RECORD = "stages.json"
FILE_DIGESTS = "file_digests"
"""The record's key for the cached digests of the files stage inputs name (not a stage)."""


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


def path_digest(path: Path, cache: dict[str, Any] | None = None) -> str:
    """The sha256 of a file's bytes, or of a folder's files (their relative names and contents, in name order).

    ``cache`` maps a file's absolute path to ``[size, mtime_ns, sha256]`` as last hashed, so
    large unchanged files (a local model's weights) are not read again on every rerun.
    """
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        key = str(file.resolve())
        known = (cache or {}).get(key)
        if known is not None and known[:2] == [stat.st_size, stat.st_mtime_ns]:
            sha = known[2]
        else:
            sha = file_sha256(file)
            if cache is not None:
                cache[key] = [stat.st_size, stat.st_mtime_ns, sha]
        if file == path:
            return sha
        digest.update(f"{file.relative_to(path).as_posix()}\0{sha}\0".encode())
    return digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@dataclass(frozen=True)
class Stage:
    """One stage of a run as planned: its name, the inputs it depends on, and the outputs it writes."""

    name: str
    inputs: dict[str, Any]
    outputs: tuple[Path, ...]

    @property
    def key(self) -> str:
        return fingerprint(self.inputs)


class Stages:
    """The stage record of one output folder."""

    def __init__(self, folder: Path, log: Callable[[str], None], write: bool = True) -> None:
        self.folder = folder
        self.path = folder / RECORD
        self.log = log
        self.write = write
        self.record: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        self.file_digests: dict[str, Any] = self.record.pop(FILE_DIGESTS, {})

    def digest(self, path: Path) -> str:
        """``path_digest`` of a file or folder, cached in the record by size and modification time."""
        return path_digest(path, self.file_digests)

    def stale(self, stage: Stage) -> list[Path]:
        """The outputs of ``stage`` that exist but were made under other inputs (or with no record of them)."""
        previous = self.record.get(stage.name)
        if previous is not None and previous["fingerprint"] == stage.key:
            return []
        return [path for path in stage.outputs if path.exists() or path.is_symlink()]

    def commit(self, plan: Sequence[Stage], before_record: Callable[[], None] = lambda: None) -> None:
        """Make the folder hold only what ``plan`` can keep, then record the plan.

        Called once every input has been read and validated: the outputs of each stage whose
        inputs changed are removed (each removal logged with its reason), ``before_record``
        writes what describes the new plan (the recipe), and the stage record is written last.
        """
        for stage in plan:
            stale = self.stale(stage)
            if stale:
                previous = self.record.get(stage.name)
                if previous is None:
                    reason = "no record of the inputs they were made with"
                else:
                    fields = changed_fields(previous["inputs"], stage.inputs)
                    reason = "changed: " + ", ".join(fields[:6]) + (f" and {len(fields) - 6} more" if len(fields) > 6 else "")
                self.log(f"{stage.name}: redo ({reason}); removing {', '.join(str(p) for p in stale)}")
                if self.write:
                    for path in stale:
                        _remove(path)
        if not self.write:
            return
        before_record()
        # a stage the recipe no longer has (training, with trainer: null) keeps its record and its outputs
        self.record.update({stage.name: {"fingerprint": stage.key, "inputs": stage.inputs} for stage in plan})
        write_json(self.path, {**self.record, FILE_DIGESTS: self.file_digests})
