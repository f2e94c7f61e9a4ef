"""What every built-in format shares: options, the total ``parse`` wrapper, and span collection.

A format subclasses ``TextFormatter`` and writes two methods: ``_render(text, spans)`` and
``_parse(output, parse)``, where ``parse`` is a ``Parse`` that collects mentions, spans and
diagnostics. The wrapper cuts the output to its first line, catches any bug as an
``internal_error`` diagnostic (tests assert there is none), resolves overlaps for a flat
label set, and returns spans deduplicated and sorted.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from ner_toolkit import Diagnostic, Formatter, Mention, ParseResult, Span
from ner_toolkit.spans import is_flat
from pydantic import BaseModel, ConfigDict

from . import diagnostics as d
from .align import TokenText, fold


class FormatOptions(BaseModel):
    """Options every built-in format takes (a recipe's ``format.options``)."""

    model_config = ConfigDict(extra="forbid")

    first_line_only: bool = True
    """Discard everything after the first newline of an output before parsing, as the reference does."""
    keep_unknown_labels: bool = True
    """Keep entities whose label is outside the label set (``[Japan | COUNTRY]``, ``[China | per]``)
    as spans, so that every scorer counts them as wrong predictions; they are reported as
    ``unknown_label`` either way. ``False`` drops them before scoring, which hides a wrong
    prediction (precision 1.0 where it is 0.5): only for a caller that scores them itself."""
    nested: bool = False
    """Spans may nest or overlap. Off for flat label sets such as CoNLL-2003: an entity inside
    another is then reported as ``nested_entity`` and dropped, and rendering nested spans is refused."""


class UnrepresentableError(ValueError):
    """A sentence whose spans this format cannot write so that they parse back unambiguously."""


class Parse:
    """The spans, mentions and diagnostics collected while parsing one output."""

    def __init__(self, formatter: TextFormatter, tokens: Sequence[str]) -> None:
        self.text = TokenText(tokens)
        self.label_names = formatter.label_names
        self.options = formatter.options
        self.diagnostics: list[Diagnostic] = []
        self.mentions: list[Mention] = []
        self.spans: list[Span] = []
        self.copied = True

    def report(self, kind: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(kind, message))

    def mention(self, written: str, label: str) -> bool:
        """Record an entity as written; False (with a diagnostic) when it cannot become a span.

        A label outside the label set is reported and still kept (a predicted entity of a
        wrong type is a wrong prediction, not nothing), unless ``keep_unknown_labels`` is off.
        """
        if not written.strip():
            self.report(d.EMPTY_ENTITY, f"empty entity labelled {label!r}")
            return False
        if not label:
            self.report(d.MISSING_LABEL, f"entity {written!r} has no label")
            return False
        if label not in self.label_names:
            self.report(d.UNKNOWN_LABEL, f"entity {written!r} has label {label!r}, not in the label set")
            if not self.options.keep_unknown_labels:
                return False
        self.mentions.append(Mention(written.strip(), label))
        return True

    def add(self, tokens: tuple[int, int], label: str) -> None:
        self.spans.append(Span(tokens[0], tokens[1], label))

    def locate(self, written: str) -> list[tuple[int, int]]:
        """Whole-token occurrences of an entity's text: exactly, else ignoring whitespace, else case too.

        A match found only by ignoring case is reported as ``case_mismatch`` and used.
        """
        found = self.text.find(written)
        if not found:
            found = self.text.folded_occurrences(written)
            if found:
                self.report(d.CASE_MISMATCH, f"entity {written!r} matches the input only ignoring case")
        return found

    def not_found(self, written: str) -> None:
        """Report an entity whose text is nowhere in the input as whole tokens."""
        compact = fold("".join(written.split()))
        if compact and compact in fold("".join(self.text.text.split())):
            self.report(d.PARTIAL_TOKEN, f"entity {written!r} starts or ends inside an input token")
        else:
            self.report(d.ENTITY_NOT_IN_INPUT, f"entity {written!r} is not in the input")
            self.copied = False

    def result(self) -> ParseResult:
        unique = list(dict.fromkeys(self.spans))
        spans = unique if self.options.nested else self._flatten(unique)
        return ParseResult(tuple(sorted(spans)), tuple(self.diagnostics), tuple(self.mentions), self.copied)

    def _flatten(self, spans: list[Span]) -> list[Span]:
        """Keep the longest, earliest-written spans that do not overlap; report the others.

        Linear in the tokens covered: each token records which kept span holds it (kept
        spans never overlap), so a span's first-kept overlapping span is found on its tokens.
        """
        kept: list[Span] = []
        holder: dict[int, int] = {}  # token -> index into kept
        for span in sorted(spans, key=lambda span: -len(span)):
            held = [holder[t] for t in range(span.start, span.end) if t in holder]
            other = kept[min(held)] if held else None
            if other is None:
                holder.update((t, len(kept)) for t in range(span.start, span.end))
                kept.append(span)
            elif other.start <= span.start and span.end <= other.end and len(span) < len(other):
                self.report(d.NESTED_ENTITY, f"{span} lies inside {other} and the label set is flat")
            else:
                self.report(d.OVERLAPPING_ENTITY, f"{span} overlaps {other}")
        return kept


class TextFormatter(Formatter):
    """A Formatter with the shared options, total parsing and render-time checks."""

    Options: ClassVar[type[BaseModel]] = FormatOptions
    options: FormatOptions

    def render(self, tokens: Sequence[str], spans: Sequence[Span]) -> str:
        """The training target; raises UnrepresentableError rather than write an ambiguous one."""
        ordered = sorted(set(spans))
        text = TokenText(tokens)
        if text.text.split() != list(text.tokens):
            raise UnrepresentableError(f"tokens must be non-empty and hold no whitespace: {list(tokens)!r}")
        if not self.options.nested and not is_flat(ordered):
            raise UnrepresentableError(f"nested spans {ordered} in a flat label set (set the option nested=True)")
        target = self._render(text, ordered)
        if self._may_be_ambiguous(text, ordered) and self.parse(target, tokens).spans != tuple(ordered):
            raise UnrepresentableError(f"{self.name} cannot write {ordered} on {list(tokens)!r} unambiguously")
        return target

    def parse(self, output: str, tokens: Sequence[str]) -> ParseResult:
        """Spans on ``tokens`` plus diagnostics for a raw model output; never raises."""
        parse = Parse(self, tokens)
        try:
            self._parse(self._first_line(output, parse), parse)
        except Exception as error:  # the totality guard: a bug becomes a counted diagnostic
            parse.report(d.INTERNAL_ERROR, f"{type(error).__name__}: {error}")
        return parse.result()

    def _first_line(self, output: str, parse: Parse) -> str:
        if not self.options.first_line_only:
            return output.strip()
        line, _, rest = output.partition("\n")
        if rest.strip():
            parse.report(d.TRAILING_LINES, f"discarded {len(rest.splitlines())} line(s) after the first")
        return line.strip()

    def _may_be_ambiguous(self, text: TokenText, spans: list[Span]) -> bool:
        """Whether a rendered target must be parsed back to check it (a cheap test; True is safe)."""
        return False

    @abstractmethod
    def _render(self, text: TokenText, spans: list[Span]) -> str:
        """The target for sorted, deduplicated spans."""

    @abstractmethod
    def _parse(self, output: str, parse: Parse) -> None:
        """Read one output line into ``parse``; may raise only on a bug."""
