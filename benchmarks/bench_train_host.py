"""Where a training step's time goes outside the model: collation, the shared prefix, the loss's metrics, logging, the optimizer.

    uv run python benchmarks/bench_train_host.py [--steps 40] [--batch 8] [--threads 1] [--variants before,after]

The ``sft-lora`` trainer's own build path (``SFTLoRATrainer.build``) with the quickstart's
options (full fine-tuning, batch 8, lr 1e-4 cosine, max length 512, the reference prompt,
shared prefix on) on a tiny random Qwen2 with the real Qwen2.5 tokenizer, built offline as
the tests build it (``tests/support/model_fixtures.py``), for ``--steps`` optimizer steps on
the first eng.train sentences. Its layers cost little, so what is left beside the
model is the host's work per step (except for the LM head: 151,665 vocabulary rows make its forward
and backward the bulk of a step even at 64 wide). Timers wrap, per step: the data collator; the shared prefix's split
(its prefix forward excluded); the causal LM's forward calls; the backward; TRL's loss
bookkeeping (``compute_loss`` less the forward and the split: the entropy and token-accuracy
metrics and the token count, with their device synchronisations); gradient clipping; the
optimizer's step; logging. Every part is a mean in milliseconds per optimizer step; ``other``
is the step's wall time less all of them (the Trainer's loop, the scheduler, zero_grad).

Variants, run alternately in one process: ``before`` (the optimizer as ``adamw_torch``,
torch's multi-tensor AdamW) and ``after`` (the trainer as it is now: ``adamw_torch_fused``
where torch has the fused kernel for the device). The mean training loss of every variant
is printed: it must agree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_host import conll_dir, tiny_qwen2  # noqa: E402


class Timers:
    """Named stopwatches; ``inside`` nests: time inside a timed call is charged to it, not to its caller."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.stack: list[list[Any]] = []

    def wrap(self, name: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.start(name)
            try:
                return function(*args, **kwargs)
            finally:
                self.stop()

        return timed

    def start(self, name: str) -> None:
        self.stack.append([name, time.perf_counter(), 0.0])

    def stop(self) -> None:
        name, began, inner = self.stack.pop()
        spent = time.perf_counter() - began
        self.total[name] += spent - inner
        if self.stack:
            self.stack[-1][2] += spent


def run(variant: str, steps: int, batch: int, folder: Path, rows: list[dict], tokenizer: Any) -> dict[str, Any]:
    import torch
    from ner_toolkit import ModelSpec

    from ner_toolkit_trainers import shared_prefix
    from ner_toolkit_trainers.sft_lora import SFTLoRATrainer

    plugin = SFTLoRATrainer(
        method="full", epochs=1, max_steps=steps, learning_rate=1e-4, lr_scheduler="cosine", warmup_ratio=0.05,
        per_device_batch_size=batch, gradient_accumulation_steps=1, max_length=512, bf16=False, save_steps=10**6,
        logging_steps=10, seed=42,
    )  # fmt: skip
    timers = Timers()
    original_split = shared_prefix.split_off_prefix
    shared_prefix.split_off_prefix = timers.wrap("shared prefix split", original_split)
    try:
        with tempfile.TemporaryDirectory() as out:
            trainer = plugin.build(ModelSpec(str(folder)), tokenizer, rows, [], Path(out), "cpu", bf16=False)
            if variant == "before":  # as the trainer was configured before: transformers' choice of optimizer
                trainer.args.optim = "adamw_torch"
            trainer.data_collator = timers.wrap("collate", trainer.data_collator)
            model = trainer.model
            model.register_forward_pre_hook(lambda *a: timers.start("model forward"))
            model.register_forward_hook(lambda *a: timers.stop())
            compute_loss = trainer.compute_loss
            trainer.compute_loss = timers.wrap("loss bookkeeping", compute_loss)
            accelerator = trainer.accelerator
            accelerator.backward = timers.wrap("backward", accelerator.backward)
            accelerator.clip_grad_norm_ = timers.wrap("clip grad norm", accelerator.clip_grad_norm_)
            trainer.log = timers.wrap("log", trainer.log)
            create = trainer.create_optimizer

            def create_optimizer(*args: Any, **kwargs: Any) -> Any:
                optimizer = create(*args, **kwargs)
                optimizer.step = timers.wrap("optimizer step", optimizer.step)
                return optimizer

            trainer.create_optimizer = create_optimizer
            began = time.perf_counter()
            outcome = trainer.train()
            wall = time.perf_counter() - began
            fused = (getattr(trainer.optimizer, "optimizer", trainer.optimizer)).defaults.get("fused")
    finally:
        shared_prefix.split_off_prefix = original_split
    parts = {name: 1e3 * seconds / steps for name, seconds in timers.total.items()}
    step_ms = 1e3 * outcome.metrics["train_runtime"] / steps
    parts["other"] = step_ms - sum(parts.values())
    return {
        "variant": variant, "steps": steps, "batch": batch, "step_ms": step_ms, "wall_s": wall, "fused_adamw": bool(fused),
        "train_loss": outcome.metrics["train_loss"], "ms_per_step": parts, "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default="before,after,before,after")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "train_host.json"))
    args = parser.parse_args()

    import torch
    from ner_toolkit import CONLL2003_LABELS, plugins, read_conll
    from ner_toolkit.prompts import end_of_turn_id, training_rows
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    folder = tiny_qwen2(Path(tempfile.mkdtemp(prefix="bench_train_host_")))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    sentences = [s for s in read_conll(conll_dir() / "eng.train") if s.tokens][: args.steps * args.batch]
    examples = [formatter.example(s) for s in sentences]
    rows = training_rows(tokenizer, examples, "model", 512, end_of_turn_id(tokenizer, "model"), "")
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} torch threads",
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [],
    }  # fmt: skip
    for variant in args.variants.split(","):
        row = run(variant, args.steps, args.batch, folder, rows, tokenizer)
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
    Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    names = sorted({name for r in results["rows"] for name in r["ms_per_step"]}, key=lambda n: -results["rows"][0]["ms_per_step"].get(n, 0))
    print("| variant | step ms | " + " | ".join(names) + " | train loss |")
    print("| --- | ---: | " + " | ".join("---:" for _ in names) + " | ---: |")
    for r in results["rows"]:
        cells = " | ".join(f"{r['ms_per_step'].get(n, 0):.1f}" for n in names)
        print(f"| {r['variant']} | {r['step_ms']:.1f} | {cells} | {r['train_loss']:.7f} |")


if __name__ == "__main__":
    main()
