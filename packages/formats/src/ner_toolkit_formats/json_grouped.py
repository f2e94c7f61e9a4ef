"""Category-grouped JSON: ``{"ORG": ["EU"], "PER": [], "LOC": [], "MISC": ["German", "British"]}``.

Every label of the set is a key, in label-set order; each list holds the entity texts
with that label in sentence order (a text that is an entity twice is listed twice).

The format says which texts are entities but not where, so parsing places them: longer
texts first, each on the first whole-token occurrence of its text that no placed entity
overlaps (``nested=True``: that no placed entity of its label already holds). Texts of one
length are placed in the order written, keys in order, so where one text is an entity
under two labels (``Santa Fe`` LOC, later ``Santa Fe`` ORG; once in CoNLL-2003 test),
``render`` writes the keys of the labels present in another order that places them right:
the key set and the layout stay, the parser reads keys in written order. This places every
entity of CoNLL-2003 train, dev and test where the gold has it (``Iran`` after ``Party of
Iran``, ``Luxembourg`` around ``US Luxembourg``). A sentence that no order places right,
such as one whose entity text also occurs earlier outside any entity (``Reuters ...
[Reuters | ORG]``), cannot be written unambiguously: ``render`` checks every target whose
entity texts repeat and refuses those with ``UnrepresentableError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice, permutations
from typing import Any

from ner_toolkit import Span, hookimpl

from . import diagnostics as d
from .align import TokenText
from .base import Parse
from .jsonish import JsonFormatter, salvage_groups


class JsonGrouped(JsonFormatter):
    """A JSON object mapping every label to the list of its entity texts."""

    name = "json-grouped"
    output_description = (
        "output a JSON object that maps every label in the Label Set to the list of entity texts with "
        'that label, using the format {"LABEL": ["Entity Text", ...], ...}.'
    )

    def _render(self, text: TokenText, spans: list[Span]) -> str:
        """The target in label-set order or, where that would misplace a repeated text, one that does not."""
        for order in self._label_orders(spans):
            target = json.dumps(self._value(text, spans, order), ensure_ascii=False)
            if not self._may_be_ambiguous(text, spans) or self.parse(target, text.tokens).spans == tuple(spans):
                break
        return target

    def _label_orders(self, spans: list[Span], tries: int = 120) -> Iterator[list[str]]:
        """Label-set order first, then permutations of the labels that have spans, in their slots."""
        names = [label.name for label in self.labels]
        present = [name for name in names if any(span.label == name for span in spans)]
        slots = [names.index(name) for name in present]
        for permutation in islice(permutations(present), tries):
            order = list(names)
            for slot, name in zip(slots, permutation):
                order[slot] = name
            yield order

    def _value(self, text: TokenText, spans: list[Span], order: list[str] | None = None) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {name: [] for name in order or [label.name for label in self.labels]}
        for span in spans:
            groups.setdefault(span.label, []).append(" ".join(text.tokens[span.start : span.end]))
        return groups

    def _salvage(self, output: str) -> dict[str, list[Any]]:
        return salvage_groups(output)

    def _may_be_ambiguous(self, text: TokenText, spans: list[Span]) -> bool:
        return any(len(text.occurrences(" ".join(text.tokens[s.start : s.end]))) > 1 for s in spans)

    def _read(self, value: Any, parse: Parse) -> None:
        if not isinstance(value, dict):
            parse.report(d.MALFORMED_RECORD, f"expected an object of label lists, got {type(value).__name__}")
            return
        wanted: list[tuple[str, str]] = []
        for label, items in value.items():
            if not isinstance(items, list):
                parse.report(d.MALFORMED_RECORD, f"the value of {label!r} is not a list")
                items = [items]
            for item in items:
                if not isinstance(item, str):
                    parse.report(d.MALFORMED_RECORD, f"entity {item!r} under {label!r} is not a string")
                elif parse.mention(item, label):
                    wanted.append((item.strip(), label))
        self._place(wanted, parse)

    def _place(self, wanted: list[tuple[str, str]], parse: Parse) -> None:
        """Put each entity on a free occurrence of its text, longest texts first."""
        placed: list[Span] = []
        for written, label in sorted(wanted, key=lambda entity: -len("".join(entity[0].split()))):
            found = parse.locate(written)
            if not found:
                parse.not_found(written)
                continue
            free = [tokens for tokens in found if self._free(Span(*tokens, label), placed)]
            span = Span(*(free or found)[0], label)
            placed.append(span)
            parse.add((span.start, span.end), label)

    def _free(self, span: Span, placed: list[Span]) -> bool:
        if self.options.nested:
            return span not in placed
        return not any(span.overlaps(other) for other in placed)


@hookimpl
def register_formats(register):
    register(JsonGrouped)
