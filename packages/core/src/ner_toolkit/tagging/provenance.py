"""What a predictions file was made from, recorded beside it, so that ``--resume`` continues only its own work.

``ner-toolkit predict -o notes.jsonl`` writes ``notes.jsonl.ner-toolkit.json`` before the
first record: the input's sha256, size and format, the model (a local folder by the digest of its
files, a hub model by name), the format, labels and instruction, the predictor's options that
change outputs, the tokenizer and ``max_tokens``. A resume continues the output only when it
was made from the same; otherwise it refuses and says which of them changed, and the file
stays as it is. An input that grew by whole lines since counts as the same.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..interfaces import path_options, result_options
from ..run.stages import changed_fields, path_digest
from ..textio import write_json
from .tagger import Tagger

SUFFIX = ".ner-toolkit.json"
DIGESTS = "file_digests"


def record_path(output: Path) -> Path:
    return output.with_name(output.name + SUFFIX)


def _options(plugin: Any) -> dict[str, Any]:
    options = getattr(plugin, "options", None)
    return result_options(options) if isinstance(options, BaseModel) else {}


def made_from(tagger: Tagger, data: bytes, input_format: str, output_format: str, digests: dict[str, Any]) -> dict[str, Any]:
    """What an output of ``tagger`` on ``data`` depends on; ``digests`` caches file digests by size and modification time."""

    def model(name: str | Path | None) -> Any:
        return {"digest": path_digest(Path(name), digests)} if name is not None and Path(name).exists() else name

    predictor = tagger.predictor
    options = _options(predictor)
    for name in path_options(type(predictor.options)):
        if options.get(name) is not None:
            options[name] = model(options[name])
    spec = predictor.model
    return {
        "input": {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "format": input_format},
        "output_format": output_format,
        "model": {"model": model(spec.name_or_path), "adapter": model(predictor.adapter), "revision": spec.revision,
                  "gguf_file": spec.gguf_file, "chat_template": spec.chat_template, "system_prompt": spec.system_prompt}
                 if spec is not None else {"served": type(predictor).describe(_options(predictor))},
        "format": {"name": tagger.formatter.name, "options": _options(tagger.formatter),
                   "instruction": tagger.formatter.instruction(),
                   **({"context": tagger.formatter.context} if tagger.formatter.context else {})},
        "predictor": {"name": predictor.name, "options": options},
        "tokenizer": {"name": tagger.tokenizer.name, "options": _options(tagger.tokenizer)},
        "max_tokens": tagger.max_tokens,
        **({"min_score": tagger.min_score} if tagger.min_score is not None else {}),
    }


def read_record(output: Path) -> dict[str, Any] | None:
    """The record beside ``output``, or None when there is none (or it is not one)."""
    path = record_path(output)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "input" in record else None


def write_record(output: Path, record: dict[str, Any], digests: dict[str, Any]) -> None:
    write_json(record_path(output), {**record, DIGESTS: digests})


def differences(recorded: dict[str, Any], current: dict[str, Any], data: bytes) -> list[str]:
    """The fields (``input``, ``predictor.options.decoding``, ...) whose values differ between a record and ``data``'s.

    An input is the same when it only grew by whole lines of documents (text or JSON Lines
    appended after the last newline): the documents already tagged are unchanged.
    """
    changed = changed_fields({k: v for k, v in recorded.items() if k not in (DIGESTS, "input")},
                             {k: v for k, v in current.items() if k != "input"})
    return (["input"] if not same_input(recorded.get("input", {}), current["input"], data) else []) + changed


def same_input(recorded: dict[str, Any], current: dict[str, Any], data: bytes) -> bool:
    if recorded.get("format") != current["format"]:
        return False
    if recorded.get("sha256") == current["sha256"]:
        return True
    size = recorded.get("bytes")
    return (
        current["format"] != "conll" and isinstance(size, int) and 0 < size < len(data) and data[size - 1 : size] == b"\n"
        and hashlib.sha256(data[:size]).hexdigest() == recorded.get("sha256")
    )
