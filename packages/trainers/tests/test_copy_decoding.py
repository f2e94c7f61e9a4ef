"""Constrained, speculative and prefix-cached decoding on real tokenizers: valid outputs, identical tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, ModelSpec, plugins
from ner_toolkit import read_conll

from ner_toolkit_trainers.decoding.decoder import CopyDecoder
from ner_toolkit_trainers.decoding.switch import DraftSwitch
from ner_toolkit_trainers.decoding.vocabulary import VocabTrie
from ner_toolkit_trainers.models import load_model, load_tokenizer
from ner_toolkit.prompts import end_of_turn_id, prompt_ids
from ner_toolkit_trainers.transformers_predictor import TransformersPredictor


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def sentences(conll: Path, n: int, start: int = 0):
    return read_conll(conll / "eng.testb")[start : start + n]


def formatter(name: str = "bracketed", **options):
    return plugins.get_formatter(name)(CONLL2003_LABELS, **options)


def run_decoder(model, tokenizer, fmt, examples, trie, **options):
    decoder = CopyDecoder(
        model, tokenizer, fmt, trie=trie, end_of_turn=end_of_turn_id(tokenizer, "model"), **options
    )
    prompts = [prompt_ids(tokenizer, example, "model") for example in examples]
    outputs = dict(decoder.generate(prompts, examples, [64] * len(examples)))
    return [outputs[i] for i in range(len(examples))], decoder


@pytest.mark.parametrize("name", ["bracketed", "xml"])
def test_a_random_model_is_forced_to_write_valid_renderings(tiny_qwen2_dir: Path, conll: Path, name: str) -> None:
    fmt = formatter(name)
    chosen = sentences(conll, 4, start=10)
    examples = [fmt.example(sentence) for sentence in chosen]
    predictor = TransformersPredictor(
        ModelSpec(str(tiny_qwen2_dir)), None, fmt,
        decoding="speculative", prefix_cache=True, batch_size=3, progress=False, threads=1, entity_scores=False,
    )
    outputs = dict(predictor.generate(examples))
    for i, sentence in enumerate(chosen):
        result = fmt.parse(outputs[i], sentence.tokens)
        assert result.diagnostics == (), (outputs[i], result.diagnostics)
        assert result.copied_input


@pytest.fixture(scope="module")
def smollm2(smollm2_dir: Path):
    spec = ModelSpec(str(smollm2_dir))
    tokenizer = load_tokenizer(spec)
    model = load_model(spec).eval()
    return model, tokenizer, VocabTrie.from_tokenizer(tokenizer)


def test_speculative_copying_gives_the_constrained_greedy_tokens(smollm2, conll: Path) -> None:
    model, tokenizer, trie = smollm2
    fmt = formatter()
    examples = [fmt.example(sentence) for sentence in sentences(conll, 5, start=3)]
    constrained, slow = run_decoder(model, tokenizer, fmt, examples, trie, decoding="constrained", batch_size=1)
    speculative, fast = run_decoder(model, tokenizer, fmt, examples, trie, decoding="speculative", batch_size=1)
    batched, wide = run_decoder(model, tokenizer, fmt, examples, trie, decoding="speculative", batch_size=5)
    fixed, _ = run_decoder(model, tokenizer, fmt, examples, trie, decoding="speculative", batch_size=5, adaptive_drafts=False)
    assert speculative == constrained
    assert batched == constrained
    assert fixed == constrained  # draft lengths change the work, never the output
    assert fast.token_ids == slow.token_ids == wide.token_ids
    for example, output in zip(examples, constrained):
        assert fmt.parse(output, example.tokens).diagnostics == ()
    assert fast.stats.calls < slow.stats.calls / 2, (fast.stats.calls, slow.stats.calls)


def test_prefix_caching_gives_the_same_outputs(smollm2, conll: Path) -> None:
    model, tokenizer, trie = smollm2
    fmt = formatter()
    examples = [fmt.example(sentence) for sentence in sentences(conll, 4, start=20)]
    for decoding in ("plain", "constrained"):
        cached, decoder = run_decoder(model, tokenizer, fmt, examples, trie, decoding=decoding, batch_size=4)
        uncached, _ = run_decoder(
            model, tokenizer, fmt, examples, trie, decoding=decoding, batch_size=4, prefix_cache=False
        )
        assert cached == uncached
        assert decoder.stats.prefix_tokens > 100


def test_steps_that_do_not_draft_give_the_same_tokens(tiny_qwen2_dir: Path, conll: Path) -> None:
    """A step the draft switch keeps from drafting chooses as the others do: the output stays the constrained greedy one."""
    spec = ModelSpec(str(tiny_qwen2_dir))
    tokenizer = load_tokenizer(spec)
    model = load_model(spec).eval()
    trie = VocabTrie.from_tokenizer(tokenizer)
    fmt = formatter()
    examples = [fmt.example(sentence) for sentence in sentences(conll, 6, start=30)]
    constrained, _ = run_decoder(model, tokenizer, fmt, examples, trie, decoding="constrained", batch_size=3)
    always, _ = run_decoder(model, tokenizer, fmt, examples, trie, decoding="speculative", batch_size=3, adaptive_drafts=False)
    decoder = CopyDecoder(
        model, tokenizer, fmt, trie=trie, end_of_turn=end_of_turn_id(tokenizer, "model"), decoding="speculative", batch_size=3
    )
    # steps whose drafts cost much and were never accepted: drafts do not pay, but every other step probes
    decoder.switch = DraftSwitch(probe_on=2, decay=1.0, warmup=0)
    for k in range(1000):
        decoder.switch.record(1 + k % 3, 4 * (k % 2), 0, 0.001 + 0.01 * (k % 2))
    prompts = [prompt_ids(tokenizer, example, "model") for example in examples]
    outputs = dict(decoder.generate(prompts, examples, [64] * len(examples)))
    assert [outputs[i] for i in range(len(examples))] == constrained == always
    assert 0 < decoder.stats.draft_steps < decoder.stats.calls - 1, (decoder.stats.draft_steps, decoder.stats.calls)
