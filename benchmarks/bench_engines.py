"""The quickstart model behind a real OpenAI-compatible server (``transformers serve``) through the ``openai`` predictor, beside in process.

For the first N sentences of eng.testb: the in-process ``transformers`` predictor with
speculative copying (the quickstart's settings), then ``transformers serve`` without and
with continuous batching at each concurrency, asked on the completions endpoint with the
exact training prompt (plain greedy: the server has no copy grammar, so its outputs are
compared with the in-process plain greedy ones); then the untrained SmolLM2 zero- and
k-shot on the chat endpoint.
Each row gives sentences/s, seqeval micro F1 and the parse diagnostics; rows are written to
the JSON file as they finish.

    uv run python benchmarks/bench_engines.py --model runs/quickstart/model/full \
        --base .pytest_cache/d/smollm2-135m-instruct --out benchmarks/engines.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

from served import TransformersServe  # noqa: E402

from ner_toolkit import plugins  # noqa: E402
from ner_toolkit.interfaces import ModelSpec  # noqa: E402
from ner_toolkit.labels import CONLL2003_LABELS  # noqa: E402
from ner_toolkit.run.components import build_formatter, build_predictor  # noqa: E402
from ner_toolkit.run.scoring import score  # noqa: E402
from ner_toolkit.shots import draw_shots, with_shots  # noqa: E402


def measure(name: str, predictor: Any, sentences: list, examples: list, **about: Any) -> dict[str, Any]:
    with predictor:
        began = time.perf_counter()
        predictions = dict(predictor.predict(sentences, examples))
        seconds = time.perf_counter() - began
        retried = getattr(predictor, "retried", 0)
    ordered = [predictions[i] for i in range(len(sentences))]
    scorer = plugins.get_scorer("seqeval")([label.name for label in CONLL2003_LABELS])
    result = score([scorer], sentences, ordered)
    row = {
        "name": name, **about, "sentences": len(sentences), "seconds": round(seconds, 2),
        "sentences_per_s": round(len(sentences) / seconds, 3), "f1": round(result["seqeval"]["micro"]["f1"], 4),
        "unparsed_outputs": result["counts"]["unparsed_outputs"], "diagnostics": result["counts"]["diagnostics"],
        "retried": retried, "outputs": [p.output for p in ordered],
    }
    print(f"{name}: {row['sentences_per_s']} sentences/s, F1 {row['f1']}, unparsed {row['unparsed_outputs']}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the trained quickstart model folder (runs/quickstart/model/full)")
    parser.add_argument("--base", type=Path, required=True, help="the untrained SmolLM2-135M-Instruct folder")
    parser.add_argument("--conll", type=Path, default=REPO.parent / "shared" / "data" / "conll2003")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parts", nargs="+", default=["local", "serve", "serve-cb", "shots"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "engines.json")
    parser.add_argument("--server-log", type=Path, help="append the servers' output to this file")
    args = parser.parse_args()

    reader = plugins.get_reader("conll")(scheme="IOB1")
    sentences = reader.read(args.conll / "eng.testb")[: args.sentences]
    train = reader.read(args.conll / "eng.train")[:800]
    formatter = build_formatter("bracketed", CONLL2003_LABELS)
    examples = formatter.examples(sentences)
    trained = ModelSpec(str(args.model), system_prompt="")  # the quickstart recipe's prompt: no system turn
    out: dict[str, Any] = {"host": {"python": platform.python_version(), "cpus": args.threads}, "rows": []}

    def keep(row: dict[str, Any]) -> None:
        out["rows"].append(row)
        args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    if "local" in args.parts:
        for decoding in ("speculative", "plain"):
            options = {"batch_size": 16, "threads": args.threads, "decoding": decoding, "prefix_cache": decoding != "plain",
                       "progress": False}
            keep(measure(f"in process, {decoding}", build_predictor("transformers", trained, None, formatter, options),
                         sentences, examples, engine="transformers", decoding=decoding, batch_size=16))
    for part, flags in (("serve", ()), ("serve-cb", ("--continuous-batching",))):
        if part not in args.parts:
            continue
        with TransformersServe(args.model, None, *flags, threads=args.threads, log=args.server_log) as server:
            for concurrency in args.concurrency:
                options = {"base_url": server.url, "model": str(args.model), "api": "completions", "concurrency": concurrency, "timeout": 600}
                name = f"transformers serve{' --continuous-batching' if flags else ''}, concurrency {concurrency}"
                keep(measure(name, build_predictor("openai", trained, None, formatter, options), sentences, examples,
                             engine="openai", api="completions", continuous_batching=bool(flags), concurrency=concurrency))
    if "shots" in args.parts:
        shots = draw_shots(train, formatter.examples(train), args.shots, seed=0)
        with TransformersServe(args.base, None, threads=args.threads, log=args.server_log) as server:
            for k in (0, args.shots):
                options = {"base_url": server.url, "model": str(args.base), "api": "chat", "concurrency": 8, "timeout": 600}
                keep(measure(f"untrained SmolLM2, {k}-shot", build_predictor("openai", ModelSpec(str(args.base)), None, formatter, options),
                             sentences, with_shots(examples, shots[:k]), engine="openai", api="chat", shots=k, concurrency=8))


if __name__ == "__main__":
    main()
