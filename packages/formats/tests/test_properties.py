"""Properties every format keeps: exact round trips, total parsing, and no invented spans."""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ner_toolkit import CONLL2003_LABELS, Formatter, Span, plugins
from ner_toolkit.spans import is_flat

from ner_toolkit_formats import diagnostics as d
from ner_toolkit_formats.align import align, fold
from ner_toolkit_formats.base import UnrepresentableError

import mutations

LABELS = [label.name for label in CONLL2003_LABELS]
FORMATS = ("bracketed", "xml", "json-grouped", "json-occurrence", "json-offset")
INLINE = ("bracketed", "xml")
TRICKY = [
    "[", "]", "|", "<", ">", '"', "\\", "'", "{", "}", ":", ",", "\\n", '\\"', "é", "日本", "🙂", "Ω",
    "[PER", "PER]", "|PER]", "<PER>", "</PER>", "<LOC>", "</LOC>", '"text":', "null", "[]", "{}",
    *LABELS,
]  # fmt: skip
#: FORMATS_EXAMPLES=5000 for a deeper search than the default suite's
RUN = settings(
    max_examples=int(os.environ.get("FORMATS_EXAMPLES", 250)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

token = st.one_of(
    st.sampled_from(TRICKY),
    st.text(st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=5),
).filter(lambda t: t.split() == [t])


@st.composite
def sentences(draw: st.DrawFn, nested: bool = False, crossing: bool = False) -> tuple[list[str], list[Span]]:
    """Tokens with a span set: flat, or nested (laminar), or with crossing spans too."""
    tokens = draw(st.lists(token, min_size=1, max_size=10))
    spans: set[Span] = set()
    for _ in range(draw(st.integers(0, 5))):
        start = draw(st.integers(0, len(tokens) - 1))
        span = Span(start, draw(st.integers(start + 1, min(len(tokens), start + 4))), draw(st.sampled_from(LABELS)))
        if all(_compatible(span, other, nested, crossing) for other in spans):
            spans.add(span)
    return tokens, sorted(spans)


def _compatible(span: Span, other: Span, nested: bool, crossing: bool) -> bool:
    if not span.overlaps(other):
        return True
    inside = (other.start <= span.start and span.end <= other.end) or (span.start <= other.start and other.end <= span.end)
    return nested and (crossing or inside)


def make(name: str, **options: object) -> Formatter:
    return plugins.get_formatter(name)(CONLL2003_LABELS, **options)


def compact(text: str) -> str:
    return "".join(text.split())


def refusal_is_documented(name: str, tokens: list[str], spans: list[Span]) -> bool:
    """The only inputs a format may refuse, as its docstring says."""
    text = " ".join(tokens)
    if name == "bracketed":
        return re.search(r" \| [^\s\[\]|]+\]", text) is not None
    if name == "xml":
        return re.search(r"</?[^\s<>/]+>", text) is not None
    if name == "json-grouped":
        return any(len(re.findall(f"(?={re.escape(' '.join(tokens[s.start : s.end]))})", text)) > 1 for s in spans)
    return False


def check_round_trip(name: str, tokens: list[str], spans: list[Span], **options: object) -> None:
    formatter = make(name, **options)
    try:
        target = formatter.render(tokens, spans)
    except UnrepresentableError:
        assert refusal_is_documented(name, tokens, spans), (tokens, spans)
        return
    assert "\n" not in target
    result = formatter.parse(target, tokens)
    assert result.spans == tuple(spans), target
    assert result.diagnostics == (), target
    assert result.copied_input
    written = sorted((compact(m.text), m.label) for m in result.mentions)
    assert written == sorted((compact("".join(tokens[s.start : s.end])), s.label) for s in spans)


def check_total(name: str, output: str, tokens: list[str], **options: object) -> None:
    """Parsing never raises, never trips the guard, and every span is text the model wrote."""
    result = make(name, **options).parse(output, tokens)
    assert d.INTERNAL_ERROR not in [diagnostic.kind for diagnostic in result.diagnostics], result.diagnostics
    assert all(diagnostic.kind in d.KINDS for diagnostic in result.diagnostics)
    assert list(result.spans) == sorted(set(result.spans))
    reported = {diagnostic.kind for diagnostic in result.diagnostics}
    # a label outside the set is kept (a wrong prediction for the scorers) and always reported
    assert all(span.end <= len(tokens) and (span.label in LABELS or d.UNKNOWN_LABEL in reported) for span in result.spans)
    assert options.get("nested") or is_flat(result.spans)
    written = {(compact(m.text).lower(), m.label) for m in result.mentions}  # alignment ignores case (recased outputs)
    for span in result.spans:
        assert (compact("".join(tokens[span.start : span.end])).lower(), span.label) in written


@RUN
@given(st.sampled_from(FORMATS), sentences())
def test_flat_spans_round_trip(name: str, sentence: tuple[list[str], list[Span]]) -> None:
    check_round_trip(name, *sentence)


@RUN
@given(st.sampled_from(INLINE), sentences(nested=True))
def test_nested_spans_round_trip_inline(name: str, sentence: tuple[list[str], list[Span]]) -> None:
    check_round_trip(name, *sentence, nested=True)


@RUN
@given(st.sampled_from(FORMATS[2:]), sentences(nested=True, crossing=True))
def test_crossing_spans_round_trip_in_json(name: str, sentence: tuple[list[str], list[Span]]) -> None:
    check_round_trip(name, *sentence, nested=True)


@RUN
@given(st.sampled_from(FORMATS), st.text(max_size=80), st.lists(token, min_size=1, max_size=8), st.booleans())
def test_any_text_parses(name: str, output: str, tokens: list[str], nested: bool) -> None:
    check_total(name, output, tokens, nested=nested)


@st.composite
def mutated(draw: st.DrawFn, name: str) -> tuple[str, list[str]]:
    """A valid target, then damaged: cut, characters deleted or doubled, labels swapped, brackets added."""
    tokens, spans = draw(sentences())
    try:
        output = make(name).render(tokens, spans)
    except UnrepresentableError:
        output = " ".join(tokens)
    for _ in range(draw(st.integers(1, 4))):
        output = draw(st.sampled_from(MUTATIONS))(draw, output)
    return output, tokens


def _swap_label(draw: st.DrawFn, text: str) -> str:
    return text.replace(draw(st.sampled_from(LABELS)), draw(st.sampled_from([*LABELS, "GPE", "", "per"])))


MUTATIONS = [mutations.cut, mutations.delete, mutations.double, mutations.inserter([*mutations.MARKUP, "\n"]), _swap_label, mutations.respace]


@RUN
@given(st.data())
def test_damaged_outputs_parse(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(FORMATS))
    output, tokens = data.draw(mutated(name))
    check_total(name, output, tokens)


@RUN
@given(st.text(max_size=60), st.text(max_size=60))
def test_alignment_is_monotonic_and_inside_the_target(source: str, target: str) -> None:
    alignment = align(source, target)
    pairs = alignment.pairs()
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(pairs, pairs[1:]))
    # characters are matched up to letter case (a truecased output aligns to an all-caps input)
    assert all(0 <= s < len(source) and 0 <= t < len(target) and fold(source[s]) == fold(target[t]) for s, t in pairs)


@RUN
@given(st.text(max_size=60), st.data())
def test_mapped_ranges_hold_the_same_text(source: str, data: st.DataObject) -> None:
    target = data.draw(
        st.sampled_from([source, source.replace(" ", ""), "x" + source[3:] + " y", source[::-1], source.upper(), source.title()])
    )
    start = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(start, len(source)))
    mapped = align(source, target).map_range(start, end)
    if mapped is not None:
        assert 0 <= mapped[0] < mapped[1] <= len(target)
        assert fold(compact(target[mapped[0] : mapped[1]])) == fold(compact(source[start:end]))
