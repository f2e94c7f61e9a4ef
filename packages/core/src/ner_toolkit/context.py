"""Document context: the sentences around a sentence in its document, shown to the model with it.

Only the sentence itself is rewritten by the model; its neighbours are read-only context,
so the copy grammar, speculative copying, alignment and scoring see that sentence alone.
The context comes after the instruction in the prompt, so prompts still share their
instruction as a prefix (in training and in the decoder's prefix cache).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby

from .spans import Sentence

MAX_CONTEXT = 8
"""The most neighbours on each side a recipe may ask for."""

CONTEXT_NOTE = (
    "The input gives the sentences before and after it in its document as context; "
    "mark entities in the input sentence only."
)
"""Added to a format's built-in instruction when prompts carry context."""


@dataclass(frozen=True)
class Context:
    """The rendered inputs of a sentence's neighbours, nearest last before it and nearest first after it."""

    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    def around(self, sentence_input: str) -> str:
        """The model input: the context before, the context after, then the sentence to rewrite."""
        before, after = " ".join(self.before), " ".join(self.after)
        return f"Context before: {before}".rstrip() + "\n" + f"Context after: {after}".rstrip() + f"\nSentence: {sentence_input}"


def document_contexts(sentences: Sequence[Sentence], k: int, render: Callable[[Sequence[str]], str]) -> list[Context]:
    """Each sentence's ``k`` neighbours on either side from its own document, rendered by ``render``.

    A document is a run of consecutive sentences with the same ``document_id``; a sentence
    without one is a document by itself. ``-DOCSTART-`` lines and empty sentences are never
    neighbours.
    """
    if k < 0:
        raise ValueError(f"context must be at least 0 sentences, not {k}")
    contexts: list[Context] = []
    for document, run in groupby(sentences, key=lambda s: s.document_id):
        members = list(run)
        if document is None:
            contexts.extend(Context() for _ in members)
            continue
        texts = [render(s.tokens) if s.tokens and not s.is_docstart else None for s in members]
        positions = [i for i, text in enumerate(texts) if text is not None]
        rank = {position: n for n, position in enumerate(positions)}
        for i in range(len(members)):
            if i not in rank or k == 0:
                contexts.append(Context())
                continue
            n = rank[i]
            before = tuple(texts[p] for p in positions[max(0, n - k) : n])
            after = tuple(texts[p] for p in positions[n + 1 : n + 1 + k])
            contexts.append(Context(before, after))  # type: ignore[arg-type]
    return contexts
