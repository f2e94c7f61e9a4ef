"""``bf16: true`` is mixed precision: fp32 master weights for full fine-tuning, an fp32 adapter on a bf16 base for LoRA.

The trainer's own build path (``SFTLoRATrainer.build``) is run with bf16 on, on the CPU
(where ``train`` keeps it off for speed, but torch's bf16 autocast works), for one step of a
tiny random Qwen2 with the Qwen2.5 tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, ModelSpec, plugins
from ner_toolkit import read_conll
from ner_toolkit.prompts import end_of_turn_id, training_rows

from ner_toolkit_trainers.sft_lora import SFTLoRATrainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("method", ["full", "lora"])
def test_bf16_keeps_fp32_weights_where_updates_land(method: str, tiny_qwen2_dir: Path, conll: Path, tmp_path: Path) -> None:
    import torch

    spec = ModelSpec(str(tiny_qwen2_dir))
    plugin = SFTLoRATrainer(
        method=method, lora_rank=4, lora_alpha=8, max_steps=1, per_device_batch_size=2, gradient_accumulation_steps=1,
        learning_rate=1e-3, warmup_ratio=0.0, logging_steps=1, save_steps=1000, bf16=True,
    )  # fmt: skip
    from ner_toolkit_trainers.models import load_tokenizer

    tokenizer = load_tokenizer(spec)
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    examples = [formatter.example(s) for s in read_conll(conll / "eng.train")[1:3]]
    rows = training_rows(tokenizer, examples, spec.chat_template, 512, end_of_turn_id(tokenizer, spec.chat_template), "")
    trainer = plugin.build(spec, tokenizer, rows, [], tmp_path, "cpu", bf16=True)
    assert trainer.args.bf16  # the forward and backward run under bf16 autocast

    model = trainer.model
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    frozen = {name: p for name, p in model.named_parameters() if not p.requires_grad}
    assert trainable
    assert {p.dtype for p in trainable.values()} == {torch.float32}, "updates must land on fp32 weights"
    if method == "full":
        assert not frozen
    else:
        assert all("lora_" in name for name in trainable)
        assert {p.dtype for p in frozen.values()} == {torch.bfloat16}, "the frozen base stays in bf16"

    # one step: the matmuls run in bf16, the weights stay fp32 and move
    linear = next(m for name, m in model.named_modules() if name.endswith("mlp.down_proj"))
    seen: list[torch.dtype] = []
    linear.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
    before = {name: p.detach().clone() for name, p in trainable.items()}
    trainer.train()
    assert seen and set(seen) == {torch.bfloat16}
    assert {p.dtype for p in trainable.values()} == {torch.float32}
    assert any(not torch.equal(before[name], p.detach()) for name, p in trainable.items())
    optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    assert optimizer.defaults.get("fused") is True  # torch's fused AdamW, which the CPU has too
