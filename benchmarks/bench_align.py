"""Alignment and scoring of long or re-cased outputs: time, and what survives.

    uv run --with sacremoses python benchmarks/bench_align.py [--sizes 10000 100000]

1. Published-style eng.testb: each sentence's gold bracketed and XML output as a model
   trained on the paper's published data writes it (all-caps lines sentence-cased with
   entity words capitalised, detokenised by sacremoses' Moses rules), parsed against the
   CoNLL tokens and scored (seqeval strict micro; diagnostics by kind).
2. Long outputs: the first N tokens of eng.train as one sentence, its bracketed gold output
   "perfect" and "damaged" (lower-cased, labels kept, one word in 500 dropped), parsed and
   scored by the four default scorers (seqeval imported beforehand: its import, 4 to 5 s
   of scikit-learn, is not counted).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

from ner_toolkit import CONLL2003_LABELS, Prediction, Sentence, plugins, read_conll

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_scores_long import damaged, joined  # noqa: E402
from test_scores_recased import detokeniser, published  # noqa: E402

LABELS = [label.name for label in CONLL2003_LABELS]


def conll_dir() -> Path:
    return Path(os.environ.get("CONLL2003_DIR", ROOT.parent / "shared" / "data" / "conll2003"))


def scorers() -> list:
    from ner_toolkit_metrics.errors import ErrorBreakdown
    from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
    from ner_toolkit_metrics.paper_scorer import PaperScorer
    from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

    return [SeqevalScorer(LABELS), NervaluateScorer(LABELS), PaperScorer(LABELS), ErrorBreakdown(LABELS)]


def published_set() -> None:
    gold = read_conll(conll_dir() / "eng.testb")
    detokenise = detokeniser()
    print(f"detokeniser: {getattr(detokenise, '__module__', '?')}")
    seqeval = scorers()[0]
    for name in ("bracketed", "xml"):
        formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
        outputs = [published(s, name, detokenise) for s in gold]
        began = time.perf_counter()
        predictions = [Prediction.from_parse(s.id, o, formatter.parse(o, s.tokens)) for s, o in zip(gold, outputs)]
        seconds = time.perf_counter() - began
        lost = sum(1 for s, p in zip(gold, predictions) if set(p.spans) != set(s.spans))
        micro = seqeval.score(gold, predictions)["micro"]
        kinds = Counter(d.kind for p in predictions for d in p.diagnostics)
        print(f"| {name} | {seconds:.2f} s | {lost} | {micro['precision']:.4f} / {micro['recall']:.4f} / {micro['f1']:.4f} | "
              + ", ".join(f"{k} {n}" for k, n in kinds.most_common()) + " |")


def long_outputs(sizes: list[int]) -> None:
    import seqeval.metrics  # noqa: F401  (import cost kept out of the timings)

    train = read_conll(conll_dir() / "eng.train")
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    for size in sizes:
        sentence: Sentence = joined(train, size)
        perfect = formatter.render(sentence.tokens, sentence.spans)
        for kind, output in (("perfect", perfect), ("damaged", damaged(perfect))):
            began = time.perf_counter()
            result = formatter.parse(output, sentence.tokens)
            times = [time.perf_counter() - began]
            prediction = [Prediction.from_parse(sentence.id, output, result)]
            for scorer in scorers():
                began = time.perf_counter()
                scorer.score([sentence], prediction)
                times.append(time.perf_counter() - began)
            right = len(set(result.spans) & set(sentence.spans))
            print(f"| {size:,} | {kind} | " + " | ".join(f"{t:.2f} s" for t in times)
                  + f" | {sum(times):.1f} s | {right:,} / {len(sentence.spans):,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print("| format | parse | sentences losing entities | seqeval P / R / F1 | diagnostics |")
    published_set()
    print("| tokens | output | parse | seqeval | nervaluate | paper | errors | total | gold spans recovered |")
    long_outputs(args.sizes)


if __name__ == "__main__":
    main()
