"""The ``spacy`` writer: a ``.spacy`` DocBin, what ``spacy train`` and ``spacy.tokens.DocBin`` read (needs ``ner-toolkit[spacy]``).

Each document becomes a ``Doc`` whose tokens are the toolkit's (whitespace between them
kept as spaCy's trailing spaces or whitespace tokens, so ``doc.text`` is the document's
text), with every entity in ``doc.spans["entities"]`` and in ``doc.ents`` (where nested
entities overlap, ``doc.ents`` keeps the longest, as ``spacy.util.filter_spans`` does); the
document id is kept in ``doc.user_data["id"]``. The file is written once the last document
is tagged.
"""

from __future__ import annotations

from typing import Any

from ..documents import Document
from ..hookspecs import hookimpl
from ..interfaces import Writer


def _words(text: str, offsets: list[tuple[int, int]]) -> tuple[list[str], list[bool]]:
    """spaCy words and trailing-space flags that rebuild ``text`` exactly from tokens at ``offsets``."""
    words: list[str] = []
    spaces: list[bool] = []
    at = 0
    for start, end in [*offsets, (len(text), len(text))]:
        gap = text[at:start]
        if gap == " " and words:
            spaces[-1] = True
        elif gap:
            if words and gap.startswith(" "):
                spaces[-1], gap = True, gap[1:]
            words.append(gap)  # other whitespace becomes a whitespace token
            spaces.append(False)
        if start < end:
            words.append(text[start:end])
            spaces.append(False)
        at = end
    return words, spaces


class DocBinWriter(Writer):
    """A spaCy DocBin (.spacy file): each document a Doc with its entities in doc.ents and doc.spans."""

    name = "spacy"
    binary = True

    def start(self) -> None:
        from spacy.tokens import DocBin
        from spacy.vocab import Vocab

        self.vocab = Vocab()
        self.docs = DocBin(attrs=["ENT_IOB", "ENT_TYPE"], store_user_data=True)

    def write(self, document: Document) -> None:
        from spacy.tokens import Doc
        from spacy.util import filter_spans

        words, spaces = _words(document.text, document.token_offsets)
        doc = Doc(self.vocab, words=words, spaces=spaces)
        spans = []
        for entity in document.entities:
            span = doc.char_span(entity.start, entity.end, label=entity.label)
            if span is None:
                raise ValueError(f"{document.id or 'document'}: entity {entity.text!r} at [{entity.start}, {entity.end}) "
                                 "does not start and end at tokens")
            spans.append(span)
        doc.spans["entities"] = spans
        doc.ents = filter_spans(spans)
        if document.id is not None:
            doc.user_data["id"] = document.id
        if self.model_version is not None:
            doc.user_data["model"] = self.model_version
        self.docs.add(doc)

    def finish(self) -> None:
        self.handle.write(self.docs.to_bytes())


@hookimpl
def register_writers(register: Any) -> None:
    register(DocBinWriter)
