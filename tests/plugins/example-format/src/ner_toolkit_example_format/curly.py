"""An inline format in a package of its own: ``{EU}(ORG) rejects {German}(MISC) call``.

It declares its ``inline_markup``, so constrained and speculative decoding work with it
with no code in any trainer package. Its parser reads the output against the input's
tokens; anything else is a diagnostic, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ner_toolkit import Diagnostic, Formatter, InlineMarkup, Mention, ParseResult, Span, hookimpl

CLOSER = re.compile(r"\}\((?P<label>[^()\s]+)\)")


class Curly(Formatter):
    """Entities wrapped inline as {Entity Text}(LABEL)."""

    name = "curly"
    output_description = "rewrite the sentence by enclosing each entity using the format {Entity Text}(LABEL)."

    def inline_markup(self) -> InlineMarkup:
        return InlineMarkup(open="{", close="}({label})", max_depth=1)

    def render(self, tokens: Sequence[str], spans: Sequence[Span]) -> str:
        opens = {span.start: span for span in spans}
        closes = {span.end - 1: span for span in spans}
        return " ".join(
            ("{" if i in opens else "") + token + (f"}}({closes[i].label})" if i in closes else "")
            for i, token in enumerate(tokens)
        )

    def parse(self, output: str, tokens: Sequence[str]) -> ParseResult:
        line = output.split("\n", 1)[0].strip()
        spans: list[Span] = []
        mentions: list[Mention] = []
        at, start = 0, None
        for i, token in enumerate(tokens):
            if i and line.startswith(" ", at):
                at += 1
            if start is None and line.startswith("{", at) and not token.startswith("{"):
                start, at = i, at + 1
            if not line.startswith(token, at):
                problem = Diagnostic("text_mismatch", f"expected {token!r} at character {at}, found {line[at:at + 20]!r}")
                return ParseResult(tuple(spans), (problem,), tuple(mentions), copied_input=False)
            at += len(token)
            closer = CLOSER.match(line, at) if start is not None else None
            if closer:
                label = closer.group("label")
                mentions.append(Mention(" ".join(tokens[start : i + 1]), label))
                if label in self.label_names:
                    spans.append(Span(start, i + 1, label))
                start, at = None, closer.end()
        diagnostics = []
        if start is not None:
            diagnostics.append(Diagnostic("unbalanced_markup", f"entity opened before token {start} is never closed"))
        if at != len(line):
            diagnostics.append(Diagnostic("text_mismatch", f"unexpected text after the input: {line[at:at + 20]!r}"))
        diagnostics += [Diagnostic("unknown_label", f"{m.text!r} has label {m.label!r}") for m in mentions if m.label not in self.label_names]
        return ParseResult(tuple(spans), tuple(diagnostics), tuple(mentions), copied_input=at == len(line))


@hookimpl
def register_formats(register):
    register(Curly)
