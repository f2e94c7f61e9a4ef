"""Tag schemes (IOB1, IOB2, IOBES, BILOU): tag sequences to spans and back.

Decoding follows the conlleval reading, which accepts every sequence:

- a ``B-`` tag (``S-``/``U-`` too) always starts a new entity;
- an inside or end tag (``I-``, ``E-``, ``L-``) continues the open entity only when that
  entity has the same type and is not closed; otherwise it starts a new one. So IOB2's
  ill-formed ``O I-PER`` reads as a PER entity, and an ``E-`` tag with no ``B-`` reads as
  a one-token entity;
- an end tag (``E-``/``L-``) or single tag (``S-``/``U-``) closes its entity.

Under IOB1, ``B-X`` after ``O`` or another type (eng.train lines 152428 and 175436 have
it) is read the same as ``I-X``: it starts an entity. Encoding writes the canonical form,
so such a sequence comes back with ``I-X`` and the same spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from .spans import Span, is_flat


class Scheme(str, Enum):
    IOB1 = "IOB1"
    IOB2 = "IOB2"
    IOBES = "IOBES"
    BILOU = "BILOU"


#: per scheme: (begin, inside, end, single) prefixes
_PREFIXES: dict[Scheme, tuple[str, str, str | None, str | None]] = {
    Scheme.IOB1: ("B", "I", None, None),
    Scheme.IOB2: ("B", "I", None, None),
    Scheme.IOBES: ("B", "I", "E", "S"),
    Scheme.BILOU: ("B", "I", "L", "U"),
}


class TagError(ValueError):
    """A tag that the scheme does not know; ``index`` is its position in the sequence."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def split_tag(tag: str, scheme: Scheme | str, index: int = 0) -> tuple[str, str | None]:
    """``'I-PER'`` -> ``('I', 'PER')``; ``'O'`` -> ``('O', None)``. Raises TagError."""
    if tag == "O":
        return "O", None
    prefix, sep, label = tag.partition("-")
    allowed = [p for p in _PREFIXES[Scheme(scheme)] if p]
    if not sep or not label or prefix not in allowed:
        raise TagError(
            f"invalid {Scheme(scheme).value} tag {tag!r} (expected 'O' or {'/'.join(allowed)} + '-' + label)",
            index,
        )
    return prefix, label


def tags_to_spans(tags: Sequence[str], scheme: Scheme | str = Scheme.IOB2) -> list[Span]:
    """Read a tag sequence into spans, in order (see the module docstring for ill-formed input)."""
    scheme = Scheme(scheme)
    begin, _inside, end, single = _PREFIXES[scheme]
    spans: list[Span] = []
    open_label: str | None = None
    open_start = 0
    for i, tag in enumerate(tags):
        prefix, label = split_tag(tag, scheme, i)
        if label is None or prefix in (begin, single) or label != open_label:
            if open_label is not None:
                spans.append(Span(open_start, i, open_label))
            open_label, open_start = label, i
        if prefix in (end, single) and open_label is not None:
            spans.append(Span(open_start, i + 1, open_label))
            open_label = None
    if open_label is not None:
        spans.append(Span(open_start, len(tags), open_label))
    return spans


def spans_to_tags(spans: Iterable[Span], length: int, scheme: Scheme | str = Scheme.IOB2) -> list[str]:
    """Write flat spans as ``length`` tags. Raises ValueError for overlapping spans."""
    scheme = Scheme(scheme)
    begin, inside, end, single = _PREFIXES[scheme]
    ordered = sorted(spans)
    if not is_flat(ordered):
        raise ValueError(f"{scheme.value} cannot express overlapping spans: {ordered}")
    tags = ["O"] * length
    previous: Span | None = None
    for span in ordered:
        if span.end > length:
            raise ValueError(f"span {span} ends past the sequence length {length}")
        n = span.end - span.start
        if scheme is Scheme.IOB1:
            adjacent = previous is not None and previous.end == span.start and previous.label == span.label
            first = begin if adjacent else inside
            tags[span.start : span.end] = [f"{first}-{span.label}"] + [f"{inside}-{span.label}"] * (n - 1)
        elif scheme is Scheme.IOB2:
            tags[span.start : span.end] = [f"{begin}-{span.label}"] + [f"{inside}-{span.label}"] * (n - 1)
        elif n == 1:
            tags[span.start] = f"{single}-{span.label}"
        else:
            middle = [f"{inside}-{span.label}"] * (n - 2)
            tags[span.start : span.end] = [f"{begin}-{span.label}", *middle, f"{end}-{span.label}"]
        previous = span
    return tags


def convert_tags(tags: Sequence[str], source: Scheme | str, target: Scheme | str) -> list[str]:
    """Re-encode a tag sequence from one scheme to another (through spans)."""
    return spans_to_tags(tags_to_spans(tags, source), len(tags), target)
