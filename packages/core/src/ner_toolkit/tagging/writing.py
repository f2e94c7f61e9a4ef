"""Write tagged documents with a writer plugin: to a path, a handle, or stdout.

    from ner_toolkit.tagging.writing import write_documents
    write_documents(tagger.pipe(texts), "review.json", "label-studio", model_version="runs/quickstart")

``opened_writer`` is what ``ner-toolkit predict`` writes through: the writer is finished
(closing brackets, a DocBin's bytes) even when tagging stops early, so that everything
tagged so far is in a file the tool can read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .. import plugins
from ..documents import Document
from ..interfaces import Writer


@contextmanager
def opened_writer(
    output_format: str, output: Path | None, model_version: str | None = None, append: bool = False, **options: Any
) -> Iterator[Writer]:
    """The writer ``output_format`` on ``output`` (None: stdout), started; finished and closed on the way out."""
    writer_cls = plugins.get_writer(output_format)
    handle: IO[Any]
    if output is None:
        handle = sys.stdout.buffer if writer_cls.binary else sys.stdout
    else:
        mode = ("a" if append else "w") + ("b" if writer_cls.binary else "")
        handle = output.open(mode) if writer_cls.binary else output.open(mode, encoding="utf-8")
    writer = writer_cls(handle, model_version=model_version, **options)
    try:
        writer.start()
        yield writer
    finally:
        try:
            writer.finish()
        finally:
            if output is None:
                handle.flush()
            else:
                handle.close()


def write_documents(
    documents: Iterable[Document], path: str | Path, output_format: str = "jsonl", model_version: str | None = None, **options: Any
) -> int:
    """Write ``documents`` to ``path`` in ``output_format`` (a writer plugin's name); how many were written."""
    count = 0
    with opened_writer(output_format, Path(path), model_version, **options) as writer:
        for document in documents:
            writer.write(document)
            count += 1
    return count
