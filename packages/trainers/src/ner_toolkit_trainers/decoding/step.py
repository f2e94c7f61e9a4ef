"""One decoding step's inputs and choices: planned on the host, sent in one copy, chosen in one gather and argmax.

A step packs everything the device needs into one integer buffer and copies it once: which
rows leave, the mask columns to append (the last step's, as each row kept them, and this
step's), the ids fed and their first positions, and for every position to verify the flat
index of its hidden state, its allowed tokens and where they go in a padded table; one split
gives every part (``StepTensors``). After the forward pass one gather and product give the
logits of every allowed token at every position, a scatter into the table and one argmax the
choices, and one small copy brings them back: one host-device synchronisation a step.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import accumulate, repeat
from operator import sub
from typing import Any, NamedTuple

from .grammar import StateSet
from .rows import Batch


class Plan(NamedTuple):
    """What one row verifies in a step: its draft, the allowed tokens at each position, the grammar states before each."""

    draft: list[int]
    allowed: list[tuple[int, ...]]
    path: list[StateSet]


class StepTensors(NamedTuple):
    """A step's device buffer, split into its parts (1-D tensors, in the order they are packed)."""

    holes: Any  # rows that finished in the last step, below the rows left ...
    movers: Any  # ... and the rows left above them, which move into their places
    mask: Any  # the mask columns to append, row by row: the last step's as each row kept them, then this step's
    ids: Any  # the ids fed, row by row, padded to the step's width
    positions: Any  # each row's first position id
    where: Any  # each verified position's index in the flattened hidden states
    sizes: Any  # how many tokens each verified position allows
    offsets: Any  # where each position's allowed tokens go in the padded table, less the index of its first
    candidates: Any  # every verified position's allowed tokens, one after another


class Step:
    """What a step feeds each row (``feeds``), where each row's choices begin (``anchors``) and, constrained, its ``plans``."""

    def __init__(self, feeds: list[list[int]], anchors: list[int], plans: list[Plan] | None) -> None:
        self.feeds = feeds
        self.anchors = anchors
        self.plans = plans
        self.width = width = max(map(len, feeds))
        self.where = where = array("q")  # where each position's hidden state is in the flattened output
        self.sizes = sizes = array("q")
        self.candidates = candidates = array("q")
        if plans is None:
            where.extend(r * width + anchor for r, anchor in enumerate(anchors))
        else:
            for r, (draft, allowed, _) in enumerate(plans):
                for ids in allowed:
                    candidates.extend(ids)
                sizes.extend(map(len, allowed))
                at = r * width + anchors[r]
                where.extend(range(at, at + len(draft) + 1))
        self.widest = max(sizes) if sizes else 0

    def pack(self, batch: Batch, fixed: int, pad: int) -> array:
        """The step's buffer: holes, movers | mask columns | ids | first positions | where | sizes | slot offsets | candidates.

        ``fixed`` is how many of the last step's columns each row's mask takes again.
        """
        width, feeds = self.width, self.feeds
        half = max(width, fixed)
        runs = array("q", [1]) * half + array("q", [0]) * half  # runs[half - k : half - k + w]: k ones, then zeros up to w
        buffer = array("q", batch.holes)
        buffer.extend(batch.movers)
        kept = batch.kept
        for r, feed in enumerate(feeds):
            if fixed:
                buffer += runs[half - kept[r] : half - kept[r] + fixed]
            buffer += runs[half - len(feed) : half - len(feed) + width]
        for feed in feeds:
            buffer.extend(feed)
            buffer.extend(repeat(pad, width - len(feed)))
        buffer.extend(batch.positions)
        buffer.extend(self.where)
        buffer.extend(self.sizes)
        # candidate c of position p goes to slot p * widest + (c - p's first candidate): this is p's part of it
        if self.widest:
            buffer.extend(map(sub, range(0, len(self.where) * self.widest, self.widest), accumulate(self.sizes, initial=0)))
        buffer.extend(self.candidates)
        return buffer

    def split(self, data: Any, batch: Batch, fixed: int) -> StepTensors:
        """The parts of the step's buffer ``data``, once it is on the device."""
        n, moved, positions = len(self.feeds), len(batch.holes), len(self.sizes)
        sizes = [moved, moved, n * (fixed + self.width), n * self.width, n, len(self.where), positions, positions, len(self.candidates)]
        return StepTensors._make(data.split(sizes))


def choose(head: Any, hidden: Any, step: Step, tensors: StepTensors, arange: Any, scored: bool = False) -> tuple[list[int], list[float]]:
    """Each verified position's choice: the argmax over its allowed tokens, or over the vocabulary where none are planned.

    The logits of the allowed tokens come from one gather and product with the output
    embedding (``head``), go into a table padded to the widest set, and one argmax chooses.
    ``scored``: also each choice's log-probability, over the allowed tokens (over the
    vocabulary where none are planned); else no log-probabilities.
    """
    import torch

    if step.plans is None:
        logits = head(hidden)
        return _chosen(logits, scored)
    count, segments = len(step.candidates), len(step.where)
    candidates = tensors.candidates
    segment = torch.repeat_interleave(tensors.sizes, output_size=count)
    scores = (head.weight.index_select(0, candidates) * hidden.index_select(0, segment)).sum(-1)
    if head.bias is not None:
        scores = scores + head.bias.index_select(0, candidates)
    table = torch.full((segments * step.widest,), float("-inf"), dtype=scores.dtype, device=scores.device)
    table.index_copy_(0, arange[:count] + tensors.offsets.index_select(0, segment), scores)
    return _chosen(table.view(segments, step.widest), scored)


def _chosen(logits: Any, scored: bool) -> tuple[list[int], list[float]]:
    """The argmax of each row of ``logits`` and, ``scored``, its log-probability in that row (one copy to the host)."""
    import torch

    choices = logits.argmax(-1)
    if not scored:
        return choices.tolist(), []
    logprobs = logits.float().log_softmax(-1).gather(-1, choices[:, None])[:, 0]
    both = torch.stack([choices.to(logprobs.dtype), logprobs]).tolist()
    return [int(c) for c in both[0]], both[1]


def verified(plan: Plan, choices: Sequence[int], at: int) -> tuple[int, int]:
    """How many draft tokens of ``plan`` the choices from ``at`` on confirm, and the choice after them.

    A draft token is accepted while it is the choice at its position; the choice at the
    first difference (or after the whole draft) is kept too.
    """
    draft, allowed = plan.draft, plan.allowed
    j = 0
    while j < len(draft) and allowed[j][choices[at + j]] == draft[j]:
        j += 1
    return j, allowed[j][choices[at + j]]
