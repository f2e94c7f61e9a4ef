"""The ``hf`` reader: Hugging Face datasets with a token column and a tag column (``tokens``, ``ner_tags``).

A split is a folder written by ``Dataset.save_to_disk`` (a ``DatasetDict`` saved to disk
has one such folder per split: ``data.test: conll/test``), or a ``.parquet``, ``.arrow``
or ``.json``/``.jsonl`` file. Nothing is downloaded. Tags are ClassLabel ids (read by
their names) or strings, in the scheme the option gives or, by default, the one the tags
show: ``S-``/``E-`` are IOBES, ``U-``/``L-`` BILOU, an ``I-`` that starts an entity IOB1,
bare labels beside ``O`` IO (Few-NERD's ``person-actor``), else IOB2. Corpora whose label names differ from the recipe's are mapped by
``data.label_map``. A sentence's id is the id column's value, else ``NAME:ROW``.

``datasets`` is imported when a file is read, not when the plugin is registered, so
``import ner_toolkit`` stays light (``pip install "ner-toolkit-core[hf]"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..hookspecs import hookimpl
from ..interfaces import Reader
from ..schemes import Scheme, TagError, tags_to_spans
from ..spans import Sentence, Span

SUFFIXES = (".parquet", ".arrow", ".json", ".jsonl")


class HFFormatError(ValueError):
    """A dataset that cannot be read as tagged sentences; the message names the dataset, row and column."""


class HFOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: str = Field("tokens", description="column of each sentence's tokens")
    tags: str = Field("ner_tags", description="column of each sentence's tags: ClassLabel ids or strings")
    id: str | None = Field(None, description="column of sentence ids (default: NAME:ROW)")
    document_id: str | None = Field(None, description="column naming each sentence's document")
    scheme: Scheme | Literal["IO", "auto"] = Field(
        "auto", description="tag scheme; IO: bare labels, a run of one label is an entity; auto: the one the tags show"
    )


def load(path: Path) -> Any:
    """The ``datasets.Dataset`` at ``path``: a ``save_to_disk`` folder, or a parquet, arrow or JSON file."""
    import datasets

    if path.is_dir():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            raise HFFormatError(f"{path}: holds the splits {', '.join(loaded)}; name one of their folders (e.g. {path / next(iter(loaded))})")
        return loaded
    if path.suffix == ".parquet":
        return datasets.Dataset.from_parquet(str(path), keep_in_memory=True)
    if path.suffix == ".arrow":
        return datasets.Dataset.from_file(str(path))
    if path.suffix in (".json", ".jsonl"):
        return datasets.Dataset.from_json(str(path), keep_in_memory=True)
    raise HFFormatError(f"{path}: not a dataset folder or a {', '.join(SUFFIXES)} file")


PREFIXES = ("B-", "I-", "E-", "S-", "L-", "U-")


def tag_style(tags: set[str]) -> tuple[Literal["prefixed", "IO"], list[str]]:
    """Whether a corpus's tags carry B-/I-/... prefixes or are bare labels (IO, as Few-NERD's ``person-actor``),
    and the tags that fit neither (a mix of the two, or no ``O`` beside bare labels)."""
    entity_tags = tags - {"O"}
    prefixed = {tag for tag in entity_tags if tag.startswith(PREFIXES) and len(tag) > 2}
    if prefixed == entity_tags:
        return "prefixed", []
    if not prefixed and "O" in tags:
        return "IO", []
    return "prefixed", sorted(entity_tags - prefixed if prefixed else entity_tags)[:3]


def detect_scheme(sequences: Sequence[Sequence[str]]) -> Scheme:
    """The scheme prefixed tags show: S-/E- IOBES, U-/L- BILOU, an I- that starts an entity IOB1, else IOB2."""
    prefixes = {tag.partition("-")[0] for tags in sequences for tag in tags if tag != "O"}
    if prefixes & {"S", "E"}:
        return Scheme.IOBES
    if prefixes & {"U", "L"}:
        return Scheme.BILOU
    for tags in sequences:
        previous = "O"
        for tag in tags:
            if tag.startswith("I-") and (previous == "O" or previous.partition("-")[2] != tag[2:]):
                return Scheme.IOB1
            previous = tag
    return Scheme.IOB2


def io_spans(tags: Sequence[str]) -> list[Span]:
    """Spans of IO tags: each run of one label is an entity (two touching entities of one label cannot be told apart)."""
    spans: list[Span] = []
    start = 0
    for tag, run in groupby(tags):
        end = start + len(list(run))
        if tag != "O":
            spans.append(Span(start, end, tag))
        start = end
    return spans


class HFReader(Reader):
    """Hugging Face datasets (save_to_disk folders, parquet, arrow, JSON) with token and tag columns."""

    name = "hf"
    Options = HFOptions
    options: HFOptions
    reads_folders: ClassVar[bool] = True

    def read(self, path: Path) -> list[Sentence]:
        path = Path(path)
        dataset = load(path)
        o = self.options
        for column in (o.tokens, o.tags, o.id, o.document_id):
            if column is not None and column not in dataset.column_names:
                raise HFFormatError(f"{path}: no column {column!r} (columns: {', '.join(dataset.column_names)})")
        names = self._tag_names(dataset)
        rows = dataset.to_dict()
        tag_rows = [[str(names[t]) if names is not None else str(t) for t in tags] for tags in rows[o.tags]]
        seen = set(names) if names is not None else {tag for tags in tag_rows for tag in tags}
        scheme: Scheme | Literal["IO"]
        if o.scheme == "auto":
            style, odd = tag_style(seen)
            if odd:
                row = next((r for r, tags in enumerate(tag_rows) if odd[0] in tags), None) if names is None else None
                where = f"{path}: column {o.tags!r}: ClassLabel names" if row is None else f"{path} row {row}, column {o.tags!r}: tags"
                raise HFFormatError(f"{where} {odd} are not tags: expected 'O' and B-/I-/E-/S-/L-/U- plus a label, "
                                    "or 'O' and bare labels (IO)")
            scheme = "IO" if style == "IO" else detect_scheme(tag_rows)
        else:
            scheme = o.scheme if o.scheme == "IO" else Scheme(o.scheme)
        sentences = []
        for row, (tokens, tags) in enumerate(zip(rows[o.tokens], tag_rows)):
            where = f"{path} row {row}"
            if len(tokens) != len(tags):
                raise HFFormatError(f"{where}: {len(tokens)} tokens in column {o.tokens!r} but {len(tags)} tags in column {o.tags!r}")
            try:
                spans = io_spans(tags) if scheme == "IO" else tags_to_spans(tags, scheme)
            except TagError as error:
                raise HFFormatError(f"{where}, column {o.tags!r}, token {error.index}: {error}") from None
            identifier = rows[o.id][row] if o.id else f"{path.name}:{row}"
            document = rows[o.document_id][row] if o.document_id else None
            sentences.append(Sentence(str(identifier), tuple(str(t) for t in tokens), tuple(spans),
                                      None if document is None else str(document), source=f"{where}, column {o.tags!r}"))
        return sentences

    def _tag_names(self, dataset: Any) -> list[str] | None:
        """The tag of each ClassLabel id; None when the column holds strings."""
        feature = getattr(dataset.features[self.options.tags], "feature", None)
        names = getattr(feature, "names", None)
        return None if names is None else [str(name) for name in names]


@hookimpl
def register_readers(register: Any) -> None:
    register(HFReader)
