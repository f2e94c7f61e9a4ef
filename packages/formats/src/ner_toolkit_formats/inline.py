"""Inline formats: the input sentence with its entities wrapped in markup, and their parser.

A format declares its ``Syntax`` (how an opener and a closer look, strictly and loosely);
``InlineFormatter`` does the rest. Parsing takes two roads:

1. Exact: read the output as the input text with markup inserted, openers only at token
   starts and closers only at token ends. A depth-first search (copy a character, or read
   markup, with failed states memoized) finds that reading when it exists, so literal
   brackets or tags in the input (``[ CORRECTED 14:06 GMT ]``) stay text. A model that
   copied its input always takes this road.
2. Loose: otherwise pair the markup with a stack, tolerant of spacing, keep unpaired markup
   as text, and align the remaining text to the input (``align``: whitespace and letter case
   ignored), mapping each entity that aligns onto whole tokens. An output that re-spaces or
   re-cases its input (``Soccer - [Japan | LOC] get lucky win, ...`` for ``SOCCER - JAPAN GET
   LUCKY WIN , ...``) still counts as copied; an entity that matched only ignoring case is
   reported as ``case_mismatch`` and kept.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

from ner_toolkit import InlineMarkup, Span
from ner_toolkit.interfaces import MAX_NESTING

from . import diagnostics as d
from .align import Alignment, TokenText, align
from .base import Parse, TextFormatter, UnrepresentableError


MAX_DEPTH = MAX_NESTING
"""Deeper nesting than this is not read exactly (it falls to the loose road): it bounds the search."""


@dataclass(frozen=True)
class Syntax:
    """The markup of an inline format. Patterns may capture ``label``; ``loose`` names its groups."""

    open: str
    """Opener template, ``{label}`` filled in when rendering."""
    close: str
    """Closer template."""
    label: re.Pattern[str]
    """What a label may look like; render refuses others."""
    exact_open: re.Pattern[str]
    exact_close: re.Pattern[str]
    trigger: re.Pattern[str]
    """Where markup can start: everything between two triggers is plain text."""
    loose: re.Pattern[str]
    """Openers (group ``open``, label ``open_label``) or closers (``close``, ``close_label``), any spacing."""


@dataclass(frozen=True)
class Entity:
    """Markup-delimited text: character offsets into the text it wraps, its label, and where it was written."""

    start: int
    end: int
    label: str | None
    order: int
    mismatched: bool = False


def decompose(output: str, target: TokenText, syntax: Syntax) -> list[Entity] | None:
    """The entities of ``output`` read as ``target.text`` with markup at token boundaries, or None."""
    text, starts, ends = target.text, target.starts, target.ends

    def run(i: int, j: int) -> tuple[int, int] | None:
        """Copy up to the next trigger; None when that stretch is not the input's."""
        found = syntax.trigger.search(output, i)
        k = found.start() if found else len(output)
        if output[i:k] != text[j : j + k - i]:
            return None
        return k, j + k - i

    def moves(i: int, j: int, opens: tuple) -> list[tuple]:
        """The ways on from a trigger, in order of preference: close, open, copy."""
        found: list[tuple] = []
        if opens and j in ends and (m := syntax.exact_close.match(output, i)):
            start, label, at = opens[-1]
            closing = m.groupdict().get("label")
            if j > start and (label is None or closing is None or label == closing):
                found.append((m.end(), j, opens[:-1], Entity(start, j, closing or label, at)))
        if j in starts and len(opens) < MAX_DEPTH and (m := syntax.exact_open.match(output, i)):
            found.append((m.end(), j, (*opens, (j, m.groupdict().get("label"), i)), None))
        if i < len(output) and j < len(text) and output[i] == text[j]:
            found.append((i + 1, j + 1, opens, None))
        return found[::-1]

    first = run(0, 0)
    if first is None:
        return None
    frames: list[list] = [[*first, (), None, None]]
    failed: set[tuple] = set()
    budget = 64 + 16 * len(output)
    while frames and budget > 0:
        budget -= 1
        frame = frames[-1]
        i, j, opens, _, pending = frame
        if i == len(output) and j == len(text) and not opens:
            return [frame[3] for frame in frames if frame[3] is not None]
        if pending is None:
            pending = frame[4] = moves(i, j, opens)
        while pending:
            ni, nj, nopens, entity = pending.pop()
            step = run(ni, nj)
            if step is not None and (*step, nopens) not in failed:
                frames.append([*step, nopens, entity, None])
                break
        else:
            failed.add((i, j, opens))
            frames.pop()
    return None


@dataclass(frozen=True)
class Loose:
    """An output read without the input: its text without markup, entities and unpaired markup in it."""

    plain: str
    entities: list[Entity]
    strays: list[tuple[int, int]]


def read_loose(output: str, syntax: Syntax) -> Loose:
    """Pair openers and closers with a stack, tolerant of spacing; unpaired markup stays text."""
    marks = list(syntax.loose.finditer(output))
    partner: dict[int, int] = {}
    stack: list[int] = []
    for index, mark in enumerate(marks):
        if mark.lastgroup == "open":
            stack.append(index)
            continue
        label = mark.group("close_label")
        depth = next(
            (k for k in range(len(stack) - 1, -1, -1) if marks[stack[k]].groupdict().get("open_label") in (None, label)),
            len(stack) - 1,
        )
        if depth >= 0:
            partner[stack[depth]], partner[index] = index, stack[depth]
            del stack[depth:]
    plain: list[str] = []
    size = 0
    opened: dict[int, int] = {}
    entities: list[Entity] = []
    strays: list[tuple[int, int]] = []
    position = 0
    for index, mark in enumerate(marks):
        plain.append(output[position : mark.start()])
        size += mark.start() - position
        position = mark.end()
        if index not in partner:
            plain.append(mark.group())
            strays.append((size, size + len(mark.group())))
            size += len(mark.group())
        elif mark.lastgroup == "open":
            opened[index] = size
        else:
            opener = marks[partner[index]]
            open_label, close_label = opener.groupdict().get("open_label"), mark.group("close_label")
            mismatched = open_label is not None and open_label != close_label
            label = None if mismatched else close_label
            entities.append(Entity(opened[partner[index]], size, label, opener.start(), mismatched))
    plain.append(output[position:])
    return Loose("".join(plain), sorted(entities, key=lambda entity: entity.order), strays)


class InlineFormatter(TextFormatter):
    """A format that wraps entities in the sentence itself; subclasses declare ``syntax``."""

    syntax: ClassVar[Syntax]

    def inline_markup(self) -> InlineMarkup:
        return InlineMarkup(self.syntax.open, self.syntax.close, MAX_DEPTH if self.options.nested else 1)

    def _render(self, text: TokenText, spans: list[Span]) -> str:
        opening = sorted(spans, key=lambda span: (span.start, -span.end, span.label))
        _check_laminar(opening)
        opens: dict[int, list[str]] = defaultdict(list)
        closes: dict[int, list[str]] = defaultdict(list)
        for span in opening:
            if not self.syntax.label.fullmatch(span.label):
                raise UnrepresentableError(f"{self.name} cannot write the label {span.label!r}")
            opens[span.start].append(self.syntax.open.format(label=span.label))
            closes[span.end - 1].insert(0, self.syntax.close.format(label=span.label))
        return " ".join(
            "".join(opens[i]) + token + "".join(closes[i]) if i in opens or i in closes else token
            for i, token in enumerate(text.tokens)
        )

    def _may_be_ambiguous(self, text: TokenText, spans: list[Span]) -> bool:
        return self.syntax.trigger.search(text.text) is not None

    def _parse(self, output: str, parse: Parse) -> None:
        entities = decompose(output, parse.text, self.syntax)
        if entities is not None:
            text = parse.text.text
            self._collect(sorted(entities, key=lambda entity: entity.order), text, align(text, text), parse)
            return
        loose = read_loose(output, self.syntax)
        alignment = align(loose.plain, parse.text.text)
        if not alignment.copied:
            parse.copied = False
            parse.report(d.TEXT_MISMATCH, f"output text {_cut(loose.plain)!r} differs from the input")
        if alignment.capped is not None:
            parse.report(
                d.ALIGNMENT_CAPPED,
                f"output of {len(loose.plain):,} characters too different from its input to align past character "
                f"{alignment.capped:,} within the work budget",
            )
        for start, end in loose.strays:
            if alignment.map_range(start, end) is None:
                parse.report(d.UNBALANCED_MARKUP, f"unpaired markup {loose.plain[start:end]!r}")
        self._collect(loose.entities, loose.plain, alignment, parse)

    def _collect(self, entities: list[Entity], plain: str, alignment: Alignment, parse: Parse) -> None:
        """Turn entities (offsets into ``plain``) into mentions and, where they align, spans."""
        for entity in entities:
            written = plain[entity.start : entity.end]
            if entity.mismatched:
                parse.report(d.MISMATCHED_TAG, f"entity {written.strip()!r}: closing tag differs from opening tag")
                continue
            if not parse.mention(written, entity.label or ""):
                continue
            chars = alignment.map_range(entity.start, entity.end)
            tokens = parse.text.token_range(*chars) if chars else None
            if chars is None:
                parse.report(d.ENTITY_NOT_IN_INPUT, f"entity {written.strip()!r} does not align to the input")
            elif tokens is None:
                parse.report(d.PARTIAL_TOKEN, f"entity {written.strip()!r} starts or ends inside an input token")
            else:
                if not alignment.same_text and _compact(written) != _compact(parse.text.text[chars[0] : chars[1]]):
                    parse.report(d.CASE_MISMATCH, f"entity {written.strip()!r} matches the input only ignoring case")
                parse.add(tokens, entity.label or "")


def _compact(text: str) -> str:
    return "".join(text.split())


def _cut(text: str, limit: int = 300) -> str:
    """A long text shortened for a diagnostic message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_laminar(opening: list[Span]) -> None:
    """Refuse crossing spans, which inline markup cannot write."""
    stack: list[Span] = []
    for span in opening:
        while stack and stack[-1].end <= span.start:
            stack.pop()
        if stack and span.end > stack[-1].end:
            raise UnrepresentableError(f"crossing spans {stack[-1]} and {span} cannot be written inline")
        stack.append(span)
