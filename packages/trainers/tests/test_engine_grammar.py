"""The copy grammar as engines compile it (xgrammar, as vLLM and SGLang do): the same language as the toolkit's decoder.

On the SmolLM2 and Qwen2.5 tokenizers: every gold rendering of eng.testb is accepted token
by token and ends there, renderings the decoder would never write are rejected, and along
random walks xgrammar's next-token masks equal the toolkit's allowed sets.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import xgrammar as xgr
from hypothesis import given, settings
from hypothesis import strategies as st
from ner_toolkit import CONLL2003_LABELS, ModelSpec, Span, plugins, read_conll
from ner_toolkit.grammars import copy_grammar
from ner_toolkit.prompts import end_of_turn_id

from ner_toolkit_trainers.decoding.allowed import AllowedTokens
from ner_toolkit_trainers.decoding.grammar import InlineGrammar
from ner_toolkit_trainers.decoding.vocabulary import VocabTrie
from ner_toolkit_trainers.models import load_tokenizer
LABELS = [label.name for label in CONLL2003_LABELS]


class Engine:
    """A tokenizer as xgrammar sees it, and the toolkit's own tables for it."""

    def __init__(self, folder: Path) -> None:
        self.tokenizer = load_tokenizer(ModelSpec(str(folder)))
        self.info = xgr.TokenizerInfo.from_huggingface(self.tokenizer)
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=1)
        self.end = end_of_turn_id(self.tokenizer, "model")
        self.trie = VocabTrie.from_tokenizer(self.tokenizer)
        self.allowed = AllowedTokens(self.trie, self.end)

    def matcher(self, formatter, tokens):
        compiled = self.compiler.compile_grammar(copy_grammar(formatter.inline_markup(), LABELS, tokens))
        return xgr.GrammarMatcher(compiled, override_stop_tokens=[self.end])

    def accepts(self, formatter, tokens, text: str) -> bool:
        matcher = self.matcher(formatter, tokens)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return all(matcher.accept_token(i) for i in ids) and matcher.accept_token(self.end) and matcher.is_terminated()

    def mask(self, matcher) -> set[int]:
        bitmask = xgr.allocate_token_bitmask(1, self.info.vocab_size)
        matcher.fill_next_token_bitmask(bitmask)
        bits = bitmask[0].tolist()
        return {word * 32 + b for word, value in enumerate(bits) for b in range(32) if (value >> b) & 1}


@pytest.fixture(scope="module", params=["smollm2", "qwen2.5"])
def engine(request: pytest.FixtureRequest) -> Engine:
    folder = request.getfixturevalue("smollm2_dir" if request.param == "smollm2" else "qwen25_tokenizer_dir")
    return Engine(folder)


@pytest.fixture(scope="module")
def testb(conll: Path):
    return read_conll(conll / "eng.testb")


@pytest.mark.parametrize("name", ["bracketed", "xml"])
def test_every_gold_rendering_of_eng_testb_is_accepted_and_complete(engine: Engine, testb, name: str) -> None:
    formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
    step = 1 if name == "bracketed" else 7  # every sentence in the reference format, every seventh in xml
    refused = [s.id for s in testb[::step] if not engine.accepts(formatter, s.tokens, formatter.render(s.tokens, s.spans))]
    assert refused == []


def mutations(formatter, sentence) -> list[str]:
    """Renderings the decoder never writes: a changed first word, an unknown label, an entity never closed, a doubled space."""
    text = formatter.render(sentence.tokens, sentence.spans)
    bad = [formatter.render(("X" + sentence.tokens[0], *sentence.tokens[1:]), sentence.spans), text.replace(" ", "  ", 1),
           text + " ."]
    if sentence.spans:
        span = sentence.spans[0]
        relabelled = (*sentence.spans[1:], Span(span.start, span.end, "DATE"))
        bad.append(formatter.render(sentence.tokens, relabelled))
        markup = formatter.inline_markup()
        bad.append(text.replace(markup.closer(span.label), "", 1))
    return [b for b in bad if b != text]


def test_mutated_renderings_are_rejected(engine: Engine, testb) -> None:
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    chosen = [s for s in testb[:400] if len(s.tokens) > 1][:150]
    accepted = [(s.id, bad) for s in chosen for bad in mutations(formatter, s) if engine.accepts(formatter, s.tokens, bad)]
    assert accepted == []


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_hypothesis_renderings_are_accepted(engine: Engine, data: st.DataObject) -> None:
    words = data.draw(st.lists(st.sampled_from(["EU", "rejects", "German", "call", "Müller", "158", ".", "[", "]", '"', "C$0.45"]),
                               min_size=1, max_size=8))
    starts = data.draw(st.lists(st.integers(0, len(words) - 1), unique=True, max_size=3))
    spans, last = [], -1
    for start in sorted(starts):
        if start > last:
            end = data.draw(st.integers(start + 1, len(words)))
            if not any(s.start < end and start < s.end for s in spans):
                spans.append(Span(start, end, data.draw(st.sampled_from(LABELS))))
                last = end - 1
    formatter = plugins.get_formatter(data.draw(st.sampled_from(["bracketed", "xml"])))(CONLL2003_LABELS)
    assert engine.accepts(formatter, words, formatter.render(words, spans))


def test_random_walks_allow_the_same_next_tokens_as_the_decoder(engine: Engine, testb) -> None:
    """At every step the engine's mask equals the decoder's allowed set (end of turn where a rendering is complete)."""
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    chooser = random.Random(7)
    differences = []
    for sentence in testb[20:32]:
        matcher = engine.matcher(formatter, sentence.tokens)
        grammar = InlineGrammar.for_formatter(formatter, sentence.tokens)
        states = grammar.start()
        for _ in range(400):
            ours = set(engine.allowed(grammar, states))
            theirs = engine.mask(matcher)
            if ours != theirs:
                differences.append((sentence.id, sorted(ours - theirs)[:5], sorted(theirs - ours)[:5]))
                break
            token = chooser.choice(sorted(ours))
            if token == engine.end:
                break
            assert matcher.accept_token(token)
            states = grammar.advance(states, engine.trie.bytes[token])
    assert differences == []
