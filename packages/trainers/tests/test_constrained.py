"""The copy automaton accepts exactly the inline formats' renderings; the trie walk finds exactly the allowed tokens."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ner_toolkit import CONLL2003_LABELS, Formatter, Span, plugins
from ner_toolkit.spans import is_flat

from ner_toolkit_trainers.decoding.allowed import AllowedTokens, allowed_tokens
from ner_toolkit_trainers.decoding.grammar import InlineGrammar
from ner_toolkit_trainers.decoding.guesses import EntityMemory, Guess, draft
from ner_toolkit_trainers.decoding.vocabulary import VocabTrie

LABELS = [label.name for label in CONLL2003_LABELS]
RUN = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Plain words (no markup characters): every reading of a rendering is the one that was meant.
word = st.sampled_from(["EU", "rejects", "German", "call", "C$0.45", "é", "日本", "a", "-", ".", "1996-08-22", "PER"])


def make(name: str, nested: bool = False) -> Formatter:
    return plugins.get_formatter(name)(CONLL2003_LABELS, nested=nested)


@st.composite
def sentences(draw: st.DrawFn, nested: bool, words: st.SearchStrategy[str] = word) -> tuple[list[str], list[Span]]:
    tokens = draw(st.lists(words, min_size=1, max_size=8))
    spans: set[Span] = set()
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(tokens) - 1))
        span = Span(start, draw(st.integers(start + 1, min(len(tokens), start + 3))), draw(st.sampled_from(LABELS)))
        candidate = sorted({*spans, span})
        if is_flat(candidate) or (nested and _laminar(candidate)):
            spans.add(span)
    return tokens, sorted(spans)


def _laminar(spans: list[Span]) -> bool:
    return all(
        not a.overlaps(b) or (a.start <= b.start and b.end <= a.end) or (b.start <= a.start and a.end <= b.end)
        for a in spans
        for b in spans
    )


def accepts(grammar: InlineGrammar, text: str) -> bool:
    states = grammar.advance(grammar.start(), text.encode())
    return bool(states) and grammar.accepting(states)


@pytest.mark.parametrize("name", ["bracketed", "xml"])
@pytest.mark.parametrize("nested", [False, True])
@RUN
@given(data=st.data())
def test_every_rendering_is_accepted(name: str, nested: bool, data: st.DataObject) -> None:
    formatter = make(name, nested)
    tokens, spans = data.draw(sentences(nested))
    grammar = InlineGrammar.for_formatter(formatter, tokens)
    target = formatter.render(tokens, spans)
    assert accepts(grammar, target), target
    assert not accepts(grammar, target + " ")
    assert not accepts(grammar, target[:-1])


def random_walk(grammar: InlineGrammar, rng: random.Random, markup: float) -> str:
    """A random path through the automaton to an accepting state, biased to copying."""
    states = grammar.start()
    out = bytearray()
    while not (grammar.accepting(states) and rng.random() < 0.8):
        options = list(grammar.next_bytes(states))
        if not options:
            assert grammar.accepting(states)
            break
        copy = [b for b in options if b not in b"[<"]
        byte = rng.choice(options if rng.random() < markup or not copy else copy)
        states = grammar.step(states, byte)
        out.append(byte)
    return out.decode("utf-8")


@pytest.mark.parametrize("name", ["bracketed", "xml"])
@pytest.mark.parametrize("nested", [False, True])
@RUN
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_random_walks_are_renderings_that_parse_cleanly(name: str, nested: bool, data: st.DataObject, seed: int) -> None:
    formatter = make(name, nested)
    tokens, _ = data.draw(sentences(nested))
    grammar = InlineGrammar.for_formatter(formatter, tokens)
    output = random_walk(grammar, random.Random(seed), markup=0.3)
    result = formatter.parse(output, tokens)
    assert result.diagnostics == (), (output, result.diagnostics)
    assert result.copied_input
    assert formatter.render(tokens, result.spans) == output or nested  # nested walks may repeat a span


# Words that begin like markup as well: where an opener could start, bytes are stepped one by one.
markup_like = st.sampled_from(["EU", "[", "<b>", "|", "PER]", "a", "é", "1996-08-22", " ", "[x"])


@pytest.mark.parametrize("name", ["bracketed", "xml"])
@pytest.mark.parametrize("nested", [False, True])
@RUN
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_advancing_over_a_token_equals_stepping_its_bytes(name: str, nested: bool, data: st.DataObject, seed: int) -> None:
    """``advance`` matches runs of a word at once; the states it reaches are those of stepping byte by byte."""
    formatter = make(name, nested)
    tokens, _ = data.draw(sentences(nested, data.draw(st.sampled_from([word, markup_like]))))
    grammar = InlineGrammar.for_formatter(formatter, tokens)
    reference = InlineGrammar.for_formatter(formatter, tokens)
    output = random_walk(grammar, random.Random(seed), markup=0.3).encode()
    states = grammar.start()
    for at in range(len(output) + 1):
        for end in range(at + 1, min(len(output), at + 12) + 1):
            for piece in (output[at:end], output[at:end - 1] + b"x", output[at:end] + b" "):
                expected = states
                for byte in piece:
                    expected = reference.step(expected, byte)
                assert grammar.advance(states, piece) == expected, (output, at, piece)
        if at < len(output):
            states = reference.step(states, output[at])


@pytest.mark.parametrize("name", ["bracketed", "xml"])
@pytest.mark.parametrize("nested", [False, True])
@RUN
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_the_entities_a_rendering_closes_are_those_its_parse_gives(name: str, nested: bool, data: st.DataObject, seed: int) -> None:
    """Read in pieces of any size, as tokens write it, a rendering closes exactly the spans the formatter parses from it."""
    formatter = make(name, nested)
    look_like_markup = data.draw(st.booleans())
    tokens, _ = data.draw(sentences(nested, markup_like.filter(str.strip) if look_like_markup else word))  # words hold no space
    grammar = InlineGrammar.for_formatter(formatter, tokens)
    output = random_walk(grammar, random.Random(seed), markup=0.3).encode()
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(output) - 1)), max_size=len(output))))
    states, closed = grammar.start(), []
    for start, end in zip([0, *cuts], [*cuts, len(output)]):
        found = grammar.closed(states, output[start:end])
        if found is None:  # two readings of one text: only words that look like markup make them
            assert look_like_markup, output
            return
        closed += found
        states = grammar.advance(states, output[start:end])
    assert grammar.accepting(states)
    parsed = formatter.parse(output.decode(), tokens)
    if look_like_markup and parsed.diagnostics:  # such words may keep the parser itself from reading it back
        return
    assert sorted(set(closed)) == [(span.start, span.end, span.label) for span in parsed.spans]


def test_flat_means_one_open_entity_and_the_end_needs_everything_closed() -> None:
    grammar = InlineGrammar.for_formatter(make("bracketed"), ["EU", "rejects"])
    assert accepts(grammar, "[EU | ORG] rejects")
    assert accepts(grammar, "[EU rejects | MISC]")
    assert not accepts(grammar, "[[EU | ORG] rejects | MISC]")
    assert not accepts(grammar, "[EU rejects")
    assert not accepts(grammar, "[EU | FOO] rejects")
    assert not accepts(grammar, "EU  rejects")
    nested = InlineGrammar.for_formatter(make("bracketed", nested=True), ["EU", "rejects"])
    assert accepts(nested, "[[EU | ORG] rejects | MISC]")
    xml = InlineGrammar.for_formatter(make("xml"), ["EU", "rejects"])
    assert accepts(xml, "<ORG>EU</ORG> rejects")
    assert not accepts(xml, "<ORG>EU</LOC> rejects")


def test_literal_brackets_in_the_input_stay_text() -> None:
    formatter = make("bracketed")
    tokens = ["[", "CORRECTED", "14:06", "GMT", "]"]
    grammar = InlineGrammar.for_formatter(formatter, tokens)
    rng = random.Random(0)
    for _ in range(200):
        output = random_walk(grammar, rng, markup=0.5)
        assert formatter.parse(output, tokens).diagnostics == (), output


def test_the_draft_is_the_input_copied_on() -> None:
    grammar = InlineGrammar.for_formatter(make("bracketed"), ["EU", "rejects", "German"])
    states = grammar.advance(grammar.start(), b"[EU")
    assert draft(grammar, states) == b" rejects German | ORG]"  # with no guess, an open entity runs to the end
    assert draft(grammar, grammar.advance(states, b" | OR")) == b"G] rejects German"
    assert draft(grammar, grammar.advance(states, b" | ")) == b"ORG] rejects German"
    assert draft(grammar, grammar.advance(grammar.start(), b"EU ")) == b"rejects German"


def test_the_trie_walk_finds_exactly_the_allowed_tokens() -> None:
    pieces = ["E", "EU", "EU ", " ", " r", " rej", "ects", "rejects", " rejects", "[", "[E", " |", " | ", "ORG", " ORG",
              "]", "] ", "|", "R", "G", "O", "e", "j", "c", "t", "s", "U", " [", "r", "P", "L", "M", "I", "S", "C"]  # fmt: skip
    vocabulary = {i: piece.encode() for i, piece in enumerate(pieces)}
    trie = VocabTrie(vocabulary)
    grammar = InlineGrammar.for_formatter(make("bracketed"), ["EU", "rejects"])
    rng = random.Random(1)
    for _ in range(30):
        states = grammar.start()
        while not grammar.accepting(states):
            allowed = sorted(allowed_tokens(trie, grammar, states))
            brute = sorted(i for i, data in vocabulary.items() if grammar.advance(states, data))
            assert allowed == brute
            states = grammar.advance(states, vocabulary[rng.choice(allowed)])


def test_drafts_expect_the_entities_already_written() -> None:
    memory = EntityMemory()
    memory.learn(["EU", "rejects", "New", "York"], [Span(0, 1, "ORG"), Span(2, 4, "LOC")])
    tokens = ["The", "EU", "and", "New", "York", "Times", "agree"]
    bracketed = InlineGrammar.for_formatter(make("bracketed"), tokens)
    assert draft(bracketed, bracketed.start(), memory) == b"The [EU | ORG] and [New York | LOC] Times agree"
    # an entity the memory does not know runs on over capitalized words, labelled as its words were
    states = bracketed.advance(bracketed.start(), b"[The EU")
    assert draft(bracketed, states, memory) == b" | ORG] and [New York | LOC] Times agree"
    xml = InlineGrammar.for_formatter(make("xml"), tokens)
    assert draft(xml, xml.advance(xml.start(), b"The <"), memory) == b"ORG>EU</ORG> and <LOC>New York</LOC> Times agree"


def test_allowed_sets_shared_across_sentences_are_the_walks_own() -> None:
    pieces = ["E", "EU", "EU ", " ", " r", " rej", "ects", "rejects", " rejects", "[", "[E", " |", " | ", "ORG", " ORG",
              "]", "] ", "|", "R", "G", "O", "e", "j", "c", "t", "s", "U", " [", "r", "P", "L", "M", "I", "S", "C",
              " E", " EU", "rejects EU"]  # fmt: skip
    vocabulary = {i: piece.encode() for i, piece in enumerate(pieces)}
    trie = VocabTrie(vocabulary)
    end = len(pieces)
    shared = AllowedTokens(trie, end_of_turn=end)
    sentences = [["EU", "rejects"], ["rejects", "EU"], ["EU"], ["rejects", "EU", "rejects"], ["EU", "rejects", "EU"]]
    rng = random.Random(2)
    for name in ("bracketed", "xml"):
        for _ in range(8):
            for tokens in sentences:
                grammar = InlineGrammar.for_formatter(make(name), tokens)
                states = grammar.start()
                while True:
                    expected = sorted(allowed_tokens(trie, grammar, states)) + ([end] if grammar.accepting(states) else [])
                    assert sorted(shared(grammar, states)) == expected, (tokens, states)
                    choices = [t for t in shared(grammar, states) if t != end]
                    if not choices or (grammar.accepting(states) and rng.random() < 0.3):
                        break
                    states = grammar.advance(states, vocabulary[rng.choice(choices)])
    assert 0 < shared.walks < shared.lookups / 2, (shared.walks, shared.lookups)  # most were served from other sentences


@pytest.mark.parametrize("pause_at_names", [False, True])
@RUN
@given(data=st.data())
def test_the_memory_finds_where_plain_copying_stops_as_its_word_by_word_answers_do(pause_at_names: bool, data: st.DataObject) -> None:
    memory = EntityMemory(pause_at_names=pause_at_names)
    for _ in range(data.draw(st.integers(0, 4))):
        memory.learn(*data.draw(sentences(nested=False)))
    tokens, _ = data.draw(sentences(nested=False))
    grammar = InlineGrammar.for_formatter(make("bracketed"), tokens)
    start = data.draw(st.integers(0, len(tokens)))
    stop = data.draw(st.integers(start, len(tokens)))
    assert memory.plain_until(grammar, start, stop) == Guess.plain_until(memory, grammar, start, stop)


@given(data=st.binary(min_size=0, max_size=24))
def test_greedy_tokenization_takes_the_longest_entry_each_time(data: bytes) -> None:
    pieces = [bytes([b]) for b in range(256)] + [b"ab", b"abc", b"bcd", b" the", b" t", b"\xc3\xa9"]
    trie = VocabTrie(dict(enumerate(pieces)))
    ids = trie.greedy(data)
    assert b"".join(pieces[i] for i in ids) == data
    at = 0
    for i in ids:
        assert not any(len(p) > len(pieces[i]) and data.startswith(p, at) for p in pieces)
        at += len(pieces[i])
