"""A corpus reader in a package of its own: one sentence per line, entities as inline tags.

``<PER>Hussain</PER> , considered surplus to <LOC>England</LOC> 's one-day requirements``:
the MUC/ENAMEX style of older NER corpora. Tokens are separated by spaces; a tag may only
wrap whole tokens. Errors name the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

from ner_toolkit import Reader, Sentence, Span, hookimpl

TAG = re.compile(r"<(/?)([A-Za-z_]+)>")


class EnamexReader(Reader):
    """One sentence per line with entities as inline tags: <PER>Hussain</PER> , considered ..."""

    name = "enamex"

    def read(self, path: Path) -> list[Sentence]:
        sentences = []
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                sentences.append(self._sentence(f"{Path(path).name}:{number}", line))
        return sentences

    def _sentence(self, where: str, line: str) -> Sentence:
        tokens: list[str] = []
        spans: list[Span] = []
        open_label, start = None, 0
        for word in line.split():
            for match in TAG.finditer(word):
                closing, label = match.groups()
                if closing and open_label != label:
                    raise ValueError(f"{where}: </{label}> closes {'nothing' if open_label is None else f'<{open_label}>'}")
                if not closing and open_label is not None:
                    raise ValueError(f"{where}: <{label}> inside <{open_label}>")
                if not closing and match.start() == 0:
                    open_label, start = label, len(tokens)
                elif closing and match.end() == len(word):
                    spans.append(Span(start, len(tokens) + 1, label))
                    open_label = None
                else:
                    raise ValueError(f"{where}: the tag {match.group()} cuts the token {word!r}")
            tokens.append(TAG.sub("", word))
        if open_label is not None:
            raise ValueError(f"{where}: <{open_label}> is never closed")
        return Sentence(where, tuple(tokens), tuple(spans))


@hookimpl
def register_readers(register):
    register(EnamexReader)
