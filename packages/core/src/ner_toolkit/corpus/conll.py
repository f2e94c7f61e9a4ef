"""CoNLL column files: read sentences with their spans, write them back, count them.

A file holds one token per line (columns separated by whitespace), blank lines between
sentences, and ``-DOCSTART-`` lines between documents. Sentence ids are
``<file name>:<line of the first token>``, so any sentence can be found in its file.

The reader is strict where a silent misreading would be easy:

- every token line of a file must have as many columns as its first token line: a line
  that lost its tag column would otherwise be read with the chunk column as its tag
  (``I-NP``: an entity of type ``NP``, no error);
- files are UTF-8; a leading byte-order mark is skipped (it would otherwise turn the first
  ``-DOCSTART-`` into an ordinary token), and bytes that are not UTF-8 (Latin-1, binary)
  or NUL bytes are an error naming the file, line and byte offset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from ..schemes import Scheme, TagError, spans_to_tags, tags_to_spans
from ..spans import DOCSTART, Sentence, Span
from ..textio import BOM, TextError, read_lines

DocstartMode = Literal["skip", "keep"]


class CoNLLFormatError(ValueError):
    """A malformed CoNLL file; the message names the file and line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = path, line


def _lines(path: Path) -> list[str]:
    try:
        return read_lines(path, path.name)
    except TextError as error:
        raise CoNLLFormatError(error.name, error.line, error.reason) from None


def read_conll(
    path: str | Path,
    scheme: Scheme | str = Scheme.IOB1,
    tag_column: int = -1,
    docstart: DocstartMode = "skip",
) -> list[Sentence]:
    """Read a CoNLL file into sentences.

    ``tag_column`` picks the label column (negative counts from the right);
    ``docstart="keep"`` keeps each ``-DOCSTART-`` line as a one-token sentence with no span.
    """
    path = Path(path)
    return list(iter_conll(_lines(path), path.name, scheme, tag_column, docstart))


def iter_conll(
    lines: Iterable[str],
    name: str,
    scheme: Scheme | str = Scheme.IOB1,
    tag_column: int = -1,
    docstart: DocstartMode = "skip",
) -> Iterable[Sentence]:
    """Yield sentences from the lines of a CoNLL file called ``name`` (used in ids and errors).

    Every token line must have as many columns as the first one (see the module docstring);
    a byte-order mark at the start of the first line is ignored.
    """
    scheme = Scheme(scheme)
    if docstart not in ("skip", "keep"):
        raise ValueError(f"docstart must be 'skip' or 'keep', not {docstart!r}")
    documents = 0
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    width = 0  # columns of the file's first token line
    width_line = 0

    def finish() -> Sentence:
        try:
            spans = tags_to_spans(tags, scheme)
        except TagError as error:
            raise CoNLLFormatError(name, first_line + error.index, str(error)) from None
        document = f"{name}:doc{documents}" if documents else None
        return Sentence(f"{name}:{first_line}", tuple(tokens), tuple(spans), document)

    for number, line in enumerate(lines, start=1):
        if number == 1:
            line = line.removeprefix(BOM)
        columns = line.split()
        if not columns:
            if tokens:
                yield finish()
                tokens, tags = [], []
            continue
        if columns[0] == DOCSTART:
            if tokens:
                yield finish()
                tokens, tags = [], []
            documents += 1
            if docstart == "keep":
                yield Sentence(f"{name}:{number}", (DOCSTART,), (), f"{name}:doc{documents}")
            continue
        if len(columns) < 2 or not -len(columns) <= tag_column < len(columns) or tag_column == 0:
            raise CoNLLFormatError(
                name, number, f"expected a token and a tag in column {tag_column}, found {len(columns)} column(s): {line.rstrip()!r}"
            )
        if not width:
            width, width_line = len(columns), number
        elif len(columns) != width:
            raise CoNLLFormatError(
                name, number,
                f"{len(columns)} column(s) where line {width_line}, the first token line, has {width} "
                f"(a missing or extra column would shift the tag column): {line.rstrip()!r}",
            )
        if not tokens:
            first_line = number
        tokens.append(columns[0])
        tags.append(columns[tag_column])
    if tokens:
        yield finish()


def write_conll(
    handle: TextIO,
    sentences: Iterable[Sentence],
    scheme: Scheme | str = Scheme.IOB1,
    predictions: Sequence[Sequence[Span]] | None = None,
) -> None:
    """Write ``token gold-tag [predicted-tag]`` lines, a blank line after each sentence.

    Docstart pseudo-sentences are written as ``-DOCSTART-`` lines. The output is the
    conlleval input layout when ``predictions`` is given.
    """
    for index, sentence in enumerate(sentences):
        if sentence.is_docstart:
            handle.write(f"{DOCSTART} O" + (" O" if predictions is not None else "") + "\n\n")
            continue
        columns = [list(sentence.tokens), spans_to_tags(sentence.spans, len(sentence.tokens), scheme)]
        if predictions is not None:
            columns.append(spans_to_tags(predictions[index], len(sentence.tokens), scheme))
        for row in zip(*columns):
            handle.write(" ".join(row) + "\n")
        handle.write("\n")


@dataclass
class CorpusStats:
    """Counts of a CoNLL file, under both ``-DOCSTART-`` conventions."""

    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)

    @property
    def sentences_with_docstart(self) -> int:
        return self.sentences + self.documents

    @property
    def tokens_with_docstart(self) -> int:
        return self.tokens + self.documents


def corpus_stats(path: str | Path, scheme: Scheme | str = Scheme.IOB1, tag_column: int = -1) -> CorpusStats:
    """Count documents, sentences, tokens, entities per type and raw tags of a CoNLL file."""
    path = Path(path)
    stats = CorpusStats()
    lines = _lines(path)
    for sentence in iter_conll(lines, path.name, scheme, tag_column, docstart="keep"):
        if sentence.is_docstart:
            stats.documents += 1
            continue
        stats.sentences += 1
        stats.tokens += len(sentence.tokens)
        stats.entities.update(span.label for span in sentence.spans)
    for line in lines:
        columns = line.split()
        if columns and columns[0] != DOCSTART:
            stats.tags[columns[tag_column]] += 1
    return stats
