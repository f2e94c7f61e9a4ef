"""Training with a shared prompt prefix: the tokens every example starts with run once per batch.

Every prompt starts with the same chat template, instruction and label set: with the
reference prompt on SmolLM2 that is 207 of about 262 tokens per example. The prefix's keys
and values are computed once per batch (with gradients), expanded over the batch, and each
example's own tokens continue from them. Backpropagation through the expansion sums the
examples' gradients, so loss and gradients are those of the full batch up to float rounding
(dropout inside the prefix is drawn once per batch instead of once per example).
Activation checkpointing would replay the cache updates on recomputation, so the trainer
does not share the prefix when it is on; nor for packed rows, nor under FSDP or DeepSpeed,
where it is untested, nor at a batch size of 1, where it saves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ner_toolkit.prompts import longest_common_prefix

from .models import cache_argument


def shared_prefix_length(rows: Sequence[Mapping[str, Sequence[int]]]) -> int:
    """Tokens every row starts with, leaving each row at least its last prompt token.

    That token's output predicts the first answer token, so it must run with its row.
    """
    if not rows:
        return 0
    prompt_lengths = [next((i for i, label in enumerate(row["labels"]) if label != -100), len(row["labels"])) for row in rows]
    return max(0, min(longest_common_prefix([row["input_ids"] for row in rows]), min(prompt_lengths) - 1))


def split_off_prefix(model: Any, inputs: dict[str, Any], prefix_length: int, cache_arg: str) -> dict[str, Any]:
    """Run the batch's shared prefix once and return the inputs for the rest, continuing from its cache.

    ``cache_arg`` is the keyword the underlying causal LM takes its cache by (``cache_argument``).
    """
    import torch
    from transformers import DynamicCache

    input_ids = inputs["input_ids"]
    batch, width = input_ids.shape
    if prefix_length <= 0 or prefix_length >= width:
        return inputs
    prefix = input_ids[:1, :prefix_length]
    if not bool((input_ids[:, :prefix_length] == prefix).all()):
        raise ValueError("shared_prefix: a training batch does not start with the shared prefix")
    cache = DynamicCache()
    model(input_ids=prefix, use_cache=True, logits_to_keep=1, **{cache_arg: cache})
    expanded = DynamicCache(
        ddp_cache_data=[(layer.keys.expand(batch, -1, -1, -1), layer.values.expand(batch, -1, -1, -1)) for layer in cache.layers]
    )
    attention_mask = inputs.get("attention_mask")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    rest = {key: value for key, value in inputs.items() if key not in ("input_ids", "labels", "position_ids", "attention_mask")}
    return {
        **rest,
        "input_ids": input_ids[:, prefix_length:],
        "labels": inputs["labels"][:, prefix_length:],
        "attention_mask": attention_mask,  # covers the cached prefix and the rest
        "position_ids": torch.arange(prefix_length, width, device=input_ids.device).expand(batch, -1),
        cache_arg: expanded,
    }


def with_shared_prefix(trainer_class: type, prefix_length: int, model: Any) -> type:
    """A subclass of ``trainer_class`` (TRL's SFTTrainer) whose loss runs the shared prefix once per batch.

    ``model`` is the transformers causal LM being trained, before any PEFT or data-parallel wrapper.
    """
    cache_arg = cache_argument(model)

    class SharedPrefixTrainer(trainer_class):  # type: ignore[misc, valid-type]
        @property
        def shared_prefix_tokens(self) -> int:
            """0 where sharing saves nothing (batches of 1), is wrong (activation checkpointing, packed rows) or untested."""
            args = self.args
            off = (
                args.per_device_train_batch_size < 2
                or args.activation_checkpointing
                or args.packing
                or args.padding_free
                or self.is_fsdp_enabled
                or self.is_deepspeed_enabled
            )
            return 0 if off else prefix_length

        def compute_loss(
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            # the cache is extended by the forward call that reads it: share only where the loss makes one call
            one_call = not return_outputs and self.label_smoother is None and self.compute_loss_func is None
            if self.shared_prefix_tokens and one_call:
                inputs = split_off_prefix(model, inputs, self.shared_prefix_tokens, cache_arg)
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    return SharedPrefixTrainer
