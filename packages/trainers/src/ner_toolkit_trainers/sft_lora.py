"""The ``sft-lora`` trainer: TRL's SFTTrainer with a PEFT LoRA adapter (or full fine-tuning).

Every setting of the reference configuration is an option. Checkpoints go to
``<output>/checkpoints``; a rerun resumes from the last one written whole. Options that
change how it runs but not the model it gives (logging, saving, threads) are ``RUNTIME_ONLY``. The result is a PEFT adapter
folder (``<output>/adapter``, with the tokenizer) that transformers + PEFT and vLLM load
as it is, or a full model folder (``<output>/full`` or, merged, ``<output>/merged``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ner_toolkit import RUNTIME_ONLY, Example, ModelSpec, Trainer, hookimpl
from ner_toolkit.prompts import end_of_turn_id, training_rows

from .checkpoints import last_whole_checkpoint
from .models import Device, load_model, load_tokenizer, pick_device
from .shared_prefix import shared_prefix_length, with_shared_prefix


class SFTLoRAOptions(BaseModel):
    """Hyperparameters; the defaults are the reference configuration's (Qwen2.5-7B on CoNLL-2003)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lora", "full"] = "lora"
    lora_rank: int = Field(256, ge=1)
    lora_alpha: int = Field(512, ge=1)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"
    epochs: float = Field(2.0, gt=0)
    max_steps: int = Field(-1, description="stop after this many optimizer steps (-1: run all epochs)")
    learning_rate: float = Field(2e-5, gt=0)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = 0.0
    per_device_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(8, ge=1)
    max_length: int = Field(2048, ge=8)
    bf16: bool = True
    group_by_length: bool = Field(True, description="batch examples of similar length (less padding)")
    activation_checkpointing: bool = False
    share_prompt_prefix: bool = Field(
        True,
        description="run the prompt prefix all examples share once per batch (batches of 2 or more; "
        "not with activation checkpointing, packing, FSDP or DeepSpeed)",
    )
    eval_steps: int | None = Field(None, ge=1, description="evaluate on the dev examples every N steps")
    save_steps: int = Field(500, ge=1, json_schema_extra=RUNTIME_ONLY)
    save_total_limit: int | None = Field(2, json_schema_extra=RUNTIME_ONLY)
    logging_steps: int = Field(10, ge=1, json_schema_extra=RUNTIME_ONLY)
    seed: int = 42
    report_to: str | list[str] = Field("none", json_schema_extra=RUNTIME_ONLY)
    merge: bool = Field(False, description="merge the adapter into the base model and save that too")
    device: Device = "auto"
    threads: int | None = Field(None, ge=1, description="torch CPU threads", json_schema_extra=RUNTIME_ONLY)


class SFTLoRATrainer(Trainer):
    """TRL SFTTrainer with PEFT LoRA (or full fine-tuning); loss on the completion only."""

    name = "sft-lora"
    Options = SFTLoRAOptions
    options: SFTLoRAOptions

    @classmethod
    def recipe_warnings(cls, recipe: Any) -> list[str]:
        """LoRA settings under full fine-tuning do nothing."""
        given = recipe.trainer.options
        if cls.Options.model_validate(given).method != "full":
            return []
        lora = ("lora_rank", "lora_alpha", "lora_dropout", "target_modules", "merge")
        return [f"trainer.options.{name}: has no effect with method: full (no adapter is trained)" for name in lora if name in given]

    def reads_eval(self) -> bool:
        return self.options.eval_steps is not None

    def close(self) -> None:
        """Hand the GPU's cached memory back once training is over, before a predictor loads."""
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def train(self, model: ModelSpec, train: Sequence[Example], output_dir: Path, eval: Sequence[Example] = ()) -> Path:
        import torch

        o = self.options
        if o.threads:
            torch.set_num_threads(o.threads)
        device = pick_device(o.device)
        tokenizer = load_tokenizer(model)
        end_of_turn = end_of_turn_id(tokenizer, model.chat_template)

        def rows(examples: Sequence[Example]) -> list[dict[str, list[int]]]:
            return training_rows(tokenizer, examples, model.chat_template, o.max_length, end_of_turn, model.system_prompt)

        checkpoints = output_dir / "checkpoints"
        evaluating = bool(o.eval_steps and eval)
        train_rows = rows(train)
        eval_rows = rows(eval) if evaluating else []
        # bf16 on these CPUs trains several times slower than fp32: there it stays off
        trainer = self.build(model, tokenizer, train_rows, eval_rows, checkpoints, device, bf16=o.bf16 and device != "cpu")
        resume, torn = last_whole_checkpoint(checkpoints)
        for line in torn:
            warnings.warn(f"train: {line}", stacklevel=1)
        outcome = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        if trainer.is_world_process_zero():
            shared = getattr(trainer, "shared_prefix_tokens", 0)
            metrics = {**outcome.metrics, "shared_prefix_tokens": shared, "examples": len(train_rows)}
            evaluations = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
            if evaluations:
                metrics["eval_loss"] = evaluations[-1]["eval_loss"]
            (output_dir / "train_metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")

        result = output_dir / ("adapter" if o.method == "lora" else "full")
        trainer.save_model(str(result))
        tokenizer.save_pretrained(str(result))
        if o.method == "lora" and o.merge:
            merged = output_dir / "merged"
            trainer.model.merge_and_unload().save_pretrained(str(merged))
            tokenizer.save_pretrained(str(merged))
        return result

    def build(
        self, model: ModelSpec, tokenizer: Any, train_rows: list[dict[str, list[int]]], eval_rows: list[dict[str, list[int]]],
        checkpoints: Path, device: str, bf16: bool,
    ) -> Any:
        """The configured TRL trainer over tokenized rows, its model loaded as ``method`` and ``bf16`` ask.

        Mixed precision, not pure bf16: with ``bf16`` a full fine-tune keeps fp32 weights (the
        optimizer's master copy, where small updates are not lost to bf16 rounding) and runs
        its forward and backward under bf16 autocast; LoRA loads the frozen base in bf16 and
        keeps the adapter in fp32 (PEFT's ``autocast_adapter_dtype``), also under autocast.
        """
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

        o = self.options
        evaluating = bool(eval_rows)
        prefix_length = shared_prefix_length(train_rows + eval_rows) if o.share_prompt_prefix else 0
        args = SFTConfig(
            output_dir=str(checkpoints),
            num_train_epochs=o.epochs,
            max_steps=o.max_steps,
            learning_rate=o.learning_rate,
            lr_scheduler_type=o.lr_scheduler,
            warmup_steps=o.warmup_ratio,  # a float below 1 is a ratio of the total steps
            weight_decay=o.weight_decay,
            per_device_train_batch_size=o.per_device_batch_size,
            per_device_eval_batch_size=o.per_device_batch_size,
            gradient_accumulation_steps=o.gradient_accumulation_steps,
            max_length=o.max_length,
            bf16=bf16,
            use_cpu=device == "cpu",
            optim=fused_adamw(device),
            train_sampling_strategy="group_by_length" if o.group_by_length else "random",
            activation_checkpointing=o.activation_checkpointing,
            eval_strategy="steps" if evaluating else "no",
            eval_steps=o.eval_steps,
            save_strategy="steps",
            save_steps=o.save_steps,
            save_total_limit=o.save_total_limit,
            logging_steps=o.logging_steps,
            seed=o.seed,
            data_seed=o.seed,
            report_to=o.report_to,
            completion_only_loss=True,
            dataloader_num_workers=0,
            dataloader_pin_memory=device != "cpu",
        )
        base = load_model(model, "bfloat16" if bf16 and o.method == "lora" else "float32", device)
        peft_config = None
        if o.method == "lora":
            from peft import LoraConfig

            peft_config = LoraConfig(
                r=o.lora_rank,
                lora_alpha=o.lora_alpha,
                lora_dropout=o.lora_dropout,
                target_modules=o.target_modules,
                task_type="CAUSAL_LM",
            )
        trainer_class = with_shared_prefix(SFTTrainer, prefix_length, base) if prefix_length else SFTTrainer
        return trainer_class(
            model=base,
            args=args,
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_rows) if evaluating else None,
            processing_class=tokenizer,
            peft_config=peft_config,
        )


def fused_adamw(device: str) -> str:
    """``adamw_torch_fused`` where torch has the fused kernel for ``device`` (CUDA, and the CPU since torch 2.4), else ``adamw_torch``."""
    import torch

    kind = torch.device(device).type
    if kind == "cuda" or (kind == "cpu" and hasattr(torch, "_fused_adamw_")):
        return "adamw_torch_fused"
    return "adamw_torch"


@hookimpl
def register_trainers(register: Any) -> None:
    register(SFTLoRATrainer)
