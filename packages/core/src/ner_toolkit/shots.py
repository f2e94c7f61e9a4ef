"""Few-shot prompts: solved examples from the train split shown before every sentence (``format.shots``)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from .interfaces import Example
from .spans import Sentence

MAX_SHOTS = 32


def draw_shots(sentences: Sequence[Sentence], examples: Sequence[Example], k: int, seed: int) -> tuple[Example, ...]:
    """``k`` examples drawn at random by ``seed`` among the sentences with at least one entity, in file order.

    The same seed and split give the same shots; every prompt gets the same ones, so an
    engine's prefix cache holds them once.
    """
    candidates = [i for i, sentence in enumerate(sentences) if sentence.spans]
    if k > len(candidates):
        raise ValueError(f"format.shots: {k} examples asked for, but the train split has {len(candidates)} sentences with entities")
    chosen = sorted(random.Random(seed).sample(candidates, k))
    return tuple(examples[i] for i in chosen)


def with_shots(examples: Sequence[Example], shots: Sequence[Example]) -> list[Example]:
    """The examples, each prompted after ``shots``."""
    if not shots:
        return list(examples)
    return [replace(example, shots=tuple(shots)) for example in examples]
