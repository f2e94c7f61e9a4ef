"""Map a model's text back onto the original tokens.

Two tools, shared by every format:

- ``TokenText``: the input string (tokens joined by single spaces) with its token
  boundaries; it turns character ranges into token ranges and finds where a string occurs
  as a run of whole tokens (exactly, then ignoring whitespace, then ignoring case too).
- ``align(source, target)``: a monotonic character alignment of the text a model wrote
  (``source``, markup removed) to the input (``target``) that ignores whitespace and case.
  The common case, an exact copy, costs one string comparison; a copy that differs only in
  whitespace (``C$ 0.45`` for ``C$0.45``, ``England's`` for ``England 's``) one more; one
  that differs in case too (``Soccer - Japan get lucky win, China ...`` for ``SOCCER -
  JAPAN GET LUCKY WIN , CHINA ...``: the truecased, detokenised form of the paper's
  published data) one more. Anything else is aligned on the case-folded non-whitespace
  characters, with the common prefix and suffix trimmed first so that a local slip costs
  only its own length: a differing middle of up to ``EXACT_LIMIT`` characters a side goes
  to ``difflib.SequenceMatcher`` whole, as before; a longer one gets a linear-time first
  pass (``_anchored``) that follows the texts while they agree and, at each difference,
  resynchronises on the nearest shared ``ANCHOR``-character string, so that difflib only
  sees the short gaps between. Its search is bounded by a work budget proportional to the
  text; past it the rest of the output stays unaligned and ``Alignment.capped`` says where
  (the formats report it as ``alignment_capped``). difflib on a whole 10,000-token output
  took minutes; see ``benchmarks/align.md``.

The rule that turns an aligned entity into a span (``Alignment.map_range``): every
non-whitespace character of the entity must be matched, in order and without a gap, to a
run of input characters that equals it up to case. ``TokenText.token_range`` then requires
that run to start at a token's first character and end at a token's last one; otherwise
the entity is a ``partial_token`` diagnostic. So a span is produced only where the model's
entity text is, whitespace and case aside, exactly the text of whole input tokens: nothing
is invented. Where case was all that differed, the formats report ``case_mismatch`` and
keep the span.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import cached_property


EXACT_LIMIT = 2_000
"""Differing middles up to this many non-whitespace characters a side are aligned by difflib whole."""
ANCHOR = 16
"""Characters two long texts must share to resynchronise after a difference."""
STRIDE = 8
"""Target positions indexed for resynchronising (every STRIDE-th): memory m / STRIDE."""
BUDGET = 16
"""Characters the resynchronising search may scan per character of the longer text, plus ``BUDGET_BASE``."""
BUDGET_BASE = 10_000


def _non_space(text: str) -> tuple[str, list[int]]:
    """The text without whitespace, and the position in ``text`` of each remaining character."""
    positions = [i for i, char in enumerate(text) if not char.isspace()]
    return "".join(text[i] for i in positions), positions


def fold(text: str) -> str:
    """``text`` lower-cased character by character, so that offsets stay valid (``İ`` stays as it is)."""
    folded = text.lower()
    if len(folded) == len(text):  # lower() never shortens a character, so none grew
        return folded
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


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

    @cached_property
    def _folded(self) -> str:
        return fold(self._compact[0])

    def folded_occurrences(self, needle: str) -> list[tuple[int, int]]:
        """Like ``loose_occurrences`` but ignoring case too: ``Japan`` finds the token ``JAPAN``."""
        positions = self._compact[1]
        wanted = fold("".join(needle.split()))
        found: list[tuple[int, int]] = []
        if not wanted:
            return found
        at = self._folded.find(wanted)
        while at >= 0:
            tokens = self.token_range(positions[at], positions[at + len(wanted) - 1] + 1)
            if tokens is not None:
                found.append(tokens)
            at = self._folded.find(wanted, at + 1)
        return found

    def find(self, needle: str) -> list[tuple[int, int]]:
        """Whole-token occurrences of ``needle``, exact first, else ignoring whitespace (not case)."""
        return self.occurrences(needle) or self.loose_occurrences(needle)


class Alignment:
    """A monotonic map from non-whitespace characters of ``source`` to those of ``target``, equal up to case."""

    def __init__(self, source: str, target: str) -> None:
        self.source, self.target = source, target
        self.identical = source == target
        #: True when the two texts differ only in whitespace
        self.same_text = self.identical
        #: True when the two texts differ only in whitespace and letter case
        self.same_folded = self.identical
        #: the character of ``source`` from which nothing was aligned (work budget spent), or None
        self.capped: int | None = None
        if self.identical:
            return
        compact_source, self._source_positions = _non_space(source)
        compact_target, self._target_positions = _non_space(target)
        self.same_text = compact_source == compact_target
        if self.same_text:
            self._map = list(range(len(compact_source)))
            self.same_folded = True
            return
        folded_source, folded_target = fold(compact_source), fold(compact_target)
        self.same_folded = folded_source == folded_target
        if self.same_folded:
            self._map = list(range(len(compact_source)))
            return
        self._map, cap = _match(folded_source, folded_target)
        if cap is not None:
            self.capped = self._source_positions[cap]

    @property
    def copied(self) -> bool:
        """True when source and target are the same text up to whitespace and letter case."""
        return self.same_folded

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


def _match(source: str, target: str) -> tuple[list[int], int | None]:
    """For each character of ``source``, its matched index in ``target`` or -1 (monotonic), and the cap.

    The cap is the first index of ``source`` left unaligned because the search budget ran
    out, or None.
    """
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
    cap: int | None = None
    if len(middle_source) <= EXACT_LIMIT and len(middle_target) <= EXACT_LIMIT:
        blocks = _difflib_blocks(middle_source, middle_target)
    else:
        blocks, cap = _anchored(middle_source, middle_target)
    for a, b, size in blocks:
        for k in range(size):
            mapping[prefix + a + k] = prefix + b + k
    if cap is not None:
        return mapping, prefix + cap  # the suffix is not trusted past a cap: the texts were not followed
    for k in range(suffix):
        mapping[len(source) - suffix + k] = len(target) - suffix + k
    return mapping, None


def _difflib_blocks(source: str, target: str) -> list[tuple[int, int, int]]:
    """difflib's matching blocks (``a``, ``b``, ``size``), the terminating empty one included."""
    if not source or not target:
        return []
    return list(SequenceMatcher(None, source, target, autojunk=False).get_matching_blocks())


def _anchored(source: str, target: str) -> tuple[list[tuple[int, int, int]], int | None]:
    """Matching blocks of two long texts in linear time, and the cap (see the module docstring).

    Follow both texts while they agree; at a difference at ``(i, j)``, find the shared
    ``ANCHOR``-character string that resumes agreement soonest (the least ``di + dj``,
    ``dj`` found through an index of every ``STRIDE``-th position of ``target``), align the
    gap before it with difflib when both sides are short, and go on from there. Work is
    bounded by ``BUDGET`` characters scanned per character of the longer text.
    """
    index: dict[str, list[int]] = {}
    for at in range(0, len(target) - ANCHOR + 1, STRIDE):
        index.setdefault(target[at : at + ANCHOR], []).append(at)
    blocks: list[tuple[int, int, int]] = []
    budget = BUDGET * max(len(source), len(target)) + BUDGET_BASE
    i = j = 0
    n, m = len(source), len(target)
    while i < n and j < m:
        start_i, start_j = i, j
        while i < n and j < m and source[i] == target[j]:
            i += 1
            j += 1
        if i > start_i:
            blocks.append((start_i, start_j, i - start_i))
        if i >= n or j >= m:
            break
        best: tuple[int, int] | None = None  # (di, dj) of the nearest anchor
        di = 0
        while i + di + ANCHOR <= n and (best is None or di < best[0] + best[1]):
            if budget <= 0:
                return blocks, i
            budget -= 1
            positions = index.get(source[i + di : i + di + ANCHOR])
            if positions:
                k = bisect_left(positions, j)
                if k < len(positions) and (best is None or di + positions[k] - j < best[0] + best[1]):
                    best = (di, positions[k] - j)
            di += 1
        if best is None:
            break  # no shared anchor in the rest: what is left may still match in small pieces below
        gap_source, gap_target = source[i : i + best[0]], target[j : j + best[1]]
        if len(gap_source) <= EXACT_LIMIT and len(gap_target) <= EXACT_LIMIT:
            blocks += [(i + a, j + b, size) for a, b, size in _difflib_blocks(gap_source, gap_target) if size]
        i, j = i + best[0], j + best[1]
    if i < n and j < m and n - i <= EXACT_LIMIT and m - j <= EXACT_LIMIT:
        blocks += [(i + a, j + b, size) for a, b, size in _difflib_blocks(source[i:], target[j:]) if size]
    return blocks, None


def align(source: str, target: str) -> Alignment:
    """Align the text a model wrote (markup removed) to the input text, ignoring whitespace and case."""
    return Alignment(source, target)
