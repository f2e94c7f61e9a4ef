"""Token layouts of Alpaca-style examples: the prompt the model sees and the labelled completion.

The user turn is the instruction, a newline, then the input (as LLaMA-Factory lays out an
Alpaca record). ``chat_template="model"`` wraps it in the tokenizer's chat template (ChatML
for Qwen and SmolLM2); ``"alpaca"`` uses the plain Alpaca text layout for models without
one. An example's shots come first, each as a user turn and its answer, laid out exactly
as the example itself. Training and generation, in process or through an engine's API,
build prompts with these functions, so they cannot drift.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from .interfaces import Example

ALPACA_PROMPT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
_PROBE = "\x00ner-toolkit-probe\x00"


def user_turn(example: Example) -> str:
    return f"{example.instruction}\n{example.model_input}" if example.model_input else example.instruction


def chat_messages(example: Example, system_prompt: str | None = None) -> list[dict[str, str]]:
    """The conversation before the answer: the system turn if any, each shot and its answer, then the example's user turn."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
    for shot in example.shots:
        messages += [{"role": "user", "content": user_turn(shot)}, {"role": "assistant", "content": shot.output}]
    messages.append({"role": "user", "content": user_turn(example)})
    return messages


def alpaca_text(example: Example) -> str:
    """The plain Alpaca prompt of an example, each shot before it as an answered prompt of its own."""
    shots = "".join(
        ALPACA_PROMPT.format(instruction=shot.instruction, input=shot.model_input) + shot.output + "\n\n" for shot in example.shots
    )
    return shots + ALPACA_PROMPT.format(instruction=example.instruction, input=example.model_input)


def prompt_text(tokenizer: Any, example: Example, layout: str, system_prompt: str | None = None) -> str:
    """The prompt as text, for an engine's completions endpoint: ``prompt_ids`` before tokenization."""
    if layout == "alpaca":
        return alpaca_text(example)
    return tokenizer.apply_chat_template(chat_messages(example, system_prompt), add_generation_prompt=True, tokenize=False)


def prompt_ids(tokenizer: Any, example: Example, layout: str, system_prompt: str | None = None) -> list[int]:
    """Token ids of everything before the answer, generation prompt included."""
    if layout == "alpaca":
        return tokenizer(alpaca_text(example), add_special_tokens=True)["input_ids"]
    messages = chat_messages(example, system_prompt)
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(ids["input_ids"])


def longest_common_prefix(sequences: Sequence[Sequence[int]]) -> int:
    """How many tokens all ``sequences`` start with (prompts share their template, instruction and labels)."""
    if not sequences:
        return 0
    first = sequences[0]
    n = min(len(s) for s in sequences)
    for sequence in sequences[1:]:
        k = 0
        while k < n and sequence[k] == first[k]:
            k += 1
        n = k
    return n


def end_of_turn_id(tokenizer: Any, layout: str) -> int:
    """The token that ends an answer: the chat template's end of turn, or EOS for Alpaca."""
    if layout == "alpaca" or not tokenizer.chat_template:
        return tokenizer.eos_token_id
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "content": _PROBE}]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    after = text.split(_PROBE, 1)[1].lstrip(" ")
    ids = tokenizer(after, add_special_tokens=False)["input_ids"]
    if not ids:
        return tokenizer.eos_token_id
    return ids[0]


def training_features(
    tokenizer: Any, example: Example, layout: str, max_length: int, end_of_turn: int, system_prompt: str | None = None
) -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` of one example: loss on the answer and the end-of-turn token only."""
    prompt = prompt_ids(tokenizer, example, layout, system_prompt)
    completion = [*tokenizer(example.output, add_special_tokens=False)["input_ids"], end_of_turn]
    input_ids = (prompt + completion)[:max_length]
    labels = ([-100] * len(prompt) + completion)[:max_length]
    return {"input_ids": input_ids, "labels": labels}


def training_rows(
    tokenizer: Any,
    examples: Sequence[Example],
    layout: str,
    max_length: int,
    end_of_turn: int,
    system_prompt: str | None = None,
) -> list[dict[str, list[int]]]:
    """Features of every example; warns when ``max_length`` cuts answers short, which teaches the model not to stop."""
    rows = [training_features(tokenizer, e, layout, max_length, end_of_turn, system_prompt) for e in examples]
    cut = [e.id for e, row in zip(examples, rows) if row["labels"][-1] != end_of_turn]
    if cut:
        warnings.warn(
            f"{len(cut)} of {len(examples)} examples are longer than max_length={max_length} tokens "
            f"and lose the end of their answer (first: {', '.join(cut[:3])}); raise trainer.options.max_length",
            stacklevel=2,
        )
    return rows
