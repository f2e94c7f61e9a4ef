"""Which checkpoint a training resumes from: the newest one whose files were written whole.

A run killed while saving leaves a checkpoint folder with a truncated file; resuming from
it would crash. Each file is checked by what its format declares, without loading it:
a safetensors file's header gives the size of its data, a torch ``.pt``/``.pth``/``.bin``
file is a zip archive whose central directory is written last, and ``trainer_state.json``
must parse.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

STATE = "trainer_state.json"


def checkpoint_step(folder: Path) -> int:
    """The step of ``checkpoint-N`` (-1 for any other name)."""
    tail = folder.name.removeprefix("checkpoint-")
    return int(tail) if tail.isdigit() and folder.name.startswith("checkpoint-") else -1


def torn_file(folder: Path) -> str | None:
    """The first file of a checkpoint that was not written whole, with what is wrong with it; None when all are whole."""
    state = folder / STATE
    try:
        json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{state.name} is missing or not JSON"
    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors" and not _whole_safetensors(path):
            return f"{path.name} is shorter than its header says"
        if path.suffix in (".pt", ".pth", ".bin") and not _whole_zip(path):
            return f"{path.name} is not a whole torch archive"
    return None


def _whole_safetensors(path: Path) -> bool:
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > size - 8:
                return False
            header = json.loads(handle.read(length))
    except (OSError, ValueError, struct.error):
        return False
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    return size == 8 + length + max(ends, default=0)


def _whole_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def last_whole_checkpoint(checkpoints: Path) -> tuple[Path | None, list[str]]:
    """The newest checkpoint written whole (None if there is none), and a line for each newer torn one passed over."""
    if not checkpoints.is_dir():
        return None, []
    found = sorted((p for p in checkpoints.iterdir() if p.is_dir() and checkpoint_step(p) >= 0), key=checkpoint_step, reverse=True)
    passed: list[str] = []
    for folder in found:
        problem = torn_file(folder)
        if problem is None:
            return folder, passed
        passed.append(f"{folder}: {problem}; not resumed from")
    return None, passed
