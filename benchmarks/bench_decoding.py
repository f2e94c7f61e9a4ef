"""Decoding modes side by side on eng.testb: plain generate, prompt lookup, prefix cache, constrained, speculative.

    uv run python benchmarks/bench_decoding.py --model runs/quickstart/model/full [--n 200] [--threads 2]

The model is the one the quickstart recipe trains (SmolLM2-135M, fully fine-tuned), loaded
once; each mode generates answers for the first ``--n`` eng.testb sentences and is timed
on generation alone (the vocabulary trie, built once per run, is inside the timing of the
modes that use it). Prompts (``--prompts``): ``reference`` (the reference instruction with
the label set and its descriptions, about 200 tokens: the quickstart's prompt) and ``short``
(``Mark named entities as [text | PER/ORG/LOC/MISC].``, which an earlier quickstart trained
on). Per mode: forward calls per sentence, passes per sentence
(the forward passes a sentence's own decoding went through; for ``generate`` counted from
its output length), tokens the model processed per sentence (padding and the shared
prefix included), sentences per second, malformed outputs (any parse diagnostic), copy
failures (output text not the input) and seqeval strict IOB2 micro F1. A second part times
the constraint itself: building the trie, and the allowed set per step by walking the trie
against testing every vocabulary entry (what a ``prefix_allowed_tokens_fn`` would have to do).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ner_toolkit import CONLL2003_LABELS, Label, ModelSpec, Prediction, plugins, read_conll

ROOT = Path(__file__).resolve().parents[1]
SHORT_INSTRUCTION = "Mark named entities as [text | PER/ORG/LOC/MISC]."
SHORT_LABELS = [Label("PER", "person"), Label("ORG", "organization"), Label("LOC", "location"), Label("MISC", "miscellaneous")]
MODES = ("generate-b1", "generate-b16", "lookup-b1", "prefix-b1", "prefix-b16", "constrained-b1", "constrained-b16",
         "speculative-b1", "speculative-b16")  # fmt: skip


def conll_dir() -> Path:
    return Path(os.environ.get("CONLL2003_DIR", ROOT.parent / "shared" / "data" / "conll2003"))


class Counter:
    """Counts the model's forward calls and the positions fed to them (padding included)."""

    def __init__(self, model: Any) -> None:
        self.calls = self.fed = 0
        # on the decoder stack: the causal LM's forward calls it, and copy decoding calls it directly
        model.get_decoder().register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.calls += 1
        self.fed += int(ids.numel()) if ids is not None else 0

    def reset(self) -> None:
        self.calls = self.fed = 0


def run_generate(model, tokenizer, formatter, examples, batch: int, lookup: int = 0) -> tuple[dict[int, str], list[int]]:
    """The predictor's plain path (``model.generate``), optionally with prompt lookup at batch 1."""
    from ner_toolkit_trainers.transformers_predictor import TransformersPredictor

    from ner_toolkit.prompts import end_of_turn_id
    from ner_toolkit_trainers.transformers_predictor import _Loaded, newline_token_ids

    predictor = TransformersPredictor(ModelSpec("unused", system_prompt=""), None, formatter, batch_size=batch, progress=False,
                                      entity_scores=False)
    stop = sorted({end_of_turn_id(tokenizer, "model"), tokenizer.eos_token_id, *newline_token_ids(tokenizer)})
    # the model is loaded once for every mode: hand it to the predictor as open() would
    predictor._loaded = _Loaded(model, tokenizer, "cpu", end_of_turn_id(tokenizer, "model"), stop, None)
    if lookup:
        original = model.generate

        def generate(**kwargs: Any) -> Any:
            return original(**kwargs, prompt_lookup_num_tokens=lookup)

        model.generate = generate
    try:
        outputs = dict(predictor.generate(examples))
    finally:
        if lookup:
            del model.generate
    # passes of a sentence's own decoding: one per generated token, the stop token included
    passes = [len(tokenizer(outputs[i], add_special_tokens=False)["input_ids"]) + (0 if outputs[i].endswith("\n") else 1)
              for i in range(len(examples))] if not lookup else []  # fmt: skip
    return outputs, passes


def run_copy(model, tokenizer, formatter, examples, batch: int, decoding: str, draft_tokens: int = 16, pause: bool = False):
    from ner_toolkit_trainers.decoding.decoder import CopyDecoder
    from ner_toolkit.prompts import end_of_turn_id, prompt_ids
    from ner_toolkit_trainers.transformers_predictor import newline_token_ids

    stop = sorted({end_of_turn_id(tokenizer, "model"), tokenizer.eos_token_id, *newline_token_ids(tokenizer)})
    decoder = CopyDecoder(
        model, tokenizer, formatter, decoding=decoding, prefix_cache=True, batch_size=batch,
        draft_tokens=draft_tokens, pause_at_names=pause, end_of_turn=end_of_turn_id(tokenizer, "model"), stop_ids=stop,
    )
    prompts = [prompt_ids(tokenizer, e, "model", "") for e in examples]
    caps = [int(2 * len(tokenizer(e.input, add_special_tokens=False)["input_ids"])) + 16 for e in examples]
    outputs = dict(decoder.generate(prompts, examples, caps))
    return outputs, decoder.stats.row_passes


def measure(name: str, run: Callable[[], tuple[dict[int, str], list[int]]], counter: Counter, formatter, sentences, scorer):
    counter.reset()
    began = time.perf_counter()
    outputs, passes = run()
    seconds = time.perf_counter() - began
    n = len(sentences)
    passes = passes or [counter.calls / n]  # prompt lookup at batch 1: one call is one pass of its sentence
    predictions = [Prediction.from_parse(s.id, outputs[i], formatter.parse(outputs[i], s.tokens)) for i, s in enumerate(sentences)]
    f1 = scorer.score(sentences, predictions)["micro"]["f1"]
    return {
        "mode": name,
        "calls_per_sentence": counter.calls / n,
        "passes_per_sentence": sum(passes) / len(passes),
        "tokens_per_sentence": counter.fed / n,
        "sentences_per_second": n / seconds,
        "seconds": seconds,
        "malformed": sum(1 for p in predictions if p.diagnostics),
        "copy_failures": sum(1 for p in predictions if not p.copied_input),
        "f1": f1,
        "load_average": os.getloadavg()[0],
        "outputs": [outputs[i] for i in range(n)],
    }


def mask_costs(tokenizer, formatter, sentences, outputs: list[str]) -> dict[str, float]:
    """Trie build time; allowed set per step: trie walk vs a test of every vocabulary entry."""
    from ner_toolkit_trainers.decoding.allowed import allowed_tokens
    from ner_toolkit_trainers.decoding.grammar import InlineGrammar
    from ner_toolkit_trainers.decoding.vocabulary import VocabTrie

    began = time.perf_counter()
    trie = VocabTrie.from_tokenizer(tokenizer)
    build = time.perf_counter() - began
    steps = walk = brute = setup = 0.0
    items = list(trie.bytes.items())
    for sentence, output in list(zip(sentences, outputs))[:20]:
        began = time.perf_counter()
        grammar = InlineGrammar.for_formatter(formatter, sentence.tokens)
        setup += time.perf_counter() - began
        states = grammar.start()
        for token in tokenizer(output, add_special_tokens=False)["input_ids"]:
            began = time.perf_counter()
            allowed_tokens(trie, grammar, states)
            walk += time.perf_counter() - began
            if steps < 40:
                began = time.perf_counter()
                [i for i, data in items if grammar.advance(states, data)]
                brute += time.perf_counter() - began
            steps += 1
            states = grammar.advance(states, trie.bytes[token])
            if not states:
                break
    return {
        "vocabulary": len(items),
        "trie_build_s": build,
        "grammar_setup_us": 1e6 * setup / 20,
        "trie_walk_us_per_step": 1e6 * walk / steps,
        "full_vocabulary_scan_ms_per_step": 1e3 * brute / min(steps, 40),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/quickstart/model/full")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts", default="reference", help="reference, short, or both: reference,short")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "decoding.json"))
    args = parser.parse_args()

    import torch
    from ner_toolkit_trainers.models import load_model, load_tokenizer

    torch.set_num_threads(args.threads)
    sentences = read_conll(conll_dir() / "eng.testb")[: args.n]
    spec = ModelSpec(args.model)
    tokenizer = load_tokenizer(spec)
    tokenizer.padding_side = "left"
    model = load_model(spec).eval()
    counter = Counter(model)
    bracketed = plugins.get_formatter("bracketed")
    scorer = plugins.get_scorer("seqeval")([label.name for label in CONLL2003_LABELS])
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {args.threads} torch threads",
        "python": platform.python_version(), "torch": torch.__version__, "model": args.model, "n": args.n,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "prompts": {},
    }  # fmt: skip
    for prompt in args.prompts.split(","):
        formatter = (
            bracketed(SHORT_LABELS, instruction=SHORT_INSTRUCTION) if prompt == "short" else bracketed(CONLL2003_LABELS)
        )
        examples = [formatter.example(s) for s in sentences]
        from ner_toolkit.prompts import prompt_ids

        lengths = [len(prompt_ids(tokenizer, e, "model", "")) for e in examples]
        rows = []
        for mode in args.modes.split(","):
            kind, _, size = mode.partition("-b")
            pause = size.endswith("-pause")  # speculative-b16-pause: drafts stop before unknown names
            size, _, k = size.removesuffix("-pause").partition("-k")  # speculative-b16-k8: drafts of at most 8 tokens
            batch = int(size)
            if kind == "generate":
                run = lambda: run_generate(model, tokenizer, formatter, examples, batch)  # noqa: E731
            elif kind == "lookup":
                run = lambda: run_generate(model, tokenizer, formatter, examples, batch, lookup=10)  # noqa: E731
            else:
                decoding = {"prefix": "plain", "constrained": "constrained", "speculative": "speculative"}[kind]
                run = lambda: run_copy(model, tokenizer, formatter, examples, batch, decoding, int(k or 16), pause)  # noqa: E731
            with torch.inference_mode():
                row = measure(mode, run, counter, formatter, sentences, scorer)
            rows.append(row)
            print(prompt, json.dumps({k: v for k, v in row.items() if k != "outputs"}), flush=True)
        best = next((r for r in rows if r["mode"] == "speculative-b16"), None)
        mask = mask_costs(tokenizer, formatter, sentences, best["outputs"] if best else [e.output for e in examples])
        results["prompts"][prompt] = {"prompt_tokens_mean": sum(lengths) / len(lengths), "rows": rows, "mask": mask}
        print(prompt, json.dumps(mask), flush=True)
    Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    lines = []
    for prompt, part in results["prompts"].items():
        lines += [f"### {prompt} prompt ({part['prompt_tokens_mean']:.0f} prompt tokens per sentence on average)", ""]
        lines += ["| mode | calls / sent | passes / sent | tokens / sent | sent / s | malformed | copy failures | seqeval F1 |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
        for r in part["rows"]:
            lines.append(
                f"| {r['mode']} | {r['calls_per_sentence']:.2f} | {r['passes_per_sentence']:.2f} | {r['tokens_per_sentence']:.0f} "
                f"| {r['sentences_per_second']:.2f} | {r['malformed']} | {r['copy_failures']} | {r['f1']:.4f} |"
            )
        m = part["mask"]
        lines += ["", f"mask: vocabulary {m['vocabulary']}, trie build {m['trie_build_s']:.2f} s, grammar setup "
                  f"{m['grammar_setup_us']:.0f} µs/sentence, trie walk {m['trie_walk_us_per_step']:.0f} µs/step, "
                  f"full vocabulary scan {m['full_vocabulary_scan_ms_per_step']:.0f} ms/step", ""]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
