"""Time every metrics scorer on eng.testb (3,453 sentences) with realistic, imperfect predictions.

    uv run python benchmarks/bench_scorers.py [--repeat 5]

Predictions are the gold spans with a fixed 10% of them damaged (dropped, relabelled,
widened by a token, or split) plus spurious ones, so every scoring path runs. Reports the
one-time import cost of seqeval (which imports scikit-learn) and nervaluate, measured in a
fresh interpreter, and the best of ``--repeat`` runs of each scorer's ``score()``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

from ner_toolkit import Mention, Prediction, Sentence, Span, read_conll
from ner_toolkit_metrics.errors import ErrorBreakdown
from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

LABELS = ["ORG", "PER", "LOC", "MISC"]
ROOT = Path(__file__).resolve().parents[1]


def conll_dir() -> Path:
    return Path(os.environ.get("CONLL2003_DIR", ROOT.parent / "shared" / "data" / "conll2003"))


def damaged(sentence: Sentence, rng: random.Random) -> Prediction:
    spans: list[Span] = []
    for span in sentence.spans:
        r = rng.random()
        if r < 0.03:
            continue
        if r < 0.06:
            span = Span(span.start, span.end, rng.choice([l for l in LABELS if l != span.label]))
        elif r < 0.08 and span.end < len(sentence.tokens) and not any(s.start == span.end for s in sentence.spans):
            span = Span(span.start, span.end + 1, span.label)
        elif r < 0.10 and len(span) > 1:
            spans.append(Span(span.start, span.start + 1, span.label))
            span = Span(span.start + 1, span.end, span.label)
        spans.append(span)
    taken = {i for s in spans for i in range(s.start, s.end)}
    free = [i for i in range(len(sentence.tokens)) if i not in taken]
    if free and rng.random() < 0.05:
        spans.append(Span(f := rng.choice(free), f + 1, rng.choice(LABELS)))
    copied = rng.random() > 0.02
    mentions = tuple(Mention(" ".join(sentence.tokens[s.start : s.end]), s.label) for s in spans)
    return Prediction(sentence.id, sentence.text, tuple(sorted(spans)), (), mentions, copied)


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    gold = read_conll(conll_dir() / "eng.testb")
    rng = random.Random(2026)
    predictions = [damaged(s, rng) for s in gold]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"eng.testb: {len(gold)} sentences, {sum(len(s.spans) for s in gold)} gold spans, "
          f"{sum(len(p.spans) for p in predictions)} predicted")
    for module in ("seqeval.metrics", "nervaluate"):
        print(f"import {module}: {import_seconds(module):.2f} s (fresh interpreter, once per process)")

    total = 0.0
    for cls in (SeqevalScorer, NervaluateScorer, PaperScorer, ErrorBreakdown):
        scorer = cls(LABELS)
        timings = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = scorer.score(gold, predictions)
            timings.append(time.perf_counter() - started)
        headline = result.get("micro") or result.get("overall", {}).get("strict") or {}
        f1 = f"F1 {headline['f1']:.4f}" if "f1" in headline else ""
        print(f"{cls.name:<10} score(): best {min(timings):.3f} s, median {sorted(timings)[len(timings) // 2]:.3f} s  {f1}")
        total += min(timings)
    print(f"all four scorers: {total:.2f} s (best runs, imports excluded)")


if __name__ == "__main__":
    main()
