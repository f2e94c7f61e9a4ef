"""Strict text in, atomic files out: every reader and writer of the toolkit goes through these.

Text is UTF-8: a leading byte-order mark is dropped, a NUL byte (binary data) or bytes
that are not UTF-8 are an error naming the file, line and byte offset. A file is written
atomically: a reader, or a kill, sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BOM = "\ufeff"


class TextError(ValueError):
    """Input that is not UTF-8 text; the message names the source, line and byte offset."""

    def __init__(self, name: str, line: int, message: str) -> None:
        super().__init__(f"{name}:{line}: {message}")
        self.name, self.line, self.reason = name, line, message


def _first_bad_byte(data: bytes) -> tuple[int, str] | None:
    """Where ``data`` stops being text, and why; None when it is UTF-8 text throughout."""
    nul = data.find(b"\x00")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        if not 0 <= nul < error.start:
            at = error.start
            return at, f"not UTF-8 text (byte 0x{data[at]:02x} at byte offset {at}; Latin-1?)"
    if nul >= 0:
        return nul, f"binary data, not text (a NUL byte at byte offset {nul})"
    return None


def text_lines(data: bytes, name: str) -> Iterator[tuple[int, str]]:
    """Each line of ``data`` with its number (from 1), without its line ending.

    Lines before a bad byte are yielded first; the line holding it raises ``TextError``,
    so a caller keeps whatever it made of the lines before.
    """
    bad = _first_bad_byte(data)
    good = data if bad is None else data[: data.rfind(b"\n", 0, bad[0]) + 1]
    lines = good.decode("utf-8").removeprefix(BOM).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line.removesuffix("\r")
    if bad is not None:
        at, what = bad
        raise TextError(name, data.count(b"\n", 0, at) + 1, what)


def read_lines(path: Path, name: str | None = None) -> list[str]:
    """Every line of a text file; ``TextError`` (named ``name``, default the path) for anything but UTF-8 text."""
    return [line for _, line in text_lines(Path(path).read_bytes(), name or str(path))]


def write_text(path: Path, text: str) -> None:
    """Write a file atomically: a reader (or a kill) sees the old file or the new one, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_json(path: Path, data: Any, indent: int | None = 2) -> None:
    """Write ``data`` as JSON atomically (UTF-8, not ASCII-escaped)."""
    write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")
