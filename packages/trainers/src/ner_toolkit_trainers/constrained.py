"""Copy constraints for the inline formats: which tokens keep an output a valid rendering of its input.

An inline format (``bracketed``, ``xml``) renders a sentence as its tokens joined by single
spaces, each entity's opener written before its first token and its closer after its last
(``InlineFormatter._render``). ``InlineGrammar`` is that language for one input, as a
byte-level automaton (a set of states, so that a space that may start a separator or a
closer stays both until the next byte decides):

- ``("B", i, stack)``: before token ``i``: an opener (when the label set allows another
  open entity) or the token's first byte;
- ``("T", i, k, stack)``: ``k`` bytes into token ``i``;
- ``("A", i, stack)``: after token ``i``: a closer of the innermost open entity, the
  separating space, or (after the last token, nothing open) the end of the answer;
- ``("M", markup, k, then, closing)``: ``k`` bytes into an opener or closer; ``then`` when
  done; ``closing`` is the stack entry a closer closes (``None`` for an opener).

``stack`` holds the open entities as ``(label, first token)``, the label ``None`` where the
format writes it in the closer, as ``bracketed`` does. The format's ``InlineMarkup`` (a core
contract) gives the templates and how many entities may be open at once. Every string it
accepts is a rendering the formatter parses back exactly, with no diagnostics (the tests
check this property).

``VocabTrie`` holds the tokenizer's vocabulary as bytes; ``allowed_tokens`` walks the trie
and the automaton together, so the allowed set at a state costs only the tokens that are
prefixes of a valid continuation, not a pass over the whole vocabulary. ``AllowedTokens``
memoizes those sets: per state set of one grammar, and across rows and sentences under a
key that names the states relative to their first token and the few words the walk read
(``the`` at a word start allows the same tokens in every sentence).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate
from typing import Any

from ner_toolkit import Formatter, InlineMarkup

State = tuple
StateSet = frozenset
_LANGUAGES: dict[tuple, int] = {}  # (openers, closer template, labels, depth) -> a number for keys


@lru_cache(maxsize=1)
def _unicode_to_bytes() -> dict[str, int]:
    """The inverse of GPT-2's byte-to-printable-character table (byte-level BPE vocabularies)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}


def token_bytes(tokenizer: Any) -> dict[int, bytes]:
    """The bytes each ordinary vocabulary entry stands for; special and added tokens are left out.

    Byte-level BPE entries (GPT-2, Qwen, SmolLM2) map character by character through GPT-2's
    table; SentencePiece entries (``▁word``, ``<0x0A>``) are read as SentencePiece writes them.
    """
    table = _unicode_to_bytes()
    added = set(getattr(tokenizer, "all_special_ids", []) or [])
    added.update(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    result: dict[int, bytes] = {}
    for text, index in tokenizer.get_vocab().items():
        if index in added or not text:
            continue
        if all(ch in table for ch in text):
            data = bytes(table[ch] for ch in text)
        elif len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            data = bytes([int(text[3:5], 16)])
        else:
            data = text.replace("▁", " ").encode("utf-8")
        if data:
            result[index] = data
    return result


class VocabTrie:
    """A byte trie of a vocabulary, in plain integers: node 0 is the root.

    ``edges[node << 8 | byte]`` is a node's child by a byte, ``ends[node]`` the token ids
    whose bytes end there, ``inner[node]`` whether it has children. Dicts of ints and tuples
    are not tracked by Python's cyclic garbage collector, so its full collections do not walk
    the trie (Qwen2.5's has 333,000 nodes: a million lists and dicts in a trie of nodes).
    """

    def __init__(self, vocabulary: dict[int, bytes]) -> None:
        self.bytes = vocabulary
        edges: dict[int, int] = {}
        ends: dict[int, list[int]] = {}
        size = 1
        for index in sorted(vocabulary):
            node = 0
            for byte in vocabulary[index]:
                key = node << 8 | byte
                child = edges.get(key)
                if child is None:
                    child = edges[key] = size
                    size += 1
                node = child
            ends.setdefault(node, []).append(index)
        inner = bytearray(size)
        for key in edges:
            inner[key >> 8] = 1
        self.edges = edges
        self.ends = {node: tuple(ids) for node, ids in ends.items()}
        self.inner = bytes(inner)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> VocabTrie:
        return cls(token_bytes(tokenizer))

    def greedy(self, data: bytes) -> tuple[int, ...]:
        """``data`` as the longest vocabulary entries in turn, left to right (not the tokenizer's ids: a guess at them).

        Stops early at a byte no entry starts with.
        """
        edges, ends = self.edges, self.ends
        ids: list[int] = []
        start, size = 0, len(data)
        while start < size:
            node, best, end = 0, None, start
            for at in range(start, size):
                node = edges.get(node << 8 | data[at])
                if node is None:
                    break
                if node in ends:
                    best, end = ends[node][0], at + 1
            if best is None:
                break
            ids.append(best)
            start = end
        return tuple(ids)


class InlineGrammar:
    """The renderings of one input in an inline format, as a byte automaton over state sets."""

    def __init__(self, tokens: Sequence[str], labels: Sequence[str], markup: InlineMarkup) -> None:
        self.words = tuple(tokens)
        self.tokens = [token.encode("utf-8") for token in tokens]
        self.n = len(self.tokens)
        self.labels = tuple(labels)
        self.max_depth = markup.max_depth
        open_template, close_template = markup.open, markup.close
        open_labelled = "{label}" in open_template
        close_labelled = "{label}" in close_template
        if open_labelled:
            self.openers = [(markup.opener(label).encode(), label) for label in self.labels]
        else:
            self.openers = [(open_template.encode(), None)]
        self._close_template = close_template
        self._markup = markup
        self._close_labelled = close_labelled
        self._opener_starts = frozenset(markup[0] for markup, _ in self.openers)
        self._step: dict[tuple[StateSet, int], StateSet] = {}
        self._next: dict[StateSet, bytes] = {}
        self._closers: dict[Any, list[bytes]] = {}
        self._after: dict[tuple[StateSet, bytes], StateSet] = {}
        self.allowed: dict[StateSet, tuple[int, ...]] = {}  # filled by AllowedTokens (one decoder's end of turn)
        self._final = frozenset([("A", self.n - 1, ())])  # a set, so that asking for it reuses its stored hash
        # where each word ends in the input copied with single spaces: how many words fill a draft's bytes
        self._ends = list(accumulate(len(token) + 1 for token in self.tokens))
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
        return frozenset([("A", -1, ())]) if self.n == 0 else frozenset([("B", 0, ())])

    def accepting(self, states: StateSet) -> bool:
        """Whether the answer may end here: every token copied and no entity open."""
        return not self._final.isdisjoint(states)

    def closers(self, top: Any) -> list[bytes]:
        found = self._closers.get(top)
        if found is None:
            if not self._close_labelled:
                found = [self._close_template.encode()]
            elif top is not None:
                found = [self._markup.closer(top).encode()]
            else:
                found = [self._markup.closer(label).encode() for label in self.labels]
            self._closers[top] = found
        return found

    def _can_open(self, stack: tuple) -> bool:
        return len(stack) < self.max_depth

    def _state_next(self, state: State) -> Iterable[tuple[int, State]]:
        """Every ``(byte, next state)`` out of one state."""
        kind = state[0]
        if kind == "M":
            _, markup, k, then, closing = state
            yield markup[k], (then if k + 1 == len(markup) else ("M", markup, k + 1, then, closing))
        elif kind == "T":
            _, i, k, stack = state
            token = self.tokens[i]
            yield token[k], (("A", i, stack) if k + 1 == len(token) else ("T", i, k + 1, stack))
        elif kind == "B":
            _, i, stack = state
            if self._can_open(stack):
                for markup, label in self.openers:
                    then = ("B", i, (*stack, (label, i)))
                    yield markup[0], (then if len(markup) == 1 else ("M", markup, 1, then, None))
            token = self.tokens[i]
            yield token[0], (("A", i, stack) if len(token) == 1 else ("T", i, 1, stack))
        else:  # "A"
            _, i, stack = state
            if stack:
                then = ("A", i, stack[:-1])
                for markup in self.closers(stack[-1][0]):
                    yield markup[0], (then if len(markup) == 1 else ("M", markup, 1, then, stack[-1]))
            if i < self.n - 1:
                yield 0x20, ("B", i + 1, stack)

    def next_bytes(self, states: StateSet) -> bytes:
        """The bytes that some state of ``states`` can take next."""
        found = self._next.get(states)
        if found is None:
            found = self._next[states] = bytes(sorted({byte for s in states for byte, _ in self._state_next(s)}))
        return found

    def step(self, states: StateSet, byte: int) -> StateSet:
        """The states after ``byte``; empty when no rendering continues with it."""
        key = (states, byte)
        found = self._step.get(key)
        if found is None:
            after = []
            for state in states:
                kind = state[0]
                if kind == "M":  # markup and words have one successor: no need to list every state's
                    _, markup, k, then, closing = state
                    if markup[k] == byte:
                        after.append(then if k + 1 == len(markup) else ("M", markup, k + 1, then, closing))
                elif kind == "T":
                    _, i, k, stack = state
                    token = self.tokens[i]
                    if token[k] == byte:
                        after.append(("A", i, stack) if k + 1 == len(token) else ("T", i, k + 1, stack))
                else:
                    after.extend(t for b, t in self._state_next(state) if b == byte)
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
        to ``step``.
        """
        size = len(data)
        while done < size and len(states) == 1:
            state = next(iter(states))
            kind = state[0]
            if kind == "T" or (kind == "B" and not (self._can_open(state[2]) and data[done] in self._opener_starts)):
                i, k, stack = (state[1], state[2], state[3]) if kind == "T" else (state[1], 0, state[2])
                token = self.tokens[i]
                rest = len(token) - k
                if data.startswith(token[k:], done):  # the word's end is reached
                    done += rest
                    states = frozenset([("A", i, stack)])
                elif token.startswith(data[done:], k):  # the data ends inside the word
                    return frozenset([("T", i, k + size - done, stack)]), size
                else:
                    return frozenset(), size
            elif kind == "A" and not state[2]:
                i = state[1]
                if data[done] != 0x20 or i >= self.n - 1:
                    return frozenset(), size
                done += 1
                states = frozenset([("B", i + 1, ())])
            elif kind == "M":  # inside markup: the rest of it, then the state after it
                _, markup, k, then, closing = state
                if data.startswith(markup[k:], done):
                    done += len(markup) - k
                    states = frozenset([then])
                elif markup.startswith(data[done:], k):
                    return frozenset([("M", markup, k + size - done, then, closing)]), size
                else:
                    return frozenset(), size
            else:
                break
        return states, done

    def relative(self, states: StateSet) -> tuple[int, frozenset]:
        """``(first token read, states with token indices counted from it)``: their language's key but for the words.

        A stack entry keeps only its label: where an entity began matters to drafts, never to
        which bytes may follow.
        """
        first = min(_reads(state) for state in states)
        return first, frozenset(_shift(state, first) for state in states)

    # --- drafts -------------------------------------------------------------------------

    def draft(self, states: StateSet, guess: Guess | None = None, limit: int = 256) -> bytes:
        """A likely continuation: the input copied on, with the entities ``guess`` expects marked up.

        With no guess it is the input copied on without new markup (open entities close at
        the end). Drafts are only proposals: they need not be what the model will write.
        """
        guess = guess or Guess()
        state = self._pick(states, guess)
        if state is None:
            return b""
        out = bytearray()
        planned: dict[int, tuple[int, str | None]] = {}  # entity start -> (end, label) this draft opened
        opened_here: set[int] = set()
        while len(out) < limit:
            kind = state[0]
            if kind == "M":
                _, markup, k, then, _ = state
                out += markup[k:]
                state = then
            elif kind == "T":
                _, i, k, stack = state
                out += self.tokens[i][k:]
                state = ("A", i, stack)
            elif kind == "B":
                _, i, stack = state
                found = guess.entity_at(self, i) if self._can_open(stack) and i not in opened_here else None
                if found is not None:
                    opened_here.add(i)
                    planned[i] = found
                    markup = self._opener(found[1])
                    out += markup[0]
                    state = ("B", i, (*stack, (markup[1], i)))
                elif not stack:  # nothing open: the words up to where the guess expects more than a copy, in one go
                    # the last word to write: the one that brings the draft to ``limit`` bytes, or the last
                    full = min(self.n - 1, bisect_left(self._ends, limit - len(out) + self._ends[i] - len(self.tokens[i]), i))
                    last = guess.plain_until(self, i + 1, full + 1) - 1
                    out += b" ".join(self.tokens[i : last + 1])
                    state = ("A", last, stack)
                else:
                    out += self.tokens[i]
                    state = ("A", i, stack)
            else:  # "A"
                _, i, stack = state
                if stack:
                    label, start = stack[-1]
                    end, guessed = planned.get(start) or guess.end_of(self, start, i)
                    if end <= i + 1 or i == self.n - 1:
                        out += self._closer(label if label is not None else guessed or guess.label_for(self, start, i + 1))
                        state = ("A", i, stack[:-1])
                        continue
                if i >= self.n - 1 or (out and guess.pause_before(self, i + 1)):
                    break
                out += b" "
                state = ("B", i + 1, stack)
        return bytes(out)

    def _opener(self, label: str | None) -> tuple[bytes, str | None]:
        for markup, written in self.openers:
            if written is None or written == label:
                return markup, written
        return self.openers[0]

    def _closer(self, label: str | None) -> bytes:
        top = None if not self._close_labelled else label
        if top is None:
            return self.closers(None)[0]
        return self._markup.closer(top).encode()

    def _pick(self, states: StateSet, guess: Guess) -> State | None:
        """The state a draft follows: the only one, or the one the guess prefers."""
        if len(states) == 1:
            return next(iter(states))
        markup = sorted((s for s in states if s[0] == "M"), key=lambda s: s[1])
        plain = [s for s in states if s[0] != "M"]
        if markup:
            _, _, _, then, closing = markup[0]
            if closing is not None:  # a closer has begun (" |", "</"): will it close, and with which label?
                start, i = closing[1], then[1]
                end, label = guess.end_of(self, start, i)
                if not plain or end <= i + 1:
                    label = label or guess.label_for(self, start, i + 1)
                    return next((s for s in markup if label.encode() in s[1]), markup[0])
            elif then[0] == "B":  # an opener has begun: with which label?
                found = guess.entity_at(self, then[1])
                label = found[1] if found and found[1] else guess.label_for(self, then[1], then[1] + 1)
                return next((s for s in markup if label.encode() in s[1]), markup[0])
        if len(plain) > 1:
            return min(plain, key=repr)
        return plain[0] if plain else None


class Guess:
    """Where a draft expects entities: none, unless a subclass knows better (``copy_decoding.EntityMemory``)."""

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


def _labels(stack: tuple) -> tuple:
    """The labels of a stack of open entities, without where they began."""
    return tuple([label for label, _ in stack]) if stack else ()


def _reads(state: State) -> int:
    """The first input token a state's continuations read: its own (before or in it), or the next (after it)."""
    if state[0] == "M":
        state = state[3]
    return state[1] + 1 if state[0] == "A" else state[1]


def _shift(state: State, first: int) -> State:
    kind = state[0]
    if kind == "M":
        _, markup, k, then, closing = state
        return ("M", markup, k, _shift(then, first), None if closing is None else closing[0])
    stack = tuple(label for label, _ in state[-1])
    if kind == "T":
        return ("T", state[1] - first, state[2], stack)
    return (kind, state[1] - first, stack)


def allowed_tokens(trie: VocabTrie, grammar: InlineGrammar, states: StateSet) -> list[int]:
    """The vocabulary entries that keep the output a valid rendering from ``states`` (end of turn aside)."""
    return _walk(trie, grammar, states)[0]


def _walk(trie: VocabTrie, grammar: InlineGrammar, states: StateSet) -> tuple[list[int], int, int]:
    """``allowed_tokens``, the last input token whose bytes the walk read, and the last whose existence it asked.

    A state before or inside token ``i`` reads its bytes; a state after token ``i`` asks only
    whether token ``i + 1`` exists (may a space follow?).
    """
    found: list[int] = []
    read, asked = -1, -1
    for state in states:
        read, asked = _note(state, read, asked)
    edges, ends, inner = trie.edges, trie.ends, trie.inner
    tokens = grammar.tokens
    work = [(0, states)]
    while work:
        node, current = work.pop()
        if len(current) == 1:
            state = next(iter(current))
            if state[0] == "T":  # inside a word: one path, along the word's bytes
                _, i, k, stack = state
                token = tokens[i]
                at: int | None = node
                for byte in token[k:-1]:
                    at = edges.get(at << 8 | byte)
                    if at is None:
                        break
                    found.extend(ends.get(at, ()))
                    if not inner[at]:
                        at = None
                        break
                if at is not None:
                    child = edges.get(at << 8 | token[-1])
                    if child is not None:
                        found.extend(ends.get(child, ()))
                        if inner[child]:
                            read, asked = _note(("A", i, stack), read, asked)
                            work.append((child, frozenset([("A", i, stack)])))
                continue
        base = node << 8
        for byte in grammar.next_bytes(current):
            child = edges.get(base | byte)
            if child is None:
                continue
            after = grammar.step(current, byte)
            if after:
                found.extend(ends.get(child, ()))
                if inner[child]:
                    for state in after:
                        read, asked = _note(state, read, asked)
                    work.append((child, after))
    return found, read, asked


def _note(state: State, read: int, asked: int) -> tuple[int, int]:
    if state[0] == "M":
        state = state[3]
    if state[0] == "A":
        return read, max(asked, state[1] + 1)
    return max(read, state[1]), asked


class AllowedTokens:
    """Allowed token sets, memoized per grammar state set and shared across rows and sentences.

    A trie walk from a state set reads only the input tokens from the first one its states
    can still write (the next one, for a state after a token) to the last one it reaches,
    and asks whether one more exists: its result is stored under the states relative to
    that first token, with the words it read and that answer, and serves every sentence of
    the same format and labels that agrees there. With
    ``end_of_turn``, that id is allowed too where the rendering is complete.
    """

    def __init__(self, trie: VocabTrie, end_of_turn: int | None = None) -> None:
        self.trie = trie
        self.end_of_turn = end_of_turn
        # (language, relative states) -> {(end of the words read, token asked about): {(those words, it exists): ids}};
        # a lone state inside a token is keyed by the rest of that token, and the words after it are checked
        self.shared: dict[tuple, dict[tuple[int, int], dict[tuple[tuple[str, ...], bool], tuple[int, ...]]]] = {}
        self.walks = 0  # trie walks done
        self.lookups = 0  # state sets new to their grammar, served shared or by a walk

    def __call__(self, grammar: InlineGrammar, states: StateSet) -> tuple[int, ...]:
        found = grammar.allowed.get(states)
        if found is not None:
            return found
        found = self._shared(grammar, states) if grammar.n else tuple(allowed_tokens(self.trie, grammar, states))
        if self.end_of_turn is not None and grammar.accepting(states):
            found = (*found, self.end_of_turn)
        grammar.allowed[states] = found
        return found

    def _shared(self, grammar: InlineGrammar, states: StateSet) -> tuple[int, ...]:
        self.lookups += 1
        words = grammar.words
        state = next(iter(states)) if len(states) == 1 else None
        kind = state[0] if state is not None else None
        if kind == "T":  # inside a token: what is left of it is all the key needs of it
            _, first, k, stack = state
            key: tuple = (grammar.language, "T", grammar.tokens[first][k:], _labels(stack))
            low = first + 1
        elif kind == "B" or kind == "A":  # before a token or after one: the labels open, from that token or the next
            first = state[1] if kind == "B" else state[1] + 1
            key = (grammar.language, kind, _labels(state[2]))
            low = first
        elif kind == "M":  # inside markup: the rest of it, and the state after it as above
            _, markup, k, then, _ = state
            first = then[1] if then[0] == "B" else then[1] + 1
            key = (grammar.language, "M", markup[k:], then[0], _labels(then[2]))
            low = first
        else:
            first, relative = grammar.relative(states)
            key = (grammar.language, relative)
            low = first
        n = grammar.n
        shapes = self.shared.get(key)
        if shapes is not None:
            for (end, asked), known in shapes.items():
                found = known.get((words[low : first + end], first + asked < n))
                if found is not None:
                    return found
        else:
            shapes = self.shared[key] = {}
        self.walks += 1
        ids, read, asked = _walk(self.trie, grammar, states)
        found = tuple(ids)
        shapes.setdefault((read + 1 - first, asked - first), {})[(words[low : read + 1], asked < n)] = found
        return found
