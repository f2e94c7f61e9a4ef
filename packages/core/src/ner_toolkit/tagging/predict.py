"""``ner-toolkit predict``: tag documents from a file or stdin with a trained model.

Input formats: ``text`` (each non-empty line is a document), ``jsonl`` (records with
``text`` and an optional ``id``), ``conll`` (tokenized sentences, tagged as they are).
Output formats are writer plugins (``ner-toolkit plugins``): ``jsonl`` (one record per
document: text, entities with character offsets, per-sentence diagnostics, warnings),
``conll`` (IOB2), and what annotation tools import: ``label-studio``, ``prodigy``,
``doccano`` and ``spacy`` (a DocBin).

Every input line is checked before the model loads; a bad line (a record without
``text``, invalid UTF-8, binary data) is an error naming it, raised after the documents
before it have been tagged and written. Output is appended as documents finish; with
``--resume`` a rerun continues an output made from the same input, model and settings
(``provenance``), and touches no other file. Only ``jsonl`` can be resumed: its records carry
the document ids.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from .. import plugins
from ..spans import DOCSTART
from ..textio import TextError, text_lines
from .provenance import DIGESTS, differences, made_from, read_record, record_path, write_record
from .tagger import Tagger, Tokenized
from .writing import opened_writer

InputFormat = Literal["text", "jsonl", "conll"]
RESUMABLE = "jsonl"
"""The one output format whose lines carry document ids, so that ``--resume`` can check and continue it."""


class InputError(ValueError):
    """An input line that cannot be tagged; the message names the file and line."""


@dataclass(frozen=True)
class Item:
    """One document to tag: an id that locates it, its text, and its tokens when the input was tokenized."""

    id: str
    text: str
    tokens: tuple[tuple[str, ...], ...] | None = None


def _lines(data: bytes, name: str) -> Iterator[tuple[int, str | InputError]]:
    """Each line's number and text, or the error that stops reading there."""
    try:
        yield from text_lines(data, name)
    except TextError as error:
        yield error.line, InputError(str(error))


def read_items(data: bytes, name: str, input_format: InputFormat, prefix: str | None = None) -> tuple[list[Item], InputError | None]:
    """The documents of an input, and the error that stopped reading it (None when all was read).

    Errors name the input as ``name``; a document without an id of its own is ``PREFIX:LINE`` (default: ``name``).
    """
    items: list[Item] = []
    prefix = name if prefix is None else prefix
    if input_format == "conll":
        return _conll_items(data, name, prefix)
    for number, line in _lines(data, name):
        if isinstance(line, InputError):
            return items, line
        if not line.strip():
            continue
        if input_format == "text":
            items.append(Item(f"{prefix}:{number}", line))
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            return items, InputError(f"{name}:{number}: not JSON: {error}")
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            return items, InputError(f"{name}:{number}: expected an object with a string 'text', got {line.strip()[:60]}")
        identifier = record.get("id")
        items.append(Item(str(identifier) if identifier is not None else f"{prefix}:{number}", record["text"]))
    return items, None


def _conll_items(data: bytes, name: str, prefix: str) -> tuple[list[Item], InputError | None]:
    """Documents of a CoNLL file (between ``-DOCSTART-`` lines), their sentences tokenized as given."""
    items: list[Item] = []
    sentences: list[tuple[str, ...]] = []
    tokens: list[str] = []
    first = 0
    error: InputError | None = None

    def close_document() -> None:
        if tokens:
            sentences.append(tuple(tokens))
            tokens.clear()
        if sentences:
            items.append(Item(f"{prefix}:{first}", "\n".join(" ".join(s) for s in sentences), tuple(sentences)))
            sentences.clear()

    for number, line in _lines(data, name):
        if isinstance(line, InputError):
            error = line
            break
        columns = line.split()
        if not columns:
            if tokens:
                sentences.append(tuple(tokens))
                tokens.clear()
            continue
        if columns[0] == DOCSTART:
            close_document()
            continue
        if not sentences and not tokens:
            first = number
        tokens.append(columns[0])
    if error is None:
        close_document()
    return items, error


def resumable(output: Path, record: dict[str, Any], items: list[Item], data: bytes) -> int:
    """How many documents ``output`` holds already, proven this command's work on this input; an error otherwise.

    The output must have the record of what it was made from beside it, made from the same,
    and hold the first documents of the input in order; a torn last line (a killed run) is cut off.
    """
    keep = f"it is left as it is: choose another --output, or remove it and {record_path(output).name} to start over"
    recorded = read_record(output)
    if recorded is None:
        raise InputError(f"{output}: not written by `ner-toolkit predict` (no {record_path(output).name} beside it); {keep}")
    changed = differences(recorded, record, data)
    if changed:
        raise InputError(f"{output}: made from another {', '.join(changed[:4])}{' and more' if len(changed) > 4 else ''}; {keep}")
    written = output.read_bytes()
    *complete, torn = written.split(b"\n")
    for number, raw in enumerate(complete, start=1):
        try:
            identifier = json.loads(raw)["id"]
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{output}:{number}: not a record of `ner-toolkit predict`; {keep}") from None
        if number > len(items) or items[number - 1].id != identifier:
            expected = repr(items[number - 1].id) if number <= len(items) else "no document"
            raise InputError(f"{output}:{number}: holds document {identifier!r} where the input has {expected}; {keep}")
    if torn:
        with output.open("r+b") as handle:
            handle.truncate(len(written) - len(torn))
    return len(complete)


def predict(
    tagger: Tagger,
    source: str,
    data: bytes,
    output: Path | None,
    input_format: InputFormat = "text",
    output_format: str = "jsonl",
    resume: bool = False,
    batch_size: int | None = None,
    log: IO[str] = sys.stderr,
    model_version: str | None = None,
) -> dict[str, int]:
    """Tag every document of ``data`` into ``output`` (None: stdout); counts of what was done. Raises the input's first error last.

    Document ids are ``NAME:LINE`` with the input file's name, however its path is spelled.
    An output file gets a record of what it was made from beside it (``provenance``);
    ``resume`` continues an output only when that record matches. ``batch_size`` is the
    number of sentences decoded together (default: the tagger's). ``model_version`` names
    the model in outputs that say where a suggestion came from (Label Studio, Prodigy, spaCy).
    """
    plugins.get_writer(output_format)  # an unknown format is an error before any work
    items, error = read_items(data, source, input_format, Path(source).name)
    skipped = 0
    if output is not None:
        if resume and output_format != RESUMABLE:
            raise InputError(f"--resume needs --output-format {RESUMABLE} (its records carry the document ids)")
        digests = (read_record(output) or {}).get(DIGESTS, {})
        record = made_from(tagger, data, input_format, output_format, digests)
        if output.exists() and output.stat().st_size:
            if not resume:
                raise InputError(f"{output} exists; pass --resume to continue it, or remove it")
            skipped = resumable(output, record, items, data)
            items = items[skipped:]
        write_record(output, record, digests)
    counts = {"documents": 0, "sentences": 0, "entities": 0, "cut_sentences": 0, "sentences_with_diagnostics": 0, "skipped": skipped}
    with opened_writer(output_format, output, model_version, append=bool(skipped)) as writer:
        inputs = (item.text if item.tokens is None else Tokenized.from_tokens(item.tokens) for item in items)
        for document in tagger.pipe(inputs, batch_size, ids=(item.id for item in items)):
            writer.write(document)
            writer.handle.flush()
            counts["documents"] += 1
            counts["sentences"] += len(document.sentences)
            counts["entities"] += len(document.entities)
            counts["cut_sentences"] += len(document.warnings)
            counts["sentences_with_diagnostics"] += sum(1 for p in document.predictions if p.diagnostics)
            for warning in document.warnings:
                print(f"warning: {warning}", file=log)
    if error is not None:
        raise error
    return counts
