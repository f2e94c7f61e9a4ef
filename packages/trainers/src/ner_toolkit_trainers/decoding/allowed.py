"""Allowed token sets: which vocabulary entries keep an output a valid rendering, memoized across sentences.

``allowed_tokens`` walks the vocabulary trie and the grammar automaton together, so the
allowed set at a state costs only the tokens that are prefixes of a valid continuation, not
a pass over the whole vocabulary. ``AllowedTokens`` memoizes those sets: per state set of
one grammar, and across rows and sentences under a key that names the states relative to
their first token and the few words the walk read (``the`` at a word start allows the same
tokens in every sentence).
"""

from __future__ import annotations

from .grammar import After, Before, InlineGrammar, Inside, Markup, State, StateSet, open_labels
from .vocabulary import VocabTrie

MAX_SHARED = 1 << 16  # allowed sets kept across sentences: a few test sets' worth, some tens of MB


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
            if type(state) is Inside:  # inside a word: one path, along the word's bytes
                i, k, stack = state.i, state.k, state.stack
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
                            end = After(i, stack)
                            read, asked = _note(end, read, asked)
                            work.append((child, frozenset([end])))
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
    """``read`` and ``asked`` of ``_walk`` once it has reached ``state``."""
    if type(state) is Markup:
        state = state.then
    if type(state) is After:
        return read, max(asked, state.i + 1)
    return max(read, state.i), asked


class AllowedTokens:
    """Allowed token sets, memoized per grammar state set and shared across rows and sentences.

    A trie walk from a state set reads only the input tokens from the first one its states
    can still write (the next one, for a state after a token) to the last one it reaches,
    and asks whether one more exists: its result is stored under the states relative to
    that first token, with the words it read and that answer, and serves every sentence of
    the same format and labels that agrees there. With ``end_of_turn``, that id is allowed
    too where the rendering is complete. The shared store is emptied when it holds
    ``limit`` sets (a long-lived decoder's memory stays bounded; common sets come back within
    a few sentences).
    """

    def __init__(self, trie: VocabTrie, end_of_turn: int | None = None, limit: int = MAX_SHARED) -> None:
        self.trie = trie
        self.end_of_turn = end_of_turn
        self.limit = limit
        # (language, relative states) -> {(end of the words read, token asked about): {(those words, it exists): ids}};
        # a lone state inside a token is keyed by the rest of that token, and the words after it are checked
        self.shared: dict[tuple, dict[tuple[int, int], dict[tuple[tuple[str, ...], bool], tuple[int, ...]]]] = {}
        self.size = 0  # sets in ``shared``
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
        kind = type(state)
        if kind is Inside:  # inside a token: what is left of it is all the key needs of it
            first = state.i
            key: tuple = (grammar.language, state.kind, grammar.tokens[first][state.k :], open_labels(state.stack))
            low = first + 1
        elif kind is Before or kind is After:  # before a token or after one: the labels open, from that token or the next
            first = state.i if kind is Before else state.i + 1
            key = (grammar.language, state.kind, open_labels(state.stack))
            low = first
        elif kind is Markup:  # inside markup: the rest of it, and the state after it as above
            then = state.then
            first = then.i if type(then) is Before else then.i + 1
            key = (grammar.language, state.kind, state.markup[state.k :], then.kind, open_labels(then.stack))
            low = first
        else:
            first, relative = grammar.relative(states)
            key = (grammar.language, relative)
            low = first
        n = grammar.n
        for (end, asked), known in self.shared.get(key, {}).items():
            found = known.get((words[low : first + end], first + asked < n))
            if found is not None:
                return found
        if self.size >= self.limit:
            self.shared.clear()
            self.size = 0
        shapes = self.shared.setdefault(key, {})
        self.walks += 1
        ids, read, asked = _walk(self.trie, grammar, states)
        found = tuple(ids)
        shapes.setdefault((read + 1 - first, asked - first), {})[(words[low : read + 1], asked < n)] = found
        self.size += 1
        return found
