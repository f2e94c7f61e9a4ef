"""Map a model's text back onto the original tokens.

Two tools, shared by every format:

- ``TokenText``: the input string (tokens joined by single spaces) with its token
  boundaries; it turns character ranges into token ranges and finds where a string occurs
  as a run of whole tokens.
- ``align(source, target)``: a monotonic character alignment of the text a model wrote
  (``source``, markup removed) to the input (``target``) that ignores whitespace. The
  common case, an exact copy, costs one string comparison; a copy that differs only in
  whitespace (``C$ 0.45`` for ``C$0.45``) one more; anything else falls back to
  ``difflib.SequenceMatcher`` on the non-whitespace characters, with the common prefix and
  suffix trimmed first so that a local slip costs only its own length.

The rule that turns an aligned entity into a span (``Alignment.map_range``): every
non-whitespace character of the entity must be matched, in order and without a gap, to a
run of input characters. ``TokenText.token_range`` then requires that run to start at a
token's first character and end at a token's last one; otherwise the entity is a
``partial_token`` diagnostic. So a span is produced only where the model's entity text is,
whitespace aside, exactly the text of whole input tokens: nothing is invented.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import cached_property


def _non_space(text: str) -> tuple[str, list[int]]:
    """The text without whitespace, and the position in ``text`` of each remaining character."""
    positions = [i for i, char in enumerate(text) if not char.isspace()]
    return "".join(text[i] for i in positions), positions


class TokenText:
    """The input string of a sentence, with its token boundaries."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = tuple(tokens)
        self.text = " ".join(self.tokens)
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        self.offsets: list[int] = []
        offset = 0
        for index, token in enumerate(self.tokens):
            self.starts[offset] = index
            self.offsets.append(offset)
            offset += len(token)
            self.ends[offset] = index + 1
            offset += 1

    @cached_property
    def _compact(self) -> tuple[str, list[int]]:
        return _non_space(self.text)

    def char_range(self, start: int, end: int) -> tuple[int, int]:
        """The character offsets of ``tokens[start:end]`` in the input string."""
        return self.offsets[start], self.offsets[end - 1] + len(self.tokens[end - 1])

    def token_range(self, start: int, end: int) -> tuple[int, int] | None:
        """The tokens that characters ``[start, end)`` cover exactly, or None if a boundary cuts a token."""
        first, last = self.starts.get(start), self.ends.get(end)
        if first is None or last is None or last <= first:
            return None
        return first, last

    def occurrences(self, needle: str) -> list[tuple[int, int]]:
        """Token ranges where ``needle`` occurs as whole tokens, in order (overlaps included)."""
        found: list[tuple[int, int]] = []
        if not needle:
            return found
        at = self.text.find(needle)
        while at >= 0:
            tokens = self.token_range(at, at + len(needle))
            if tokens is not None:
                found.append(tokens)
            at = self.text.find(needle, at + 1)
        return found

    def loose_occurrences(self, needle: str) -> list[tuple[int, int]]:
        """Like ``occurrences`` but ignoring whitespace: ``C$ 0.45`` finds the token ``C$0.45``."""
        compact, positions = self._compact
        wanted = "".join(needle.split())
        found: list[tuple[int, int]] = []
        if not wanted:
            return found
        at = compact.find(wanted)
        while at >= 0:
            tokens = self.token_range(positions[at], positions[at + len(wanted) - 1] + 1)
            if tokens is not None:
                found.append(tokens)
            at = compact.find(wanted, at + 1)
        return found

    def find(self, needle: str) -> list[tuple[int, int]]:
        """Whole-token occurrences of ``needle``, exact first, else ignoring whitespace."""
        return self.occurrences(needle) or self.loose_occurrences(needle)


class Alignment:
    """A monotonic map from non-whitespace characters of ``source`` to those of ``target``."""

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        self.identical = source == target
        if self.identical:
            return
        compact_source, self._source_positions = _non_space(source)
        compact_target, self._target_positions = _non_space(target)
        #: True when the two texts differ only in whitespace
        self.same_text = compact_source == compact_target
        self._map = list(range(len(compact_source))) if self.same_text else _match(compact_source, compact_target)

    @property
    def copied(self) -> bool:
        """True when source and target are the same text up to whitespace."""
        return self.identical or self.same_text

    def map_range(self, start: int, end: int) -> tuple[int, int] | None:
        """Target offsets of the non-whitespace run of ``source[start:end]``, if it maps without a gap."""
        if self.identical:
            text = self.source[start:end]
            stripped = text.strip()
            if not stripped:
                return None
            first = start + (len(text) - len(text.lstrip()))
            return first, first + len(stripped)
        first = bisect_left(self._source_positions, start)
        last = bisect_left(self._source_positions, end) - 1
        if last < first:
            return None
        mapped = self._map[first : last + 1]
        if -1 in mapped or mapped[-1] - mapped[0] != last - first:
            return None
        return self._target_positions[mapped[0]], self._target_positions[mapped[-1]] + 1

    def pairs(self) -> list[tuple[int, int]]:
        """Every aligned (source offset, target offset) pair, in order: for tests and debugging."""
        if self.identical:
            return [(i, i) for i, char in enumerate(self.source) if not char.isspace()]
        return [
            (self._source_positions[s], self._target_positions[t]) for s, t in enumerate(self._map) if t >= 0
        ]


def _match(source: str, target: str) -> list[int]:
    """For each character of ``source``, its matched index in ``target`` or -1 (monotonic)."""
    prefix = 0
    limit = min(len(source), len(target))
    while prefix < limit and source[prefix] == target[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and source[-1 - suffix] == target[-1 - suffix]:
        suffix += 1
    mapping = list(range(prefix)) + [-1] * (len(source) - prefix)
    middle_source = source[prefix : len(source) - suffix]
    middle_target = target[prefix : len(target) - suffix]
    matcher = SequenceMatcher(None, middle_source, middle_target, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            mapping[prefix + a + k] = prefix + b + k
    for k in range(suffix):
        mapping[len(source) - suffix + k] = len(target) - suffix + k
    return mapping


def align(source: str, target: str) -> Alignment:
    """Align the text a model wrote (markup removed) to the input text, ignoring whitespace."""
    return Alignment(source, target)
