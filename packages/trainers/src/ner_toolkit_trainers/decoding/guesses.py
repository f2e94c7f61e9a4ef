"""Draft texts: the input copied on from a grammar state, with the entities a guess expects marked up.

A ``Guess`` says where a draft expects entities; the base guess expects none. An
``EntityMemory`` expects the entities the decoder has already written (a gazetteer of the
model's own outputs). Drafts are only proposals, which the model verifies: a wrong guess
costs draft tokens, never a different output.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from typing import Counter as CounterType
from typing import Protocol

from .grammar import After, Before, InlineGrammar, Inside, Markup, Open, State, StateSet

MAX_ENTITIES = 1 << 16  # distinct entities an EntityMemory holds: a corpus's worth; it starts over when full


class Guess:
    """Where a draft expects entities: none, unless a subclass knows better (``EntityMemory``)."""

    def entity_at(self, grammar: InlineGrammar, i: int) -> tuple[int, str | None] | None:
        """``(end, label)`` of an entity expected to start at token ``i``, or None."""
        return None

    def end_of(self, grammar: InlineGrammar, start: int, i: int) -> tuple[int, str | None]:
        """``(end, label or None)`` expected for an entity open since token ``start``, now at token ``i``."""
        return grammar.n, None

    def label_for(self, grammar: InlineGrammar, start: int, end: int) -> str:
        """The label expected for tokens ``start:end``."""
        return grammar.labels[0] if grammar.labels else ""

    def pause_before(self, grammar: InlineGrammar, i: int) -> bool:
        """Whether a draft should stop before token ``i`` (where the model is likely to differ)."""
        return False

    def plain_until(self, grammar: InlineGrammar, i: int, stop: int) -> int:
        """The first token in ``i:stop`` where an entity is expected to start or a draft to pause (``stop`` if none)."""
        for j in range(i, stop):
            if self.entity_at(grammar, j) is not None or self.pause_before(grammar, j):
                return j
        return stop


class Entity(Protocol):
    """An entity as ``EntityMemory.learn`` reads it: a ``Span``, or a ``Closed`` from the grammar."""

    start: int
    end: int
    label: str


class EntityMemory(Guess):
    """Drafts that expect the entities already written: a gazetteer of the model's own outputs.

    An entity not seen yet is expected to run on over the capitalized words that follow,
    and to take the label its words had most often. With ``pause_at_names`` a draft stops
    before a capitalized word it knows nothing of, where an entity may start: fewer draft
    tokens wasted (what a compute-bound batch pays for), more forward passes. It forgets
    everything once it holds ``limit`` entities, so that a long-lived decoder stays bounded.
    """

    def __init__(self, pause_at_names: bool = False, limit: int = MAX_ENTITIES) -> None:
        self.pause_at_names = pause_at_names
        self.limit = limit
        self.forget()

    def forget(self) -> None:
        """Start over, knowing no entity."""
        self.entities: dict[tuple[str, ...], CounterType[str]] = {}
        self.lengths: dict[str, list[int]] = {}  # first word -> the lengths of the entities it starts, longest first
        self.words: dict[str, CounterType[str]] = {}
        self.labels: CounterType[str] = Counter()

    def learn(self, tokens: tuple[str, ...], spans: Iterable[Entity]) -> None:
        """Count the entities ``spans`` of a sentence of ``tokens``."""
        for span in spans:
            key = tuple(tokens[span.start : span.end])
            if key not in self.entities:
                if len(self.entities) >= self.limit:
                    self.forget()
                self.entities[key] = Counter()
                lengths = self.lengths.setdefault(key[0], [])
                if len(key) not in lengths:
                    lengths.append(len(key))
                    lengths.sort(reverse=True)
            self.entities[key][span.label] += 1
            for word in key:
                self.words.setdefault(word, Counter())[span.label] += 1
            self.labels[span.label] += 1

    def _known(self, words: tuple[str, ...], start: int, longer_than: int = 0) -> tuple[int, str] | None:
        """The longest entity seen that starts at ``start`` (longer than ``longer_than`` words): its end and usual label."""
        for length in self.lengths.get(words[start], ()):
            if length <= longer_than:
                break
            if start + length > len(words):
                continue
            votes = self.entities.get(words[start : start + length])
            if votes is not None:
                return start + length, votes.most_common(1)[0][0]
        return None

    def entity_at(self, grammar: InlineGrammar, i: int) -> tuple[int, str | None] | None:
        return self._known(grammar.words, i)

    def end_of(self, grammar: InlineGrammar, start: int, i: int) -> tuple[int, str | None]:
        known = self._known(grammar.words, start, longer_than=i - start)
        if known is not None:
            return known
        end = i + 1
        while end < grammar.n and grammar.words[end][:1].isupper():
            end += 1
        return end, None

    def pause_before(self, grammar: InlineGrammar, i: int) -> bool:
        """With ``pause_at_names``: before a capitalized word not known to start an entity."""
        return self.pause_at_names and grammar.words[i][:1].isupper() and self._known(grammar.words, i) is None

    def plain_until(self, grammar: InlineGrammar, i: int, stop: int) -> int:
        words, lengths = grammar.words, self.lengths
        for j in range(i, stop):
            if words[j] in lengths and self._known(words, j) is not None:
                return j
            if self.pause_at_names and words[j][:1].isupper():
                return j  # capitalized and known to start no entity: a pause
        return stop

    def label_for(self, grammar: InlineGrammar, start: int, end: int) -> str:
        allowed = grammar.labels
        votes = self.entities.get(grammar.words[start:end])
        if not votes:
            votes = Counter()
            for word in grammar.words[start:end]:
                if word in self.words:
                    votes.update(self.words[word])
        for counts in (votes, self.labels):
            for label, _ in counts.most_common():
                if label in allowed:
                    return label
        return allowed[0] if allowed else ""


NO_GUESS = Guess()


def draft(grammar: InlineGrammar, states: StateSet, guess: Guess = NO_GUESS, limit: int = 256) -> bytes:
    """A likely continuation from ``states``: the input copied on, with the entities ``guess`` expects marked up.

    With no guess it is the input copied on without new markup (open entities close at
    the end). Drafts are only proposals: they need not be what the model will write.
    """
    state = _pick(grammar, states, guess)
    if state is None:
        return b""
    tokens, last = grammar.tokens, grammar.n - 1
    out = bytearray()
    if type(state) is Markup:  # the rest of the markup begun, then on from the state after it
        out += state.markup[state.k :]
        state = state.then
    if type(state) is Inside:  # the rest of the word begun
        out += tokens[state.i][state.k :]
        state = After(state.i, state.stack)
    before, i, stack = type(state) is Before, state.i, state.stack  # the draft walks on before or after token i
    planned: dict[int, tuple[int, str | None]] = {}  # entity start -> (end, label) this draft opened
    while len(out) < limit:
        if before:
            found = guess.entity_at(grammar, i) if grammar.can_open(stack) and i not in planned else None
            if found is not None:
                planned[i] = found
                markup, label = grammar.opener_for(found[1])
                out += markup
                stack = (*stack, Open(label, i))
                continue
            if not stack:  # nothing open: the words up to where the guess expects more than a copy, in one go
                # the last word to write: the one that brings the draft to ``limit`` bytes, or the last
                full = min(last, bisect_left(grammar.ends, limit - len(out) + grammar.ends[i] - len(tokens[i]), i))
                end = guess.plain_until(grammar, i + 1, full + 1) - 1
                out += b" ".join(tokens[i : end + 1])
                i = end
            else:
                out += tokens[i]
            before = False
            continue
        if stack:
            top = stack[-1]
            end, guessed = planned.get(top.start) or guess.end_of(grammar, top.start, i)
            if end <= i + 1 or i == last:
                label = top.label if top.label is not None else guessed or guess.label_for(grammar, top.start, i + 1)
                out += grammar.closer_for(label)
                stack = stack[:-1]
                continue
        if i >= last or (out and guess.pause_before(grammar, i + 1)):
            break
        out += b" "
        i, before = i + 1, True
    return bytes(out)


def _pick(grammar: InlineGrammar, states: StateSet, guess: Guess) -> State | None:
    """The state a draft follows: the only one, or the one the guess prefers."""
    if len(states) == 1:
        return next(iter(states))
    markup = sorted((s for s in states if type(s) is Markup), key=lambda s: s.markup)
    plain = [s for s in states if type(s) is not Markup]
    if markup:
        first = markup[0]
        then, closing = first.then, first.closing
        if closing is not None:  # a closer has begun (" |", "</"): will it close, and with which label?
            end, label = guess.end_of(grammar, closing.start, then.i)
            if not plain or end <= then.i + 1:
                label = label or guess.label_for(grammar, closing.start, then.i + 1)
                return next((s for s in markup if label.encode() in s.markup), first)
        elif type(then) is Before:  # an opener has begun: with which label?
            found = guess.entity_at(grammar, then.i)
            label = found[1] if found and found[1] else guess.label_for(grammar, then.i, then.i + 1)
            return next((s for s in markup if label.encode() in s.markup), first)
    if len(plain) > 1:  # the one that copies furthest ("after" sorts first), then the fewest entities open
        return min(plain, key=lambda s: (s.kind, s.i, len(s.stack)))
    return plain[0] if plain else None
