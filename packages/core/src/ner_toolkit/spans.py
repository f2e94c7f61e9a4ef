"""The core data model: token-offset spans and sentences."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """An entity as token offsets into its sentence: ``tokens[start:end]``, end exclusive."""

    start: int
    end: int
    label: str

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise ValueError(f"invalid span [{self.start}, {self.end}) for {self.label!r}: need 0 <= start < end")

    def __len__(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Sentence:
    """A tokenized sentence with its gold spans.

    ``id`` is stable and human-locatable (``eng.testb:12`` is the sentence whose first
    token stands on line 12 of eng.testb). Spans may nest; CoNLL spans never do.
    """

    id: str
    tokens: tuple[str, ...]
    spans: tuple[Span, ...] = ()
    document_id: str | None = None
    offsets: tuple[tuple[int, int], ...] = ()
    """Each token's ``(start, end)`` characters in the text it was read from; empty for token-only corpora."""
    source: str | None = field(default=None, compare=False)
    """Where the sentence was read (``file:line``) when its id does not say: for error messages."""

    def __post_init__(self) -> None:
        for span in self.spans:
            if span.end > len(self.tokens):
                raise ValueError(f"sentence {self.id}: span {span} ends past its {len(self.tokens)} tokens")
        if self.offsets and len(self.offsets) != len(self.tokens):
            raise ValueError(f"sentence {self.id}: {len(self.offsets)} offsets for {len(self.tokens)} tokens")

    def char_span(self, span: Span) -> tuple[int, int]:
        """The characters a span covers in the original text (needs ``offsets``)."""
        if not self.offsets:
            raise ValueError(f"sentence {self.id} was read without character offsets")
        return self.offsets[span.start][0], self.offsets[span.end - 1][1]

    @property
    def text(self) -> str:
        """The tokens joined by single spaces: the model input of every built-in format."""
        return " ".join(self.tokens)

    @property
    def is_docstart(self) -> bool:
        """True for the one-token ``-DOCSTART-`` pseudo-sentences of CoNLL files."""
        return self.tokens == (DOCSTART,)

    def span_text(self, span: Span) -> str:
        return " ".join(self.tokens[span.start : span.end])


DOCSTART = "-DOCSTART-"


def is_flat(spans: tuple[Span, ...] | list[Span]) -> bool:
    """True when no two spans overlap (tag schemes can only express flat span sets)."""
    ordered = sorted(spans)
    return all(a.end <= b.start for a, b in zip(ordered, ordered[1:]))

