"""Host bookkeeping of a batch being decoded: each row's output and grammar state, and where rows stand in the KV cache."""

from __future__ import annotations

from .grammar import Closed, InlineGrammar, StateSet


class Row:
    """One sentence being decoded: what it wrote, where its grammar stands, what its next draft is made from."""

    __slots__ = ("index", "feed", "grammar", "states", "output", "logprobs", "cap", "done", "passes", "budget", "expect", "at",
                 "whole", "closed", "unsure")  # fmt: skip

    def __init__(self, index: int, feed: list[int], grammar: InlineGrammar | None, cap: int, budget: int = 0) -> None:
        self.index = index
        self.feed = feed  # chosen tokens not yet fed to the model
        self.grammar = grammar
        self.states: StateSet | None = grammar.start() if grammar is not None else None
        self.output: list[int] = []
        self.logprobs: list[float] = []  # each output token's log-probability, when the decoder scores
        self.cap = cap
        self.done = False
        self.passes = 0
        self.budget = budget  # longest draft for the next pass
        self.expect = b""  # the draft text last made, of which ``at`` bytes have been written since
        self.at = 0
        self.whole = False  # whether ``expect`` runs to where drafts stop (the end, a pause), not to a length limit
        self.closed: list[Closed] = []  # the entities the output closed, as its grammar read them
        self.unsure = False  # whether the grammar could read the output two ways (then ``closed`` is not to be trusted)

    def wrote(self, data: bytes) -> None:
        """Move the draft text's cursor over ``data``, or drop the text where the output left it."""
        if self.expect.startswith(data, self.at):
            self.at += len(data)
        else:
            self.expect, self.at, self.whole = b"", 0, False

    def closes(self, states: StateSet, data: bytes) -> None:
        """Note the entities that a token's ``data``, written from ``states``, closes."""
        assert self.grammar is not None
        if self.grammar.may_close(data):
            closed = self.grammar.closed(states, data)
            if closed is None:
                self.unsure = True
            else:
                self.closed += closed


class Batch:
    """The rows decoding together, and where each stands in the KV cache: columns kept, next positions, rows leaving."""

    def __init__(self, rows: list[Row], prefix_len: int) -> None:
        n = len(rows)
        self.rows = rows
        self.length = prefix_len  # columns of the cache before the last step: those the mask holds between steps
        self.ends = [prefix_len] * n  # one past each row's last kept column
        self.positions = [prefix_len] * n  # each row's next position id
        self.kept: list[int] = []  # positions each row kept in the last step
        self.width = 0  # positions each row was fed in the last step (0 before the first)
        self.holes: list[int] = []  # rows that finished in the last step, below the rows left ...
        self.movers: list[int] = []  # ... and the rows left above them, which move into their places

    def crop(self) -> int:
        """The last step's columns that every row left as holes at their end: cropped from the cache."""
        return self.length + self.width - max(self.ends) if self.width else 0

    def stepped(self, fixed: int, width: int, took: list[int]) -> None:
        """Record a step that appended ``fixed`` columns of the step before and fed ``width``; each row kept ``took``."""
        self.length += fixed
        self.width = width
        self.kept = took
        for r, kept in enumerate(took):
            self.ends[r] = self.length + kept
            self.positions[r] += kept

    def finished(self) -> list[Row]:
        """Take the finished rows out: the last rows left move into their places (``holes``, ``movers``)."""
        rows = self.rows
        done = [row for row in rows if row.done]
        self.holes, self.movers = [], []
        if done and len(done) < len(rows):
            left = len(rows) - len(done)
            self.holes = [r for r in range(left) if rows[r].done]
            self.movers = [r for r in range(left, len(rows)) if not rows[r].done]
            for hole, mover in zip(self.holes, self.movers):
                rows[hole], self.positions[hole], self.ends[hole], self.kept[hole] = (
                    rows[mover], self.positions[mover], self.ends[mover], self.kept[mover],
                )  # fmt: skip
            del rows[left:], self.positions[left:], self.ends[left:], self.kept[left:]
        elif done:
            rows.clear()
        return done
