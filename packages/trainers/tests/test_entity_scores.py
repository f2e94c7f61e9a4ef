"""Entity scores from the decoder's own logits: outputs unchanged, scores in [0, 1], and equal to scores computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, Generation, ModelSpec, plugins, read_conll
from ner_toolkit.confidence import markup_ranges
from ner_toolkit.prompts import end_of_turn_id, prompt_ids

from ner_toolkit_trainers.decoding.allowed import AllowedTokens
from ner_toolkit_trainers.decoding.grammar import InlineGrammar
from ner_toolkit_trainers.decoding.vocabulary import VocabTrie
from ner_toolkit_trainers.models import load_model, load_tokenizer
from ner_toolkit_trainers.transformers_predictor import TransformersPredictor

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def formatter():
    return plugins.get_formatter("bracketed")(CONLL2003_LABELS)


@pytest.fixture(scope="module")
def chosen(conll: Path):
    return read_conll(conll / "eng.testb")[10:16]


def predict(model: Path, sentences, **options):
    options = {"prefix_cache": True, "batch_size": 4, "progress": False, "threads": 1, "max_new_tokens": 48, **options}
    with TransformersPredictor(ModelSpec(str(model)), None, formatter(), **options) as predictor:
        predictions = dict(predictor.predict(sentences))
        return predictions, dict(predictor.decoder.token_ids) if predictor.decoder is not None else {}


@pytest.mark.parametrize("decoding", ["plain", "constrained", "speculative"])
def test_scores_leave_outputs_as_they_were_and_lie_in_the_unit_interval(tiny_qwen2_dir: Path, chosen, decoding: str) -> None:
    scored, _ = predict(tiny_qwen2_dir, chosen, decoding=decoding)
    plain, _ = predict(tiny_qwen2_dir, chosen, decoding=decoding, entity_scores=False)
    assert [scored[i].output for i in range(len(chosen))] == [plain[i].output for i in range(len(chosen))]
    assert [scored[i].spans for i in range(len(chosen))] == [plain[i].spans for i in range(len(chosen))]
    assert all(p.scores == () for p in plain.values())
    for prediction in scored.values():
        assert prediction.scores == () or len(prediction.scores) == len(prediction.spans)
        assert all(0.0 <= s <= 1.0 for s in prediction.scores)
    if decoding != "plain":  # a constrained output is always a rendering of its spans: every entity is scored
        assert sum(len(p.spans) for p in scored.values()) > 0
        assert all(len(p.scores) == len(p.spans) for p in scored.values())


def test_speculative_and_constrained_scores_agree_draft_positions_included(tiny_qwen2_dir: Path, chosen) -> None:
    speculative, _ = predict(tiny_qwen2_dir, chosen, decoding="speculative")
    constrained, _ = predict(tiny_qwen2_dir, chosen, decoding="constrained")
    for i in range(len(chosen)):
        assert speculative[i].spans == constrained[i].spans
        assert speculative[i].scores == pytest.approx(constrained[i].scores, rel=1e-4, abs=1e-6)


def test_a_constrained_score_equals_the_one_computed_by_hand(tiny_qwen2_dir: Path, chosen) -> None:
    """One forward pass over prompt and output; at each output token, softmax over the tokens the grammar allowed there."""
    import torch

    fmt = formatter()
    sentence = chosen[0]
    predictions, token_ids = predict(tiny_qwen2_dir, [sentence], decoding="speculative")
    prediction = predictions[0]
    assert prediction.spans, prediction.output
    spec = ModelSpec(str(tiny_qwen2_dir))
    tokenizer, model = load_tokenizer(spec), load_model(spec).eval()
    trie = VocabTrie.from_tokenizer(tokenizer)
    end = end_of_turn_id(tokenizer, "model")
    allowed = AllowedTokens(trie, end)
    output_ids = token_ids[0]  # the decoder's own tokens: a constrained output need not be the canonical tokenization
    grammar = InlineGrammar.for_formatter(fmt, sentence.tokens)
    states = grammar.start()
    prompt = prompt_ids(tokenizer, fmt.example(sentence), "model")
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt + output_ids])).logits[0].float()
    logprobs, ends, text = [], [], b""
    for k, token in enumerate(output_ids):
        choices = list(allowed(grammar, states))
        row = logits[len(prompt) + k - 1, choices].log_softmax(-1)
        logprobs.append(float(row[choices.index(token)]))
        text += trie.bytes[token]
        ends.append(len(text.decode("utf-8", errors="ignore")))
        states = grammar.advance(states, trie.bytes[token])
    rendering, ranges = markup_ranges(fmt.inline_markup(), sentence.tokens, prediction.spans)
    assert rendering == prediction.output
    by_hand = []
    for pieces in ranges:
        total = sum(lp for k, lp in enumerate(logprobs)
                    if any((ends[k - 1] if k else 0) < b and a < ends[k] for a, b in pieces))
        by_hand.append(math.exp(total))
    assert prediction.scores == pytest.approx(by_hand, rel=1e-4)


def test_plain_greedy_log_probabilities_are_the_models_over_the_vocabulary(tiny_qwen2_dir: Path, chosen) -> None:
    import torch

    fmt = formatter()
    example = fmt.example(chosen[0])
    options = {"progress": False, "threads": 1, "max_new_tokens": 12, "stop_at_newline": False}
    with TransformersPredictor(ModelSpec(str(tiny_qwen2_dir)), None, fmt, **options) as made:
        [(_, generation)] = list(made.generate([example]))
    spec = ModelSpec(str(tiny_qwen2_dir))
    tokenizer, model = load_tokenizer(spec), load_model(spec).eval()
    prompt = prompt_ids(tokenizer, example, "model")
    with torch.inference_mode():  # the same greedy tokens, and one forward pass over them
        ids = model.generate(input_ids=torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                             eos_token_id=end_of_turn_id(tokenizer, "model"))[0, len(prompt):].tolist()
        logits = model(input_ids=torch.tensor([prompt + ids])).logits[0].float().log_softmax(-1)
    assert isinstance(generation, Generation) and len(generation.token_logprobs) == len(ids) == 12
    by_hand = [float(logits[len(prompt) + k - 1, token]) for k, token in enumerate(ids)]
    assert list(generation.token_logprobs) == pytest.approx(by_hand, abs=1e-4)
    assert generation.token_ends == tuple(len(tokenizer.decode(ids[: k + 1], skip_special_tokens=True)) for k in range(len(ids)))
