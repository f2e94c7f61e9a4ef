"""The copy decoder lives as long as the loaded model: reused by every generate call, warm, bounded, and writing the same outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, Example, ModelSpec, plugins
from ner_toolkit import read_conll
from ner_toolkit.prompts import end_of_turn_id, prompt_ids

from ner_toolkit_trainers.decoding.decoder import CopyDecoder
from ner_toolkit_trainers.decoding.guesses import EntityMemory
from ner_toolkit_trainers.models import load_model, load_tokenizer
from ner_toolkit_trainers.transformers_predictor import TransformersPredictor

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHUNKS = [(0, 1), (1, 6), (6, 7), (7, 16)]  # one sentence, a few, one, the rest


def formatter():
    return plugins.get_formatter("bracketed")(CONLL2003_LABELS)


@pytest.fixture(scope="module")
def examples(conll: Path) -> list[Example]:
    fmt = formatter()
    return [fmt.example(sentence) for sentence in read_conll(conll / "eng.testb")[48:64]]


def predictor(model: Path, **options) -> TransformersPredictor:
    options = {"decoding": "speculative", "prefix_cache": True, "batch_size": 4, "progress": False, "threads": 1,
               "entity_scores": False, **options}
    return TransformersPredictor(ModelSpec(str(model)), None, formatter(), **options)


def chunked(made: TransformersPredictor, examples: list[Example], chunks: list[tuple[int, int]]) -> dict[int, str]:
    """The outputs of one generate call per chunk, by index into ``examples``."""
    outputs = {}
    for start, end in chunks:
        for i, text in made.generate(examples[start:end]):
            outputs[start + i] = text
    return outputs


@pytest.fixture(scope="module")
def fresh_outputs(tiny_qwen2_dir: Path, examples: list[Example]) -> dict[int, str]:
    """What a predictor writes for all the sentences in one call, with a decoder that has seen nothing."""
    with predictor(tiny_qwen2_dir) as fresh:
        return dict(fresh.generate(examples))


def test_every_call_reuses_the_decoder_and_writes_what_a_fresh_one_writes(
    tiny_qwen2_dir: Path, examples: list[Example], fresh_outputs: dict[int, str]
) -> None:
    with predictor(tiny_qwen2_dir) as warm:
        decoder = warm.decoder
        assert isinstance(decoder, CopyDecoder)
        first = chunked(warm, examples, CHUNKS)
        assert warm.decoder is decoder
        entities, steps = len(decoder.memory.entities), decoder.switch.steps
        again = chunked(warm, examples, [(start, start + 3) for start in range(0, 16, 3)])  # the same sentences, warm
        assert warm.decoder is decoder
        assert first == again == fresh_outputs
        assert 0 < entities <= len(decoder.memory.entities) and 0 < steps < decoder.switch.steps  # kept from call to call
        # every call, of one sentence or many, shares one prefix (the prompts up to the input) and its KV cache
        assert len(decoder.prefixes) == 1
        assert decoder.stats.prefix_tokens > 100
    assert warm.decoder is None


def test_the_entity_memory_holds_what_parsing_the_outputs_would_give(tiny_qwen2_dir: Path, examples: list[Example]) -> None:
    """The memory learns from the grammar as it closes entities: the decoder parses nothing, and learns the same."""
    with predictor(tiny_qwen2_dir) as made:
        made.formatter.parse = None  # the decoder must not call it
        outputs = dict(made.generate(examples))
        memory = made.decoder.memory
    fmt = formatter()
    parsed = EntityMemory()
    for i, example in enumerate(examples):
        parsed.learn(example.tokens, fmt.parse(outputs[i], example.tokens).spans)
    assert len(parsed.entities) > 10  # a random model, forced to copy, still opens and closes entities
    assert memory.entities == parsed.entities
    assert (memory.lengths, memory.words, memory.labels) == (parsed.lengths, parsed.words, parsed.labels)


def test_caches_stay_within_their_bounds_and_outputs_do_not_change(
    tiny_qwen2_dir: Path, examples: list[Example], fresh_outputs: dict[int, str]
) -> None:
    with predictor(tiny_qwen2_dir) as tight:
        decoder = tight.decoder
        decoder.allowed.limit, decoder.memory.limit, decoder.drafter.limit = 40, 3, 50
        outputs = chunked(tight, examples, [(i, i + 1) for i in range(16)])
        assert outputs == fresh_outputs
        stored = sum(len(known) for shapes in decoder.allowed.shared.values() for known in shapes.values())
        assert 0 < stored == decoder.allowed.size <= 40
        assert 0 < len(decoder.memory.entities) <= 3
        assert 0 < len(decoder.drafter.pieces) <= 50
        assert len(decoder.prefixes) == 1


def test_the_prefix_cache_keeps_the_most_recent_prefixes(tiny_qwen2_dir: Path, examples: list[Example]) -> None:
    """Without a probe, each call's own common prefix is cached: calls of one prompt each fill the cache."""
    spec = ModelSpec(str(tiny_qwen2_dir))
    tokenizer = load_tokenizer(spec)
    decoder = CopyDecoder(load_model(spec).eval(), tokenizer, formatter(), end_of_turn=end_of_turn_id(tokenizer, "model"))
    decoder.prefixes.limit = 2
    prompts = [prompt_ids(tokenizer, example, "model") for example in examples[:4]]
    prefixes = [tuple(prompt[:-1]) for prompt in prompts]  # one prompt's prefix: all but the token that answers
    for k, (prompt, example) in enumerate(zip(prompts, examples)):
        list(decoder.generate([prompt], [example], [64]))
        assert prefixes[k] in decoder.prefixes and len(decoder.prefixes) == min(k + 1, 2)
        assert decoder.stats.fed > decoder.stats.prefix_tokens  # computed for this call
    assert prefixes[0] not in decoder.prefixes and prefixes[1] not in decoder.prefixes
    list(decoder.generate(prompts[3:], examples[3:4], [64]))
    assert decoder.stats.fed < decoder.stats.prefix_tokens  # kept: only the row's own tokens were fed
