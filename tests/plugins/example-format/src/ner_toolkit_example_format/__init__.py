"""A format plugin in a package of its own: ``EU/B-ORG rejects/O German/B-MISC call/O``.

It is the whole of what a third party writes: this module and one entry-point line.
"""

from __future__ import annotations

from collections.abc import Sequence

from ner_toolkit import Diagnostic, Formatter, Mention, ParseResult, Span, hookimpl
from ner_toolkit.schemes import TagError, spans_to_tags, tags_to_spans


class SlashTags(Formatter):
    """Every token followed by a slash and its IOB2 tag."""

    name = "slash-tags"
    output_description = "rewrite the sentence with each word followed by a slash and its IOB2 tag, e.g. Paris/B-LOC."

    def render(self, tokens: Sequence[str], spans: Sequence[Span]) -> str:
        tags = spans_to_tags(spans, len(tokens), "IOB2")
        return " ".join(f"{token}/{tag}" for token, tag in zip(tokens, tags))

    def parse(self, output: str, tokens: Sequence[str]) -> ParseResult:
        words = output.split("\n", 1)[0].split()
        diagnostics: list[Diagnostic] = []
        unknown: list[Mention] = []  # entities read with a label outside the set: reported, not scored
        tags: list[str] = []
        for i, token in enumerate(tokens):
            if i >= len(words):
                tags.append("O")  # the output stopped early: one length_mismatch below says so
                continue
            word = words[i]
            text, _, tag = word.rpartition("/")
            if text != token:
                diagnostics.append(Diagnostic("text_mismatch", f"word {i}: expected {token!r}, got {word!r}"))
            try:
                prefix_label = tag.partition("-")[2]
                if tag != "O" and prefix_label not in self.label_names:
                    unknown.append(Mention(token, prefix_label))
                    raise TagError(f"unknown label in {tag!r}", i)
                tags_to_spans([tag], "IOB2")
                tags.append(tag)
            except TagError as error:
                diagnostics.append(Diagnostic("malformed_tag", f"word {i}: {error}"))
                tags.append("O")
        if len(words) != len(tokens):
            diagnostics.append(Diagnostic("length_mismatch", f"{len(words)} words for {len(tokens)} tokens"))
        spans = tuple(tags_to_spans(tags, "IOB2"))
        mentions = tuple(Mention(" ".join(tokens[s.start : s.end]), s.label) for s in spans) + tuple(unknown)
        copied = not any(d.kind in ("text_mismatch", "length_mismatch") for d in diagnostics)
        return ParseResult(spans, tuple(diagnostics), mentions, copied_input=copied)


@hookimpl
def register_formats(register):
    register(SlashTags)
