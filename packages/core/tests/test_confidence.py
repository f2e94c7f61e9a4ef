"""Entity scores from token log-probabilities: the markup tokens of each entity, multiplied; nothing where markup cannot be located."""

from __future__ import annotations

import math

from pytest import approx

from ner_toolkit import CONLL2003_LABELS, Generation, Span, plugins
from ner_toolkit.confidence import entity_scores, markup_ranges

TOKENS = ("Hussain", ",", "considered", "surplus", "to", "England", "'s")
SPANS = (Span(0, 1, "PER"), Span(5, 6, "LOC"))


def bracketed():
    return plugins.get_formatter("bracketed")(CONLL2003_LABELS)


def generation(pieces: list[tuple[str, float]]) -> Generation:
    ends, at = [], 0
    for text, _ in pieces:
        at += len(text)
        ends.append(at)
    return Generation("".join(text for text, _ in pieces), tuple(ends), tuple(p for _, p in pieces))


def test_markup_ranges_match_the_formats_own_rendering() -> None:
    for name in ("bracketed", "xml"):
        formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
        rendering, ranges = markup_ranges(formatter.inline_markup(), TOKENS, SPANS)
        assert rendering == formatter.render(TOKENS, SPANS)
        assert [[rendering[a:b] for a, b in pieces] for pieces in ranges] == [
            [formatter.inline_markup().opener(s.label), formatter.inline_markup().closer(s.label)] for s in SPANS]


def test_a_score_is_the_product_of_its_markup_tokens_probabilities() -> None:
    # "[Hussain | PER] , considered surplus to [England | LOC] 's" as a tokenizer might cut it
    pieces = [("[", math.log(0.9)), ("Huss", math.log(0.5)), ("ain", math.log(0.99)), (" |", math.log(0.8)),
              (" PER", math.log(0.7)), ("]", math.log(0.95)), (" ,", math.log(0.6)), (" considered surplus to", math.log(0.3)),
              (" [", math.log(0.4)), ("England", math.log(0.2)), (" | LOC]", math.log(0.5)), (" 's", math.log(0.9))]
    scores = entity_scores(bracketed(), TOKENS, SPANS, generation(pieces))
    assert scores == approx((0.9 * 0.8 * 0.7 * 0.95, 0.4 * 0.5), rel=1e-12)  # copied words ("Huss", "England") are not decisions
    assert all(0 <= s <= 1 for s in scores)


def test_a_token_that_writes_markup_and_a_word_counts_for_the_entity() -> None:
    pieces = [("[H", math.log(0.5)), ("ussain | PER]", math.log(0.6)), (" , considered surplus to England 's", math.log(0.9))]
    assert entity_scores(bracketed(), TOKENS, SPANS[:1], generation(pieces)) == approx((0.5 * 0.6,), rel=1e-12)


def test_no_scores_where_the_output_is_not_the_rendering_of_its_spans() -> None:
    misspelled = generation([("[Husain | PER] , considered surplus to England 's", -0.1)])
    assert entity_scores(bracketed(), TOKENS, SPANS[:1], misspelled) == ()
    json_format = plugins.get_formatter("json-grouped")(CONLL2003_LABELS)
    assert entity_scores(json_format, TOKENS, SPANS[:1], generation([('{"PER": ["Hussain"]}', -0.1)])) == ()
    assert entity_scores(bracketed(), TOKENS, (), generation([("Hussain , considered surplus to England 's", -0.1)])) == ()


def test_text_after_the_first_line_and_leading_space_do_not_move_the_markup() -> None:
    pieces = [(" [", math.log(0.5)), ("Hussain", 0.0), (" | PER]", math.log(0.5)), (" , considered surplus to England 's", 0.0),
              ("\nmore", math.log(0.1))]
    assert entity_scores(bracketed(), TOKENS, SPANS[:1], generation(pieces)) == approx((0.25,), rel=1e-12)
