"""Loss falls on the answer and the end-of-turn token only, on the real Qwen2.5 tokenizer."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from ner_toolkit import Example
from ner_toolkit.prompts import end_of_turn_id, prompt_ids, training_features, training_rows

EXAMPLE = Example(
    "eng.testb:2",
    "Your task is to identify all named entities in the input sentence.",
    "Hussain , considered surplus to England 's one-day requirements , struck 158 .",
    "[Hussain | PER] , considered surplus to [England | LOC] 's one-day requirements , struck 158 .",
)


@pytest.fixture(scope="module")
def qwen(qwen25_tokenizer_dir: Path):
    return AutoTokenizer.from_pretrained(str(qwen25_tokenizer_dir))


def test_qwen_chatml_labels_exactly_the_target_and_im_end(qwen) -> None:
    features = training_features(qwen, EXAMPLE, "model", 2048, end_of_turn_id(qwen, "model"))
    labelled = [token for token, label in zip(features["input_ids"], features["labels"]) if label != -100]
    assert qwen.decode(labelled) == EXAMPLE.output + "<|im_end|>"
    assert labelled[-1] == qwen.convert_tokens_to_ids("<|im_end|>") == 151645
    prompt = qwen.decode(features["input_ids"][: len(features["input_ids"]) - len(labelled)])
    assert prompt == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{EXAMPLE.instruction}\n{EXAMPLE.input}<|im_end|>\n<|im_start|>assistant\n"
    )
    # the labelled tokens are the tokens a generation after that prompt has to produce
    assert features["input_ids"][: len(prompt_ids(qwen, EXAMPLE, "model"))] == prompt_ids(qwen, EXAMPLE, "model")


def test_alpaca_layout_labels_the_target_and_eos(qwen) -> None:
    features = training_features(qwen, EXAMPLE, "alpaca", 2048, end_of_turn_id(qwen, "alpaca"))
    labelled = [token for token, label in zip(features["input_ids"], features["labels"]) if label != -100]
    assert qwen.decode(labelled) == EXAMPLE.output + "<|endoftext|>"
    assert qwen.decode(features["input_ids"]).startswith("Below is an instruction")
    assert "### Input:\n" + EXAMPLE.input + "\n\n### Response:\n" in qwen.decode(features["input_ids"])


def test_max_length_cuts_from_the_end(qwen) -> None:
    features = training_features(qwen, EXAMPLE, "model", 40, end_of_turn_id(qwen, "model"))
    assert len(features["input_ids"]) == len(features["labels"]) == 40


def test_answers_cut_by_max_length_are_reported(qwen) -> None:
    end = end_of_turn_id(qwen, "model")
    full = len(training_features(qwen, EXAMPLE, "model", 2048, end)["input_ids"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an example that fits exactly is not reported
        assert len(training_rows(qwen, [EXAMPLE], "model", full, end)[0]["input_ids"]) == full
    with pytest.warns(UserWarning, match=rf"1 of 1 examples are longer than max_length={full - 1} .*eng.testb:2"):
        rows = training_rows(qwen, [EXAMPLE], "model", full - 1, end)
    assert len(rows[0]["input_ids"]) == full - 1


def test_a_system_prompt_replaces_the_templates_default(qwen) -> None:
    ids = prompt_ids(qwen, EXAMPLE, "model", system_prompt="")
    assert qwen.decode(ids).startswith("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n")
    features = training_features(qwen, EXAMPLE, "model", 2048, end_of_turn_id(qwen, "model"), system_prompt="")
    assert features["input_ids"][: len(ids)] == ids
