"""The whole pipeline on the reference recipe, with only the model swapped for a tiny random Qwen2.

The tiny model uses the real Qwen2.5 tokenizer and chat template, so everything but the
weights is what the Qwen2.5-7B reproduction runs: rendering, the reference LoRA settings,
completion-only loss, adapter saving, batched generation, parsing and scoring.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from ner_toolkit.run.components import load_split
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe, validate_components

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"


def tiny_overrides(conll: Path, model: Path, output: Path, **limits: int) -> list[str]:
    """Swap the model for the tiny one and keep the run small; every other setting stays."""
    limit = {"train": 4, "dev": 2, "test": 3, **limits}
    return [
        f"model.name_or_path={model}",
        f"data.dir={conll}",
        f"data.limit={json.dumps(limit)}",
        "trainer.options.max_steps=2",
        "trainer.options.gradient_accumulation_steps=2",
        "trainer.options.save_steps=1",
        "trainer.options.threads=1",
        "predictor.options.max_new_tokens=6",
        "predictor.options.batch_size=2",
        "predictor.options.progress=false",
        "predictor.options.threads=1",
        f"output_dir={output}",
    ]


def test_reference_recipe_runs_end_to_end_with_a_tiny_qwen2(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    overrides = tiny_overrides(conll, tiny_qwen2_dir, tmp_path / "run") + ["trainer.options.eval_steps=1"]
    recipe = load_recipe(REFERENCE, overrides)
    validate_components(recipe, str(REFERENCE))
    options = recipe.trainer.options
    assert (options["lora_rank"], options["lora_alpha"], options["target_modules"]) == (256, 512, "all-linear")
    assert (options["epochs"], options["learning_rate"], options["lr_scheduler"], options["warmup_ratio"]) == (2, 2e-5, "cosine", 0.1)
    assert (options["per_device_batch_size"], options["max_length"], options["bf16"]) == (1, 2048, True)

    results = run(recipe, log=lambda message: None)

    out = tmp_path / "run"
    for name in ("recipe.yaml", "manifest.json", "data/train.json", "data/dev.json", "data/test.json",
                 "model/adapter/adapter_config.json", "model/adapter/adapter_model.safetensors",
                 "metrics/test.json", "reports/test.md", "reports/test.html"):
        assert (out / name).is_file(), name
    train = json.loads((out / "data" / "train.json").read_text())
    assert train[0]["instruction"].startswith("Your task is to identify all named entities")
    assert train[0]["output"] == "[EU | ORG] rejects [German | MISC] call to boycott [British | MISC] lamb ."
    adapter = json.loads((out / "model" / "adapter" / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"]) == (256, 512)
    trained = json.loads((out / "model" / "train_metrics.json").read_text())
    assert trained["examples"] == 4 and trained["train_loss"] > 0 and trained["eval_loss"] > 0
    assert trained["shared_prefix_tokens"] == 0  # the reference's batch of 1: nothing to share
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["test"]["sha256"] == "0632f32c090ef31c223135b7fee3187a7cf8e65c4015c7866bb7783428cdd9a6"
    assert "transformers" in manifest["packages"]
    lines = (out / "predictions" / "test.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] and len(lines) == 3
    assert set(results) == {"dev", "test"}
    assert results["test"]["counts"]["sentences"] == 3
    # the scores are those of the outputs written, scored again from the predictions file alone
    from ner_toolkit.run.components import load_split, make_formatter, make_scorers
    from ner_toolkit.run.evaluate import evaluate_outputs

    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text("".join(json.dumps({"id": json.loads(line)["id"], "output": json.loads(line)["output"]}) + "\n"
                               for line in lines), encoding="utf-8")
    _, rescored = evaluate_outputs(outputs, load_split(recipe, "test"), make_formatter(recipe), make_scorers(recipe))
    assert {name: rescored[name] for name in ("seqeval", "nervaluate")} == {name: results["test"][name] for name in ("seqeval", "nervaluate")}
    assert json.loads((out / "metrics" / "test.json").read_text()) == results["test"]
    assert set(results["test"]["nervaluate"]["overall"]) == {"strict", "exact", "partial", "ent_type"}


def test_the_adapter_loads_with_peft_as_it_is_and_merges(conll: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    overrides = tiny_overrides(conll, tiny_qwen2_dir, tmp_path / "run") + ["predictor=null", "trainer.options.merge=true"]
    run(load_recipe(REFERENCE, overrides), log=lambda message: None)
    adapter = tmp_path / "run" / "model" / "adapter"
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_qwen2_dir)), str(adapter))
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    ids = tokenizer("EU rejects German call", return_tensors="pt")
    with torch.inference_mode():
        assert model(**ids).logits.shape[-1] == len(tokenizer)
        adapted = model(**ids).logits
    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / "model" / "merged"))
    assert not any("lora" in name for name, _ in merged.named_parameters())
    with torch.inference_mode():
        assert torch.allclose(merged(**ids).logits, adapted, atol=1e-4)


def _run_cli(recipe: Path, overrides: list[str]) -> subprocess.Popen:
    args = [sys.executable, "-m", "ner_toolkit", "run", str(recipe)]
    for override in overrides:
        args += ["--set", override]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)


def _kill_when(process: subprocess.Popen, condition, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"run ended before it could be interrupted: {process.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, "timed out waiting to interrupt the run"
        time.sleep(0.02)
    import psutil

    workers = psutil.Process(process.pid).children(recursive=True)  # torchrun's workers live in groups of their own
    os.killpg(process.pid, signal.SIGKILL)
    for worker in workers:
        try:
            worker.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(workers, timeout=30)
    process.wait()


def _finish(recipe: Path, overrides: list[str]) -> None:
    process = _run_cli(recipe, overrides)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr.decode()[-3000:]


def test_a_run_killed_in_training_and_in_prediction_ends_as_an_uninterrupted_one(
    conll: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    limits = {"train": 8, "dev": 2, "test": 8}
    extra = ["trainer.options.max_steps=4", "predictor.options.batch_size=1"]
    straight = tiny_overrides(conll, tiny_qwen2_dir, tmp_path / "straight", **limits) + extra
    broken = tiny_overrides(conll, tiny_qwen2_dir, tmp_path / "broken", **limits) + extra
    _finish(REFERENCE, straight)

    out = tmp_path / "broken"
    process = _run_cli(REFERENCE, broken)
    _kill_when(process, lambda: (out / "model" / "checkpoints" / "checkpoint-2" / "trainer_state.json").exists())
    assert not (out / "model" / "trained.json").exists()

    predictions = out / "predictions" / "test.jsonl"
    process = _run_cli(REFERENCE, broken)
    _kill_when(process, lambda: predictions.exists() and predictions.read_text().count("\n") >= 3)
    written_before = predictions.read_text().count("\n")
    assert 3 <= written_before < 8

    _finish(REFERENCE, broken)
    records = [json.loads(line) for line in predictions.read_text().splitlines()]
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)) == 8
    expected = {json.loads(line)["id"]: json.loads(line) for line in (tmp_path / "straight" / "predictions" / "test.jsonl").read_text().splitlines()}
    assert {record["id"]: record for record in records} == expected
    for name in ("metrics/test.json", "metrics/dev.json"):
        assert json.loads((out / name).read_text()) == json.loads((tmp_path / "straight" / name).read_text())


def _launch(conll: Path, model: Path, out: Path, *extra: str, train: int = 8, test: int = 3) -> list[str]:
    """torchrun of the reference recipe on two CPU processes (gloo), as `accelerate launch` starts them on GPUs.

    (`accelerate launch --cpu` starts a single process whatever --num_processes says.)
    """
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    args = [*launch, "-m", "ner_toolkit", "run", str(REFERENCE)]
    for override in tiny_overrides(conll, model, out, train=train, test=test) + list(extra):
        args += ["--set", override]
    return args


def test_a_data_parallel_launch_trains_and_predicts_in_two_processes_and_writes_once(
    conll: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    """Both processes train, sharing the prompt prefix, and predict half of each split; the main one merges and scores."""
    out = tmp_path / "ddp"
    batch_of_two = ["trainer.options.per_device_batch_size=2", "trainer.options.gradient_accumulation_steps=1",
                    "trainer.options.max_steps=-1", "trainer.options.epochs=1"]  # 8 examples, 2 x 2 a step: 2 steps
    args = _launch(conll, tiny_qwen2_dir, out, *batch_of_two)
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(next((out / "model" / "checkpoints").glob("checkpoint-2/trainer_state.json")).read_text())
    assert state["global_step"] == 2
    assert (out / "model" / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "model" / "train_metrics.json").read_text())["shared_prefix_tokens"] > 150
    assert "predict: rank 1 of 2: 1 of 3 sentences to generate" in result.stderr  # the second process's share of test
    assert "predict: rank 0 of 2: 2 of 3 sentences to generate" in result.stderr
    ids = [json.loads(line)["id"] for line in (out / "predictions" / "test.jsonl").read_text().splitlines()]
    gold = [s.id for s in load_split(load_recipe(REFERENCE, tiny_overrides(conll, tiny_qwen2_dir, out)), "test")]
    assert ids == gold  # merged in sentence order, each once
    assert sorted(p.name for p in (out / "predictions").iterdir()) == ["dev.jsonl", "test.jsonl"]  # no shard or marker left
    assert result.stdout.count("test: seqeval strict micro") == 1


def test_a_killed_data_parallel_prediction_resumes_with_no_sentence_lost_or_repeated(
    conll: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ddp"
    extra = ["trainer=null", "data.train=null", "predictor.options.batch_size=1"]
    args = _launch(conll, tiny_qwen2_dir, out, *extra, test=12)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    shard = out / "predictions" / "test.rank1.jsonl"
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    _kill_when(process, lambda: shard.exists() and shard.read_text().count("\n") >= 2)
    written = sum(p.read_text().count("\n") for p in (out / "predictions").glob("test*.jsonl"))
    assert 2 <= written < 12

    result = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in (out / "predictions" / "test.jsonl").read_text().splitlines()]
    gold = [s.id for s in load_split(load_recipe(REFERENCE, tiny_overrides(conll, tiny_qwen2_dir, out, test=12)), "test")]
    assert [record["id"] for record in records] == gold
    assert f"({written} already in" in result.stderr, [line for line in result.stderr.splitlines() if "already in" in line]

    alone = tmp_path / "alone"
    _finish(REFERENCE, tiny_overrides(conll, tiny_qwen2_dir, alone, test=12) + extra)
    alone_records = [json.loads(line) for line in (alone / "predictions" / "test.jsonl").read_text().splitlines()]
    expected = {record["id"]: record for record in alone_records}
    assert {record["id"]: record for record in records} == expected  # one process writes in decoding order
