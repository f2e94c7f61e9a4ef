"""Tagging raw text with a trained run: accuracy against the gold tokens' own, and speed against the run's prediction stage.

The quickstart model (``runs/quickstart``, trained by ``ner-toolkit run recipes/quickstart.yaml``)
tags the first N eng.testb sentences twice, side by side in one process with one loaded model:

- tokens: the sentences' gold tokens, as the run's prediction stage decodes them
  (``Tagger.tag_tokens``: render the prompt, decode, parse), scored with seqeval strict;
- raw: each sentence detokenized with sacremoses (``England's``, ``158.``) and tagged as raw
  text (``Tagger.pipe``: sentence split, tokenize, decode, parse, map back to characters);
  its entities are compared by character offsets and label with the gold entities mapped
  to characters of the detokenized text (exact-match precision, recall, F1).

Both paths run twice, alternating, and the faster of each is reported. Start-up (import and
model load) is measured on its own. Then ``pipe`` over D short documents (one sentence
each) at pipe and predictor batch sizes 1, 16 and 64.

    OMP_NUM_THREADS=2 uv run python benchmarks/bench_tagging.py --run runs/quickstart

Before against after (``--before CHECKOUT``, a checkout with its own ``.venv``): only the
``pipe`` rows, each measured once per side, each measurement in a fresh interpreter of its
side (this script's ``--worker`` mode, run by the side's python: it loads the Tagger, times
``pipe`` alone, and writes the entities). The side that goes first alternates from row to
row, so that the machine's drift reaches both alike. "After" is the interpreter running
this script (or ``--after CHECKOUT``). Each row reports both sides' sentences/s and model
load time, the after/before ratio, and how many documents got different entities.

    OMP_NUM_THREADS=2 uv run python benchmarks/bench_tagging.py --run runs/quickstart --before ../before \\
        --documents 1000 --batch-sizes 1,16 --json benchmarks/tagging-before-after.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_serve import Side, describe_side, exit_on_sigterm, measured_env, ratio, read_texts, side_of

REPO = Path(__file__).resolve().parents[1]


def gold_offsets(text: str, tokens: Sequence[str]) -> list[tuple[int, int]] | None:
    """Each gold token's characters in its detokenized text, or None where the detokenizer changed a token."""
    found, position = [], 0
    for token in tokens:
        start = text.find(token, position)
        if start < 0 or text[position:start].strip():
            return None
        found.append((start, start + len(token)))
        position = start + len(token)
    return found


def startup(run: str) -> dict[str, float]:
    """Import and load time in a fresh process (the model is loaded by open())."""
    code = (
        "import time; t0 = time.perf_counter(); from ner_toolkit import Tagger; t1 = time.perf_counter(); "
        f"tagger = Tagger.load({run!r}); tagger.open(); t2 = time.perf_counter(); "
        "import json; print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def worker(run: str, texts_file: Path, batch_size: int, out: Path) -> None:
    """One measurement in this interpreter: load the Tagger, time ``pipe`` alone; entities to ``out``, timings as JSON on stdout.

    Uses only the public API both sides keep: ``Tagger.load(run, batch_size=)``, ``open()``,
    ``pipe(texts, batch_size=)`` and each entity's ``start``, ``end``, ``label``, ``text``.
    """
    began = time.perf_counter()
    import ner_toolkit
    from ner_toolkit import Tagger

    imported = time.perf_counter()
    texts: list[str] = json.loads(texts_file.read_text())
    tagger = Tagger.load(run, batch_size=batch_size)
    tagger.open()
    loaded = time.perf_counter()
    documents = list(tagger.pipe(texts, batch_size=batch_size))
    seconds = time.perf_counter() - loaded
    entities = [[[e.start, e.end, e.label, e.text] for e in d.entities] for d in documents]
    out.write_text(json.dumps(entities))
    sentences = sum(len(getattr(d, "sentences", ())) for d in documents) or None  # not part of the kept API
    print(json.dumps({
        "ner_toolkit": getattr(ner_toolkit, "__file__", None), "batch_size": batch_size, "documents": len(documents),
        "sentences": sentences,
        "import_s": round(imported - began, 3), "load_s": round(loaded - imported, 3), "pipe_s": round(seconds, 2),
        "documents_per_s": round(len(documents) / seconds, 3),
        "sentences_per_s": round(sentences / seconds, 3) if sentences else None,
        "machine_load": round(os.getloadavg()[0], 2),
    }), flush=True)


def measure(side: Side, run: str, texts_file: Path, batch_size: int, folder: Path, timeout_s: float) -> tuple[dict[str, Any], list[Any]]:
    """Run ``worker`` in ``side``'s python (a fresh process); its timings and each document's entities."""
    out = folder / f"{side.name}-{batch_size}.json"
    command = [str(side.python), str(Path(__file__).resolve()), "--worker", "--run", run, "--texts", str(texts_file),
               "--batch-size", str(batch_size), "--out", str(out)]
    try:  # subprocess.run kills the worker on a timeout or any other error
        result = subprocess.run(command, capture_output=True, text=True, env=measured_env(), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{side.name} worker at batch {batch_size} ran past {timeout_s:.0f} s") from None
    if result.returncode != 0:
        raise RuntimeError(f"{side.name} worker at batch {batch_size} exited with {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1]), json.loads(out.read_text())


def before_after(before: Side, after: Side, run: str, texts: list[str], sizes: list[int], timeout_s: float) -> list[dict[str, Any]]:
    """Each batch size for both sides, one worker process at a time, the first side alternating; rows with ratios and differences."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-tagging-") as name:
        folder = Path(name)
        texts_file = folder / "texts.json"
        texts_file.write_text(json.dumps(texts))
        for row_number, size in enumerate(sizes):
            order = (before, after) if row_number % 2 == 0 else (after, before)
            measured: dict[str, tuple[dict[str, Any], list[Any]]] = {}
            for side in order:
                measured[side.name] = measure(side, run, texts_file, size, folder, timeout_s)
                print(f"{side.name}: {json.dumps(measured[side.name][0])}", flush=True)
            (b, before_entities), (a, after_entities) = measured["before"], measured["after"]
            differing = [k for k in range(len(texts)) if before_entities[k] != after_entities[k]]
            rows.append({
                "batch_size": size, "documents": len(texts), "order": [side.name for side in order], "before": b, "after": a,
                "after_over_before": {"documents_per_s": ratio(a["documents_per_s"], b["documents_per_s"]),
                                      "load_s": ratio(a["load_s"], b["load_s"])},
                "differing_documents": len(differing),
                "differing_examples": [{"text": texts[k], "before": before_entities[k], "after": after_entities[k]}
                                       for k in differing[:3]],
            })
            print(f"batch {size}: {len(differing)} of {len(texts)} documents with different entities", flush=True)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| batch size | documents | sentences | first | sentences/s before | after | after/before | load before | after "
          "| documents with different entities |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        b, a = row["before"], row["after"]
        sentences = b["sentences"] if b["sentences"] == a["sentences"] else f"{b['sentences']} / {a['sentences']}"
        print(f"| {row['batch_size']} | {row['documents']} | {sentences} | {row['order'][0]} | {b['sentences_per_s']} "
              f"| {a['sentences_per_s']} | {row['after_over_before']['documents_per_s']} | {b['load_s']:.1f} s | {a['load_s']:.1f} s "
              f"| {row['differing_documents']} |")


def one_side(args: argparse.Namespace) -> dict[str, Any]:
    """The single-side benchmark in this process: start-up, accuracy and speed of both paths, the pipe rows."""
    from sacremoses import MosesDetokenizer
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from ner_toolkit import Tagger, read_conll, spans_to_tags

    results: dict[str, Any] = {}
    folder = Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))
    sentences = [s for s in read_conll(folder / "eng.testb")]
    detokenizer = MosesDetokenizer(lang="en")
    texts = [detokenizer.detokenize(list(s.tokens)) for s in sentences]
    results["startup"] = startup(args.run)
    print(f"machine load {os.getloadavg()[0]:.2f}; start-up: {results['startup']}", flush=True)

    if args.n > 0:
        tagger = Tagger.load(args.run)
        tagger.open()
        subset, raw = sentences[: args.n], texts[: args.n]
        timings: dict[str, list[float]] = {"tokens": [], "raw": []}
        token_result = raw_result = None
        for _ in range(2):
            began = time.perf_counter()
            token_result = tagger.tag_tokens([s.tokens for s in subset])
            timings["tokens"].append(time.perf_counter() - began)
            began = time.perf_counter()
            raw_result = list(tagger.pipe(raw, batch_size=len(raw)))
            timings["raw"].append(time.perf_counter() - began)
        assert token_result is not None and raw_result is not None

        gold_tags = [spans_to_tags(s.spans, len(s.tokens), "IOB2") for s in subset]
        predicted_tags = [spans_to_tags(t.spans, len(s.tokens), "IOB2") for s, t in zip(subset, token_result)]
        token_f1 = f1_score(gold_tags, predicted_tags, mode="strict", scheme=IOB2)

        gold_chars, predicted_chars, unmapped = set(), set(), 0
        for k, (sentence, text, document) in enumerate(zip(subset, raw, raw_result)):
            offsets = gold_offsets(text, sentence.tokens)
            if offsets is None:
                unmapped += 1
                continue
            gold_chars |= {(k, offsets[s.start][0], offsets[s.end - 1][1], s.label) for s in sentence.spans}
            predicted_chars |= {(k, e.start, e.end, e.label) for e in document.entities}
        correct = len(gold_chars & predicted_chars)
        precision = correct / len(predicted_chars) if predicted_chars else 0.0
        recall = correct / len(gold_chars) if gold_chars else 0.0
        raw_f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        same_tokens = sum(1 for s, d in zip(subset, raw_result) if sum((t.tokens for t in d.sentences), ()) == s.tokens)
        tokens_rate = args.n / min(timings["tokens"])
        raw_rate = args.n / min(timings["raw"])
        results["accuracy"] = {
            "sentences": args.n, "token_f1": token_f1, "token_sentences_per_s": tokens_rate, "raw_f1": raw_f1,
            "raw_precision": precision, "raw_recall": recall, "raw_sentences_per_s": raw_rate, "tokens_recovered": same_tokens,
            "unmapped": unmapped, "times": timings,
        }
        print(f"{args.n} eng.testb sentences: gold tokens F1 {token_f1:.4f} at {tokens_rate:.2f} sentences/s; "
              f"raw text F1 {raw_f1:.4f} (P {precision:.4f} R {recall:.4f}) at {raw_rate:.2f} sentences/s "
              f"({raw_rate / tokens_rate:.1%} of the token path); tokens recovered exactly in {same_tokens} of {args.n}; "
              f"{unmapped} sentences whose gold could not be mapped to characters; times {timings}", flush=True)
        tagger.close()

    documents = texts[: args.documents]
    results["pipe"] = []
    for size in (int(b) for b in args.batch_sizes.split(",")):
        tagger = Tagger.load(args.run, batch_size=size)
        tagger.open()
        began = time.perf_counter()
        tagged = list(tagger.pipe(documents, batch_size=size))
        seconds = time.perf_counter() - began
        count = sum(len(d.sentences) for d in tagged)
        results["pipe"].append({"batch_size": size, "documents": len(documents), "sentences": count, "pipe_s": round(seconds, 2),
                                "sentences_per_s": round(count / seconds, 3), "machine_load": round(os.getloadavg()[0], 2)})
        print(f"pipe, {len(documents)} documents, batch {size}: {count} sentences in {seconds:.1f} s, "
              f"{count / seconds:.2f} sentences/s, load {os.getloadavg()[0]:.2f}", flush=True)
        tagger.close()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/quickstart")
    parser.add_argument("-n", type=int, default=300, help="eng.testb sentences for accuracy and speed (0: only the pipe rows; "
                        "not with --before)")
    parser.add_argument("--documents", type=int, default=1000, help="short documents for the batch-size rows")
    parser.add_argument("--batch-sizes", default="1,16,64")
    parser.add_argument("--before", help="checkout (with its own .venv) to measure the pipe rows against, alternating")
    parser.add_argument("--after", help="checkout of the 'after' side (default: the interpreter running this script)")
    parser.add_argument("--worker-timeout", type=float, default=7200, help="seconds one worker process may take")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--worker", action="store_true", help="internal: one measurement (--texts, --batch-size, --out)")
    parser.add_argument("--texts", type=Path, help="internal: JSON list of the texts for --worker")
    parser.add_argument("--batch-size", type=int, help="internal: batch size for --worker")
    parser.add_argument("--out", type=Path, help="internal: where --worker writes the entities")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.run, args.texts, args.batch_size, args.out)
        return
    args.run = str(Path(args.run).absolute())
    exit_on_sigterm()

    results: dict[str, Any] = {
        "command": [sys.executable, *sys.argv], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": args.run, "cpus": os.cpu_count(), "omp_num_threads": measured_env()["OMP_NUM_THREADS"],
    }
    if args.before:
        before, after = side_of("before", args.before), side_of("after", args.after)
        results["sides"] = {side.name: describe_side(side) for side in (before, after)}
        print(json.dumps(results["sides"], indent=1), flush=True)
        print("--before: only the pipe rows (no -n accuracy rows, no start-up row: each worker reports its load time)", flush=True)
        folder = Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))
        texts = read_texts(folder / "eng.testb", args.documents)
        sizes = [int(b) for b in args.batch_sizes.split(",")]
        results["rows"] = before_after(before, after, args.run, texts, sizes, args.worker_timeout)
        print_table(results["rows"])
    else:
        results.update(one_side(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"results in {args.json}")


if __name__ == "__main__":
    main()
