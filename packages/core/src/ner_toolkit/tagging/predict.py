"""``ner-toolkit predict``: tag documents from a file or stdin with a trained model.

Input formats: ``text`` (each non-empty line is a document), ``jsonl`` (records with
``text`` and an optional ``id``), ``conll`` (tokenized sentences, tagged as they are).
Output formats: ``jsonl`` (one record per document: text, entities with character offsets,
per-sentence diagnostics, warnings) and ``conll`` (``token TAG`` in IOB2, a ``-DOCSTART-``
line before each document, readable by the ``conll`` reader).

Every input line is checked before the model loads; a bad line (a record without
``text``, invalid UTF-8, binary data) is an error naming it, raised after the documents
before it have been tagged and written. Output is appended as documents finish; with
``--resume`` a rerun skips the documents already in the output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from ..corpus.conll import write_conll
from ..run.predictions import complete_lines
from ..spans import DOCSTART, Sentence
from ..textio import TextError, text_lines
from .tagger import Document, Tagger, Tokenized

InputFormat = Literal["text", "jsonl", "conll"]
OutputFormat = Literal["jsonl", "conll"]


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


def read_items(data: bytes, name: str, input_format: InputFormat) -> tuple[list[Item], InputError | None]:
    """The documents of an input, and the error that stopped reading it (None when all was read)."""
    items: list[Item] = []
    if input_format == "conll":
        return _conll_items(data, name)
    for number, line in _lines(data, name):
        if isinstance(line, InputError):
            return items, line
        if not line.strip():
            continue
        if input_format == "text":
            items.append(Item(f"{name}:{number}", line))
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            return items, InputError(f"{name}:{number}: not JSON: {error}")
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            return items, InputError(f"{name}:{number}: expected an object with a string 'text', got {line.strip()[:60]}")
        identifier = record.get("id")
        items.append(Item(str(identifier) if identifier is not None else f"{name}:{number}", record["text"]))
    return items, None


def _conll_items(data: bytes, name: str) -> tuple[list[Item], InputError | None]:
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
            items.append(Item(f"{name}:{first}", "\n".join(" ".join(s) for s in sentences), tuple(sentences)))
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


def done_ids(path: Path) -> set[str]:
    """Ids of the documents a JSONL output already holds; a torn last line (a killed run) is cut off."""
    return {json.loads(raw)["id"] for raw in complete_lines(path)}


def write_document(handle: IO[str], document: Document, output_format: OutputFormat) -> None:
    """One document as a JSON record, or as CoNLL lines (IOB2) after a ``-DOCSTART-`` line."""
    if output_format == "jsonl":
        handle.write(json.dumps(document.to_json(), ensure_ascii=False) + "\n")
    else:
        tagged = [Sentence(s.id, s.tokens, p.spans) for s, p in zip(document.sentences, document.predictions)]
        write_conll(handle, [Sentence("docstart", (DOCSTART,)), *tagged], "IOB2")
    handle.flush()


def predict(
    tagger: Tagger,
    source: str,
    data: bytes,
    output: Path | None,
    input_format: InputFormat = "text",
    output_format: OutputFormat = "jsonl",
    resume: bool = False,
    batch_size: int | None = None,
    log: IO[str] = sys.stderr,
) -> dict[str, int]:
    """Tag every document of ``data`` into ``output`` (None: stdout); counts of what was done. Raises the input's first error last.

    ``batch_size`` is the number of sentences decoded together (default: the tagger's).
    """
    items, error = read_items(data, source, input_format)
    skipped = 0
    if output is not None and resume:
        if output_format != "jsonl":
            raise InputError("--resume needs --output-format jsonl (records carry the document ids)")
        seen = done_ids(output)
        skipped = sum(1 for item in items if item.id in seen)
        items = [item for item in items if item.id not in seen]
    elif output is not None and output.exists() and output.stat().st_size:
        raise InputError(f"{output} exists; pass --resume to continue it, or remove it")
    counts = {"documents": 0, "sentences": 0, "entities": 0, "cut_sentences": 0, "sentences_with_diagnostics": 0, "skipped": skipped}
    handle = sys.stdout if output is None else output.open("a", encoding="utf-8")
    try:
        inputs = (item.text if item.tokens is None else Tokenized.from_tokens(item.tokens) for item in items)
        for document in tagger.pipe(inputs, batch_size, ids=(item.id for item in items)):
            write_document(handle, document, output_format)
            counts["documents"] += 1
            counts["sentences"] += len(document.sentences)
            counts["entities"] += len(document.entities)
            counts["cut_sentences"] += len(document.warnings)
            counts["sentences_with_diagnostics"] += sum(1 for p in document.predictions if p.diagnostics)
            for warning in document.warnings:
                print(f"warning: {warning}", file=log)
    finally:
        if output is not None:
            handle.close()
    if error is not None:
        raise error
    return counts
