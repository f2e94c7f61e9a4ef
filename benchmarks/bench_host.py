"""Host work of copy decoding, before and after, against plain ``generate``, side by side in one process.

    uv run python benchmarks/bench_host.py [--n 0] [--batches 64,256] [--threads 1] [--before HEAD] [--rounds 1]

The model is a tiny random Qwen2 (2 layers, 64 wide) on the real Qwen2.5 tokenizer, built
offline as the test suite builds it (``tests/support/model_fixtures.py``; reused from
pytest's cache when it is there): its forward pass costs almost nothing, so what remains
is the host's work per step. Every eng.testb sentence (``--n 0``: all 3,453) is prompted
with the reference instruction and label set (``Formatter.instruction()`` with
``CONLL2003_LABELS``, bracketed format), as the real runs are.

Modes, per batch size, in this order: ``generate`` (the predictor's plain path, written
out here: length-sorted batches, left padding, ``model.generate``, stop at the end of turn
or a newline; ``generate-to-cap``: the same without the newline stop, so that a random
model writes to the cap and its rate per output token can be read; slow, not a default),
``speculative-before`` (``copy_decoding`` and ``constrained`` as they are at the
``--before`` git revision, loaded from ``git show`` into a temporary package: the layout
before the ``decoding`` package) and ``speculative-after`` (the working tree's
``decoding``; ``speculative-after-fixed``: the same with ``adaptive_drafts=False``, every
draft 16 tokens and every step drafting, as before; not a default). Every mode but ``speculative-before`` runs with the garbage collector frozen
after loading (``gc.freeze()``), as the predictor now runs (its ``freeze_gc`` option); the
trie of each version is built outside its timed row, and only one is alive at a time. Per
mode: sentences per second, output tokens,
microseconds of wall time per output token and of host time per output token, where host
time is the wall time outside the model's forward calls (the decoder stack for copy
decoding, which computes its own allowed logits; the whole causal LM, head included, for
``generate``). Before and after must give the same outputs, character for character; the
script checks it. A random model writes odd outputs: constrained decoding still ends,
because the grammar forces the copy. This shared machine's speed drifts by a fifth within
minutes, so ``--rounds`` runs the modes over again in turn and the ratio of before to after
is given per round, from two rows measured one after the other. ``--interleave`` goes
further: before and after decode the same batch of sentences one after the other, batch
by batch (which goes first alternates), and their host times are summed over all batches,
so that drift reaches both alike; their length caps are computed once, outside the timing,
and each side computes its prefix cache once a batch. ``constrained-after`` is the working
tree without drafts (``decoding="constrained"``): what drafting costs and saves.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ner_toolkit import CONLL2003_LABELS, plugins, read_conll

ROOT = Path(__file__).resolve().parents[1]
TRAINERS = "packages/trainers/src/ner_toolkit_trainers"


def conll_dir() -> Path:
    return Path(os.environ.get("CONLL2003_DIR", ROOT.parent / "shared" / "data" / "conll2003"))


def tiny_qwen2(folder: Path | None) -> Path:
    """The tiny random Qwen2 folder: pytest's cached copy, or one built into ``folder``."""
    cached = ROOT / ".pytest_cache" / "d" / "tiny-qwen2"
    if (cached / ".complete").exists():
        return cached
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    from model_fixtures import build_qwen25_tokenizer, make_tiny_qwen2

    assert folder is not None
    (folder / "tokenizer").mkdir(parents=True, exist_ok=True)
    build_qwen25_tokenizer(folder / "tokenizer")
    make_tiny_qwen2(folder / "model", folder / "tokenizer")
    return folder / "model"


def load_before(revision: str, folder: Path) -> Any:
    """``copy_decoding`` as it is at ``revision``, with that revision's ``constrained`` and ``models``."""
    package = folder / "before_trainers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("copy_decoding", "constrained", "models"):
        source = subprocess.run(
            ["git", "show", f"{revision}:{TRAINERS}/{name}.py"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        (package / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("before_trainers.copy_decoding")


def load_after() -> Any:
    """The working tree's copy decoder (``decoding``), under the names the old ``copy_decoding`` module gave it."""
    from ner_toolkit_trainers.decoding.decoder import CopyDecoder
    from ner_toolkit_trainers.decoding.vocabulary import VocabTrie

    return SimpleNamespace(CopyDecoder=CopyDecoder, VocabTrie=VocabTrie)


class ForwardClock:
    """Time spent inside a module's forward calls (pre and post hooks)."""

    def __init__(self, module: Any) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._began = 0.0
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, *_: Any) -> None:
        self._began = time.perf_counter()

    def _post(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._began
        self.calls += 1

    def reset(self) -> None:
        self.seconds = 0.0
        self.calls = 0


def run_copy(module: Any, model, tokenizer, formatter, examples, prompts, batch: int, stop: list[int], eot: int, trie, **extra):
    extra.setdefault("decoding", "speculative")
    decoder = module.CopyDecoder(
        model, tokenizer, formatter, prefix_cache=True, batch_size=batch, end_of_turn=eot, stop_ids=stop, trie=trie, **extra,
    )  # fmt: skip
    caps = [int(2 * len(tokenizer(e.input, add_special_tokens=False)["input_ids"])) + 16 for e in examples]
    outputs = dict(decoder.generate(prompts, examples, caps))
    tokens = sum(decoder.stats.output_tokens) + len(examples)  # the end of turn of each answer included
    return outputs, tokens


def run_interleaved(modules: dict[str, Any], model, tokenizer, formatter, examples, prompts, batch: int, stop, eot, clock):
    """Speculative copy decoding by each of ``modules`` on the same batches, one after the other, batch by batch.

    Returns per mode its outputs, output tokens, wall and forward seconds and forward calls,
    summed over the batches. Every mode but ``speculative-before`` runs with the collector frozen.
    """
    caps = [int(2 * len(tokenizer(e.input, add_special_tokens=False)["input_ids"])) + 16 for e in examples]
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    sides: dict[str, dict[str, Any]] = {}
    for mode, module in modules.items():
        decoder = module.CopyDecoder(
            model, tokenizer, formatter, decoding="speculative", prefix_cache=True, batch_size=batch,
            end_of_turn=eot, stop_ids=stop, trie=module.VocabTrie.from_tokenizer(tokenizer),
        )  # fmt: skip
        sides[mode] = {"decoder": decoder, "outputs": {}, "tokens": 0, "wall": 0.0, "forward": 0.0, "calls": 0}
    gc.collect()
    for k, start in enumerate(range(0, len(order), batch)):
        rows = order[start : start + batch]
        for mode in list(sides) if k % 2 == 0 else list(sides)[::-1]:
            side, frozen = sides[mode], mode != "speculative-before"
            if frozen:
                gc.freeze()
            clock.reset()
            began = time.perf_counter()
            for i, text in side["decoder"].generate([prompts[i] for i in rows], [examples[i] for i in rows], [caps[i] for i in rows]):
                side["outputs"][rows[i]] = text
            side["wall"] += time.perf_counter() - began
            if frozen:
                gc.unfreeze()
            side["forward"] += clock.seconds
            side["calls"] += clock.calls
            side["tokens"] += sum(side["decoder"].stats.output_tokens) + len(rows)  # with each answer's end of turn
    return sides


def run_generate(model, tokenizer, examples, prompts, batch: int, stop: list[int]):
    """The predictor's plain path, as it is written there: length-sorted batches, left padding, ``model.generate``."""
    import torch

    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    pad = tokenizer.pad_token_id
    outputs, tokens = {}, 0
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        width = max(len(prompts[i]) for i in rows)
        input_ids = torch.tensor([[pad] * (width - len(prompts[i])) + prompts[i] for i in rows])
        attention = torch.tensor([[0] * (width - len(prompts[i])) + [1] * len(prompts[i]) for i in rows])
        cap = max(2 * len(tokenizer(examples[i].input, add_special_tokens=False)["input_ids"]) + 16 for i in rows)
        generated = model.generate(
            input_ids=input_ids, attention_mask=attention, max_new_tokens=cap, do_sample=False,
            eos_token_id=stop, pad_token_id=pad, use_cache=True,
        )  # fmt: skip
        for r, index in enumerate(rows):
            new = generated[r, width:].tolist()
            # tokens written: up to and with the first stop token (the rest is padding)
            written = next((k + 1 for k, t in enumerate(new) if t in stop), len(new))
            tokens += written
            outputs[index] = tokenizer.decode(new[:written], skip_special_tokens=True)
    return outputs, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=0, help="first n eng.testb sentences (0: all)")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--before", default="HEAD", help="git revision of the 'before' copy decoding")
    parser.add_argument("--modes", default="generate,speculative-before,speculative-after")
    parser.add_argument("--model", help="a saved model folder instead of the tiny random Qwen2 (e.g. runs/quickstart/model/full)")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "host.json"))
    parser.add_argument("--rounds", type=int, default=1, help="run the modes this many times over, in turn, per batch size")
    parser.add_argument("--interleave", action="store_true", help="before and after batch by batch in turn, summed")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ner_toolkit.prompts import end_of_turn_id, prompt_ids

    torch.set_num_threads(args.threads)
    scratch = Path(tempfile.mkdtemp(prefix="bench_host_"))
    folder = Path(args.model) if args.model else tiny_qwen2(scratch / "tiny")
    before = load_before(args.before, scratch)
    after = load_after()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    decoder_clock = ForwardClock(model.get_decoder())
    model_clock = ForwardClock(model)
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)  # the reference instruction and label set
    sentences = read_conll(conll_dir() / "eng.testb")
    sentences = sentences[: args.n] if args.n else sentences
    examples = [formatter.example(s) for s in sentences]
    prompts = [prompt_ids(tokenizer, e, "model", "") for e in examples]
    eot = end_of_turn_id(tokenizer, "model")
    newlines = [i for t, i in tokenizer.get_vocab().items() if "\n" in tokenizer.convert_tokens_to_string([t])]
    stop = sorted({eot, tokenizer.eos_token_id, *newlines})  # as the predictor stops plain decoding
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} torch threads",
        "torch": torch.__version__, "n": len(examples), "before": args.before, "trie_build_s": None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [],
        "prompt_tokens_mean": sum(map(len, prompts)) / len(prompts),
    }  # fmt: skip
    seen: dict[int, dict[str, dict[int, str]]] = {}
    if args.interleave:
        for batch, round_ in ((int(b), r) for b in args.batches.split(",") for r in range(args.rounds)):
            load = os.getloadavg()[0]
            modules = {"speculative-before": before, "speculative-after": after}
            sides = run_interleaved(modules, model, tokenizer, formatter, examples, prompts, batch, stop, eot, decoder_clock)
            for mode, side in sides.items():
                row = timing_row(mode, batch, round_, len(examples), side["wall"], side["forward"], side["tokens"], side["calls"], load)
                row["interleaved"] = True
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
            same = sides["speculative-before"]["outputs"] == sides["speculative-after"]["outputs"]
            results.setdefault("identical", {})[f"speculative-after b{batch} round {round_ + 1}"] = same
            print(json.dumps({"batch": batch, "round": round_, "identical_to_before": same}), flush=True)
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(markdown(results))
        return
    for batch, round_ in ((int(b), r) for b in args.batches.split(",") for r in range(args.rounds)):
        for mode in args.modes.split(","):
            # each version's own trie, built outside the timed row: only one lives at a time, as in a real
            # process (a trie of Python lists and dicts left alive would slow the other's garbage collections)
            trie = None
            gc.collect()
            if mode.startswith(("speculative", "constrained")):
                began = time.perf_counter()
                trie = (before if mode == "speculative-before" else after).VocabTrie.from_tokenizer(tokenizer)
                if mode.startswith("speculative-after"):
                    results["trie_build_s"] = time.perf_counter() - began
            frozen = mode != "speculative-before"
            if frozen:  # as the predictor now does once it has loaded (its freeze_gc option), in every mode
                gc.freeze()
            decoder_clock.reset()
            model_clock.reset()
            load = os.getloadavg()[0]
            start = time.perf_counter()
            with torch.inference_mode():
                if mode == "generate":
                    outputs, tokens = run_generate(model, tokenizer, examples, prompts, batch, stop)
                elif mode == "generate-to-cap":  # no newline stop: writes to the cap, for a per-token rate
                    outputs, tokens = run_generate(model, tokenizer, examples, prompts, batch, sorted({eot, tokenizer.eos_token_id}))
                elif mode == "speculative-before":
                    outputs, tokens = run_copy(before, model, tokenizer, formatter, examples, prompts, batch, stop, eot, trie)
                elif mode == "constrained-after":
                    outputs, tokens = run_copy(after, model, tokenizer, formatter, examples, prompts, batch, stop, eot, trie, decoding="constrained")
                else:  # speculative-after, or speculative-after-fixed: every draft as long as before (16 tokens)
                    extra = {"adaptive_drafts": False} if mode.endswith("-fixed") else {}
                    outputs, tokens = run_copy(after, model, tokenizer, formatter, examples, prompts, batch, stop, eot, trie, **extra)
            wall = time.perf_counter() - start
            if frozen:
                gc.unfreeze()
            plain = mode.startswith("generate")
            inside = model_clock.seconds if plain else decoder_clock.seconds
            seen.setdefault(batch, {})[mode] = outputs
            calls = model_clock.calls if plain else decoder_clock.calls
            row = timing_row(mode, batch, round_, len(examples), wall, inside, tokens, calls, load)
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
        modes = seen[batch]
        for mode in ("speculative-after", "speculative-after-fixed", "constrained-after"):
            if round_ + 1 == args.rounds and "speculative-before" in modes and mode in modes:
                same = modes["speculative-before"] == modes[mode]
                results.setdefault("identical", {})[f"{mode} b{batch}"] = same
                print(json.dumps({"batch": batch, "mode": mode, "identical_to_before": same}), flush=True)
    Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(markdown(results))


def timing_row(mode: str, batch: int, round_: int, sentences: int, wall: float, inside: float, tokens: int, calls: int, load: float):
    """One measured row: rates per sentence and per output token, host time being the wall time outside the forward calls."""
    return {
        "mode": mode, "batch": batch, "round": round_, "seconds": wall, "sentences_per_second": sentences / wall,
        "output_tokens": tokens, "forward_calls": calls, "forward_s": inside, "wall_us_per_token": 1e6 * wall / tokens,
        "host_us_per_token": 1e6 * (wall - inside) / tokens, "load_average_before": load, "load_average_after": os.getloadavg()[0],
    }  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| batch | round | mode | sent / s | output tokens | forward calls | wall µs / token | host µs / token |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["rows"]:
        lines.append(
            f"| {r['batch']} | {r.get('round', 0) + 1} | {r['mode']} | {r['sentences_per_second']:.1f} | {r['output_tokens']} "
            f"| {r['forward_calls']} | {r['wall_us_per_token']:.1f} | {r['host_us_per_token']:.1f} |"
        )
    ratios = host_ratios(results["rows"])
    if ratios:
        lines += ["", "| batch | round | host µs / token, before ÷ after |", "| ---: | ---: | ---: |"]
        lines += [f"| {batch} | {round_ + 1} | {ratio:.2f}× |" for (batch, round_), ratio in ratios.items()]
    return "\n".join(lines)


def host_ratios(rows: list[dict[str, Any]]) -> dict[tuple[int, int], float]:
    """Per batch size and round: host time per output token before over after, the two measured one after the other."""
    by = {(r["batch"], r.get("round", 0), r["mode"]): r["host_us_per_token"] for r in rows}
    return {
        (batch, round_): by[(batch, round_, "speculative-before")] / host
        for (batch, round_, mode), host in by.items()
        if mode == "speculative-after" and (batch, round_, "speculative-before") in by
    }


if __name__ == "__main__":
    main()
