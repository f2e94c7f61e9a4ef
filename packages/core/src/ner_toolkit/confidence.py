"""Entity confidence: the probability the model gave to its own decisions about an entity.

An entity's decisions are the tokens of its markup in the output: the opener written
before its first word, the closer (with its label) after its last word. Its score is the
product of their probabilities, so it is high only when the model was sure the entity
starts there, is of this type and ends there. The tokens that copy the entity's words
are left out: copying is not a decision about the entity.

Which probability a token has is the predictor's to say (``Generation``): plain greedy
decoding gives the model's probability over the whole vocabulary; constrained and
speculative copying give it renormalized over the tokens the copy grammar allows at that
step, which is the choice the decoder actually made (continue copying, open, which label,
close). The markup is located by rendering the parsed spans with the format's
``InlineMarkup``; where that rendering is not the output (a mis-copied word in plain
decoding) or the format writes no inline markup, the prediction has no scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from .interfaces import Formatter, Generation, InlineMarkup, Prediction
from .spans import Span


def markup_ranges(markup: InlineMarkup, tokens: Sequence[str], spans: Sequence[Span]) -> tuple[str, list[list[tuple[int, int]]]]:
    """The rendering of ``spans`` on ``tokens`` and, for each span in order, the characters of its opener and closer.

    Tokens are joined by single spaces; openers come right before a span's first token
    (outer spans first), closers right after its last (inner spans first).
    """
    order = sorted(range(len(spans)), key=lambda i: (spans[i].start, -spans[i].end))
    opening: dict[int, list[int]] = {}
    closing: dict[int, list[int]] = {}
    for i in order:
        opening.setdefault(spans[i].start, []).append(i)
        closing.setdefault(spans[i].end - 1, []).insert(0, i)
    ranges: list[list[tuple[int, int]]] = [[] for _ in spans]
    parts: list[str] = []
    at = 0
    for k, token in enumerate(tokens):
        if k:
            parts.append(" ")
            at += 1
        for i in opening.get(k, []):
            text = markup.opener(spans[i].label)
            ranges[i].append((at, at + len(text)))
            parts.append(text)
            at += len(text)
        parts.append(token)
        at += len(token)
        for i in closing.get(k, []):
            text = markup.closer(spans[i].label)
            ranges[i].append((at, at + len(text)))
            parts.append(text)
            at += len(text)
    return "".join(parts), ranges


def entity_scores(formatter: Formatter, tokens: Sequence[str], spans: Sequence[Span], generation: Generation) -> tuple[float, ...]:
    """Each span's score from the log-probabilities of the output tokens that wrote its markup; () where they cannot be located."""
    markup = formatter.inline_markup()
    if markup is None or not spans:
        return ()
    first_line = generation.text.split("\n", 1)[0]
    lead = len(first_line) - len(first_line.lstrip())
    rendering, ranges = markup_ranges(markup, tokens, spans)
    if first_line.strip() != rendering:
        return ()
    starts = (0, *generation.token_ends[:-1])
    scores = []
    for pieces in ranges:
        total = 0.0
        for start, end, logprob in zip(starts, generation.token_ends, generation.token_logprobs):
            if any(start < lead + b and lead + a < end for a, b in pieces):
                total += logprob
        scores.append(min(1.0, math.exp(total)))
    return tuple(scores)


def above(prediction: Prediction, min_score: float) -> Prediction:
    """The prediction without the spans scored below ``min_score``; a prediction without scores stays as it is."""
    if not prediction.scores:
        return prediction
    kept = [(span, score) for span, score in zip(prediction.spans, prediction.scores) if score >= min_score]
    return replace(prediction, spans=tuple(span for span, _ in kept), scores=tuple(score for _, score in kept))
