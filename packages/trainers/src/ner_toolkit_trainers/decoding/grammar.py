"""The copy grammar of an inline format: which byte strings are valid renderings of one input.

An inline format (``bracketed``, ``xml``) renders a sentence as its tokens joined by single
spaces, each entity's opener written before its first token and its closer after its last
(``InlineFormatter._render``). ``InlineGrammar`` is that language for one input, as a
byte-level automaton over sets of states (so that a space that may start a separator or a
closer stays both until the next byte decides). A state is one of:

- ``Before(i, stack)``: before token ``i``: an opener (when the label set allows another
  open entity) or the token's first byte;
- ``Inside(i, k, stack)``: ``k`` bytes into token ``i``;
- ``After(i, stack)``: after token ``i``: a closer of the innermost open entity, the
  separating space, or (after the last token, nothing open) the end of the answer;
- ``Markup(markup, k, then, closing)``: ``k`` bytes into an opener or closer; ``then`` when
  done; ``closing`` is the open entity a closer closes (``None`` for an opener).

``stack`` holds the open entities (``Open(label, start)``), the label ``None`` where the
format writes it in the closer, as ``bracketed`` does. The format's ``InlineMarkup`` (a core
contract) gives the templates and how many entities may be open at once. Every string the
grammar accepts is a rendering the formatter parses back exactly, with no diagnostics (the
tests check this property), and the grammar names the entities an output closes as it is
written (``closed``): those the formatter would parse from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any, NamedTuple

from ner_toolkit import Formatter, InlineMarkup

_LANGUAGES: dict[tuple, int] = {}  # (openers, closer template, labels, depth) -> a number for keys; one per format in use


class Open(NamedTuple):
    """An entity open on the stack: its label (``None`` where the closer writes it) and its first token."""

    label: str | None
    start: int


Stack = tuple[Open, ...]


# Each state records its kind as a last field: tuples compare by value, and the kind keeps
# apart states whose other fields are equal (``Before(3, ())`` and ``After(3, ())``).


class Before(NamedTuple):
    """Before token ``i``, with ``stack`` open."""

    i: int
    stack: Stack
    kind: str = "before"


class Inside(NamedTuple):
    """``k`` bytes into token ``i``, with ``stack`` open."""

    i: int
    k: int
    stack: Stack
    kind: str = "inside"


class After(NamedTuple):
    """After token ``i``, with ``stack`` open."""

    i: int
    stack: Stack
    kind: str = "after"


class Markup(NamedTuple):
    """``k`` bytes into an opener or closer; ``then`` once it is written; ``closing``: the entity a closer closes."""

    markup: bytes
    k: int
    then: Before | After
    closing: Open | None
    kind: str = "markup"


State = Before | Inside | After | Markup
StateSet = frozenset
_NONE: StateSet = frozenset()  # no state: the output has left every rendering


class Closed(NamedTuple):
    """An entity an output closed: tokens ``start:end`` (end exclusive), labelled ``label`` (as a ``Span`` reads)."""

    start: int
    end: int
    label: str


class InlineGrammar:
    """The renderings of one input in an inline format, as a byte automaton over state sets."""

    def __init__(self, tokens: Sequence[str], labels: Sequence[str], markup: InlineMarkup) -> None:
        self.words = tuple(tokens)
        self.tokens = [token.encode("utf-8") for token in tokens]
        self.n = len(self.tokens)
        self.labels = tuple(labels)
        self.max_depth = markup.max_depth
        open_template, close_template = markup.open, markup.close
        if "{label}" in open_template:
            self.openers = [(markup.opener(label).encode(), label) for label in self.labels]
        else:
            self.openers = [(open_template.encode(), None)]
        self._close_template = close_template
        self._markup = markup
        self._close_labelled = "{label}" in close_template
        self._opener_starts = frozenset(markup[0] for markup, _ in self.openers)
        self._closers: dict[Any, list[bytes]] = {}
        self._closer_labels = {markup.closer(label).encode(): label for label in self.labels} if self._close_labelled else {}
        self._closer_ends = frozenset(closer[-1] for closer in self.closers(None))
        self._step: dict[tuple[StateSet, int], StateSet] = {}
        self._next: dict[StateSet, bytes] = {}
        self._after: dict[tuple[StateSet, bytes], StateSet] = {}
        self._closed: dict[tuple[StateSet, bytes], tuple[Closed, ...] | None] = {}
        self.allowed: dict[StateSet, tuple[int, ...]] = {}  # filled by AllowedTokens (one decoder's end of turn)
        self._final = frozenset([After(self.n - 1, ())])  # a set, so that asking for it reuses its stored hash
        # where each word ends in the input copied with single spaces: how many words fill a draft's bytes
        self.ends = list(accumulate(len(token) + 1 for token in self.tokens))
        # what the language depends on besides the words, as a small int: sentences with equal ones share allowed sets
        self.language = _LANGUAGES.setdefault((tuple(self.openers), close_template, self.labels, self.max_depth), len(_LANGUAGES))

    @classmethod
    def for_formatter(cls, formatter: Formatter, tokens: Sequence[str]) -> InlineGrammar:
        """The grammar of ``formatter`` for one input; the format must declare its ``inline_markup``."""
        markup = formatter.inline_markup()
        if markup is None:
            raise ValueError(
                f"constrained decoding needs an inline format (one that declares inline_markup); {formatter.name!r} is not one"
            )
        return cls(tokens, [label.name for label in formatter.labels], markup)

    # --- the automaton ------------------------------------------------------------------

    def start(self) -> StateSet:
        return frozenset([After(-1, ())]) if self.n == 0 else frozenset([Before(0, ())])

    def accepting(self, states: StateSet) -> bool:
        """Whether the answer may end here: every token copied and no entity open."""
        return not self._final.isdisjoint(states)

    def can_open(self, stack: Stack) -> bool:
        return len(stack) < self.max_depth

    def closers(self, label: str | None) -> list[bytes]:
        """The closers that may close an entity labelled ``label`` (every label's, for ``None``)."""
        found = self._closers.get(label)
        if found is None:
            if not self._close_labelled:
                found = [self._close_template.encode()]
            elif label is not None:
                found = [self._markup.closer(label).encode()]
            else:
                found = [self._markup.closer(name).encode() for name in self.labels]
            self._closers[label] = found
        return found

    def opener_for(self, label: str | None) -> tuple[bytes, str | None]:
        """The opener to write for an entity labelled ``label``, and the label the stack then holds."""
        for markup, written in self.openers:
            if written is None or written == label:
                return markup, written
        return self.openers[0]

    def closer_for(self, label: str | None) -> bytes:
        """The closer to write for an entity labelled ``label`` (the first label's where it is not known)."""
        if not self._close_labelled or label is None:
            return self.closers(None)[0]
        return self._markup.closer(label).encode()

    def _moves(self, state: Before | After, byte: int) -> list[State]:
        """The states that a state before or after a token moves to on ``byte`` (the kinds with several ways on)."""
        i, stack = state.i, state.stack
        found: list[State] = []
        if type(state) is Before:
            if self.can_open(stack):
                for markup, label in self.openers:
                    if markup[0] == byte:
                        then = Before(i, (*stack, Open(label, i)))
                        found.append(then if len(markup) == 1 else Markup(markup, 1, then, None))
            token = self.tokens[i]
            if token[0] == byte:
                found.append(After(i, stack) if len(token) == 1 else Inside(i, 1, stack))
            return found
        closers = [markup for markup in self.closers(stack[-1].label) if markup[0] == byte] if stack else []
        if closers:
            then = After(i, stack[:-1])
            found += [then if len(markup) == 1 else Markup(markup, 1, then, stack[-1]) for markup in closers]
        if byte == 0x20 and i < self.n - 1:
            found.append(Before(i + 1, stack))
        return found

    def _bytes_out(self, state: State) -> list[int]:
        """The bytes one state can take next: the first bytes of ``_moves``'s cases."""
        kind = type(state)
        if kind is Markup:
            return [state.markup[state.k]]
        if kind is Inside:
            return [self.tokens[state.i][state.k]]
        if kind is Before:
            found = [markup[0] for markup, _ in self.openers] if self.can_open(state.stack) else []
            return [*found, self.tokens[state.i][0]]
        found = [markup[0] for markup in self.closers(state.stack[-1].label)] if state.stack else []
        return [*found, 0x20] if state.i < self.n - 1 else found

    def next_bytes(self, states: StateSet) -> bytes:
        """The bytes that some state of ``states`` can take next."""
        found = self._next.get(states)
        if found is None:
            found = self._next[states] = bytes(sorted({byte for state in states for byte in self._bytes_out(state)}))
        return found

    def step(self, states: StateSet, byte: int) -> StateSet:
        """The states after ``byte``; empty when no rendering continues with it."""
        key = (states, byte)
        found = self._step.get(key)
        if found is None:
            after: list[State] = []
            for state in states:
                kind = type(state)
                if kind is Markup:  # markup and words have one way on: taken here, the others by ``_moves``
                    markup, k = state.markup, state.k
                    if markup[k] == byte:
                        after.append(state.then if k + 1 == len(markup) else Markup(markup, k + 1, state.then, state.closing))
                elif kind is Inside:
                    i, k = state.i, state.k
                    token = self.tokens[i]
                    if token[k] == byte:
                        after.append(After(i, state.stack) if k + 1 == len(token) else Inside(i, k + 1, state.stack))
                else:
                    after += self._moves(state, byte)
            found = self._step[key] = frozenset(after)
        return found

    def advance(self, states: StateSet, data: bytes) -> StateSet:
        """The states after ``data`` (memoized: a token's bytes from a state set are stepped once).

        Where only one state is possible the bytes of a word are matched as a run, not stepped
        one by one: the result is the same, without a state set per byte.
        """
        key = (states, data)
        found = self._after.get(key)
        if found is None:
            found, done = self._run(states, data, 0)
            while found and done < len(data):  # a byte with more than one successor, then a run again
                found, done = self._run(self.step(found, data[done]), data, done + 1)
            self._after[key] = found
        return found

    def _run(self, states: StateSet, data: bytes, done: int) -> tuple[StateSet, int]:
        """Step a lone state over ``data`` from byte ``done`` while each byte has one successor; returns the states and bytes read.

        Inside or at the start of a word, with no opener that could begin there, the bytes
        must be the word's; after a word with nothing open, only the separating space may
        follow. Anything else (markup, a byte that could start a closer or an opener) is left
        to ``step``. The run is followed in plain variables, and only where it ends is a state.
        """
        size = len(data)
        if done == size or len(states) != 1:
            return states, done
        state = next(iter(states))
        if type(state) is Markup:  # inside markup: the rest of it, then the state after it
            markup, k = state.markup, state.k
            if data.startswith(markup[k:], done):
                done += len(markup) - k
                states, state = frozenset([state.then]), state.then
            elif markup.startswith(data[done:], k):
                return frozenset([Markup(markup, k + size - done, state.then, state.closing)]), size
            else:
                return _NONE, size
        start = done
        i, stack, after = state.i, state.stack, type(state) is After
        k = state.k if type(state) is Inside else 0  # bytes of token i read, while not after it
        while done < size:
            if after:
                if stack:  # a closer may follow
                    break
                if data[done] != 0x20 or i >= self.n - 1:
                    return _NONE, size
                done += 1
                i, k, after = i + 1, 0, False
            elif k == 0 and self.can_open(stack) and data[done] in self._opener_starts:  # an opener may begin
                break
            else:
                token = self.tokens[i]
                if data.startswith(token[k:], done):  # the word's end is reached
                    done += len(token) - k
                    after = True
                elif token.startswith(data[done:], k):  # the data ends inside the word
                    return frozenset([Inside(i, k + size - done, stack)]), size
                else:
                    return _NONE, size
        if done == start:
            return states, done
        return frozenset([After(i, stack) if after else Inside(i, k, stack) if k else Before(i, stack)]), done

    # --- the entities an output closes ----------------------------------------------------

    def may_close(self, data: bytes) -> bool:
        """Whether ``data`` holds the last byte of a closer: only then can it close an entity."""
        return not self._closer_ends.isdisjoint(data)

    def closed(self, states: StateSet, data: bytes) -> tuple[Closed, ...] | None:
        """The entities ``data`` closes from ``states``, in the order it closes them (memoized).

        Every path is followed byte by byte. ``None`` where the ways ``data`` may be read
        disagree on them (two readings of one text, as where a word reads like a closer).
        """
        key = (states, data)
        if key in self._closed:
            return self._closed[key]
        paths: dict[State, tuple[Closed, ...]] = dict.fromkeys(states, ())
        for byte in data:
            after: dict[State, tuple[Closed, ...]] = {}
            for state, closed in paths.items():
                for then in self.step(frozenset([state]), byte):
                    entity = self._closes(state, then)
                    seen = (*closed, entity) if entity is not None else closed
                    if after.setdefault(then, seen) != seen:  # one state, reached closing different entities
                        self._closed[key] = None
                        return None
            paths = after
        readings = set(paths.values())
        found = self._closed[key] = next(iter(readings), ()) if len(readings) <= 1 else None
        return found

    def _closes(self, state: State, then: State) -> Closed | None:
        """The entity that the move from ``state`` to ``then`` closes: where it writes the last byte of a closer."""
        if type(state) is Markup:
            entity = state.closing
            if entity is None or type(then) is Markup:
                return None
            label = entity.label if entity.label is not None else self._closer_labels.get(state.markup, "")
            return Closed(entity.start, then.i + 1, label)
        if type(state) is After and type(then) is After:  # a closer of one byte
            entity = state.stack[-1]
            return Closed(entity.start, state.i + 1, entity.label or "")
        return None

    # --- keys shared across sentences -----------------------------------------------------

    def relative(self, states: StateSet) -> tuple[int, frozenset]:
        """``(first token read, states with token indices counted from it)``: their language's key but for the words.

        A stack entry keeps only its label: where an entity began matters to drafts, never to
        which bytes may follow.
        """
        first = min(_reads(state) for state in states)
        return first, frozenset(_shift(state, first) for state in states)


def open_labels(stack: Stack) -> tuple:
    """The labels of a stack of open entities, without where they began."""
    return tuple([entity.label for entity in stack]) if stack else ()


def _reads(state: State) -> int:
    """The first input token a state's continuations read: its own (before or in it), or the next (after it)."""
    if type(state) is Markup:
        state = state.then
    return state.i + 1 if type(state) is After else state.i


def _shift(state: State, first: int) -> tuple:
    """A key for ``state`` (a plain tuple): its kind, token indices counted from ``first``, and stacks of labels only."""
    kind = type(state)
    if kind is Markup:
        closing = None if state.closing is None else state.closing.label
        return (state.kind, state.markup, state.k, _shift(state.then, first), closing)
    if kind is Inside:
        return (state.kind, state.i - first, state.k, open_labels(state.stack))
    return (state.kind, state.i - first, open_labels(state.stack))
