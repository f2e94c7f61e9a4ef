"""Running the shared prompt prefix once per batch gives the loss and gradients of the full batch."""

from __future__ import annotations

from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, plugins
from ner_toolkit import read_conll

from ner_toolkit.prompts import end_of_turn_id, training_rows
from ner_toolkit_trainers.shared_prefix import shared_prefix_length, with_shared_prefix


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_prefix_stops_before_each_rows_last_prompt_token() -> None:
    rows = [
        {"input_ids": [1, 2, 3, 4, 5, 6], "labels": [-100, -100, -100, -100, 5, 6]},
        {"input_ids": [1, 2, 3, 9, 9, 9], "labels": [-100, -100, -100, -100, -100, 9]},
    ]
    assert shared_prefix_length(rows) == 3
    assert shared_prefix_length([rows[0], {"input_ids": [1, 2, 3, 4, 7], "labels": [-100, -100, -100, 4, 7]}]) == 2
    assert shared_prefix_length([]) == 0


@pytest.mark.parametrize("method", ["full", "lora"])
@pytest.mark.parametrize("model_fixture", ["tiny_qwen2_dir", "smollm2_dir"])
def test_loss_and_gradients_equal_those_of_the_full_batch(
    request: pytest.FixtureRequest, model_fixture: str, method: str, conll: Path, tmp_path: Path
) -> None:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    folder = str(request.getfixturevalue(model_fixture))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)  # the reference instruction
    examples = [formatter.example(sentence) for sentence in read_conll(conll / "eng.train")[1:5]]
    rows = training_rows(tokenizer, examples, "model", 2048, end_of_turn_id(tokenizer, "model"), system_prompt="")
    prefix_length = shared_prefix_length(rows)
    assert prefix_length > 150  # chat template, instruction and label set

    args = SFTConfig(  # as sft-lora configures it; TRL's default turns activation checkpointing on
        output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to="none", max_length=2048, activation_checkpointing=False
    )
    peft_config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM") if method == "lora" else None
    trainer = with_shared_prefix(SFTTrainer, prefix_length, model)(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer, peft_config=peft_config
    )
    assert trainer.shared_prefix_tokens == prefix_length
    trainer.args.activation_checkpointing = True  # recomputation would replay the cache: no sharing
    assert trainer.shared_prefix_tokens == 0
    trainer.args.activation_checkpointing = False
    trained = trainer.model
    trained.train()
    batch = trainer.data_collator(rows)

    def loss_and_gradients(compute_loss):
        trained.zero_grad()
        loss = compute_loss(trainer, trained, dict(batch))
        loss.backward()
        grads = {name: p.grad.clone() for name, p in trained.named_parameters() if p.requires_grad and p.grad is not None}
        return loss.detach(), grads

    fed = []  # the shape of every input the decoder stack sees
    model.get_decoder().register_forward_pre_hook(lambda module, args, kwargs: fed.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
    full_loss, full_grads = loss_and_gradients(SFTTrainer.compute_loss)
    width = batch["input_ids"].shape[1]
    assert fed == [(4, width)]
    shared_loss, shared_grads = loss_and_gradients(type(trainer).compute_loss)
    assert fed[1:] == [(1, prefix_length), (4, width - prefix_length)]
    torch.testing.assert_close(shared_loss, full_loss, rtol=1e-5, atol=1e-6)
    assert shared_grads.keys() == full_grads.keys() and full_grads
    for name, grad in full_grads.items():
        torch.testing.assert_close(shared_grads[name], grad, rtol=1e-3, atol=1e-6, msg=lambda m: f"{name}: {m}")

    # evaluation: the loss-only step shares the prefix; a step that needs the logits does not
    trained.eval()
    del fed[:]
    with torch.no_grad():
        plain_eval = SFTTrainer.compute_loss(trainer, trained, dict(batch))
    eval_loss, _, _ = trainer.prediction_step(trained, dict(batch), prediction_loss_only=True)
    assert fed[1:] == [(1, prefix_length), (4, width - prefix_length)]
    torch.testing.assert_close(eval_loss, plain_eval, rtol=1e-5, atol=1e-6)
    del fed[:]
    with torch.no_grad():
        loss_with_outputs, _ = trainer.compute_loss(trained, dict(batch), return_outputs=True)
    assert fed and all(shape == (4, width) for shape in fed)  # the full rows, as TRL's second forward needs them
    torch.testing.assert_close(loss_with_outputs, plain_eval, rtol=1e-5, atol=1e-6)
