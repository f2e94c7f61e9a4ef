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
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/quickstart")
    parser.add_argument("-n", type=int, default=300, help="eng.testb sentences for accuracy and speed (0: only the pipe rows)")
    parser.add_argument("--documents", type=int, default=1000, help="short documents for the batch-size rows")
    parser.add_argument("--batch-sizes", default="1,16,64")
    args = parser.parse_args(argv)

    from sacremoses import MosesDetokenizer
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from ner_toolkit import Tagger, read_conll, spans_to_tags

    folder = Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))
    sentences = [s for s in read_conll(folder / "eng.testb")]
    detokenizer = MosesDetokenizer(lang="en")
    texts = [detokenizer.detokenize(list(s.tokens)) for s in sentences]
    print(f"machine load {os.getloadavg()[0]:.2f}; start-up: {startup(args.run)}", flush=True)

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
        print(f"{args.n} eng.testb sentences: gold tokens F1 {token_f1:.4f} at {tokens_rate:.2f} sentences/s; "
              f"raw text F1 {raw_f1:.4f} (P {precision:.4f} R {recall:.4f}) at {raw_rate:.2f} sentences/s "
              f"({raw_rate / tokens_rate:.1%} of the token path); tokens recovered exactly in {same_tokens} of {args.n}; "
              f"{unmapped} sentences whose gold could not be mapped to characters; times {timings}", flush=True)
        tagger.close()

    documents = texts[: args.documents]
    for size in (int(b) for b in args.batch_sizes.split(",")):
        tagger = Tagger.load(args.run, batch_size=size)
        tagger.open()
        began = time.perf_counter()
        tagged = list(tagger.pipe(documents, batch_size=size))
        seconds = time.perf_counter() - began
        count = sum(len(d.sentences) for d in tagged)
        print(f"pipe, {len(documents)} documents, batch {size}: {count} sentences in {seconds:.1f} s, "
              f"{count / seconds:.2f} sentences/s, load {os.getloadavg()[0]:.2f}", flush=True)
        tagger.close()


if __name__ == "__main__":
    main()
