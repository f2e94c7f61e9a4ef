"""Time every built-in format's parser on eng.testb (3,453 sentences): copied and damaged outputs.

    uv run python benchmarks/bench_parse.py [--repeat 5] [--seed 0]

"copied" parses each format's own rendered target, the exact path a model that copies
its input takes. "damaged" parses the same targets after one seeded edit each (a space
removed, a word inserted or dropped, a character mistyped or the output cut short), so
inline formats take the alignment fallback and JSON formats the salvage path. Reports the
best and median of ``--repeat`` runs, and for the damaged set the share of gold spans
still recovered and the diagnostics by kind.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ner_toolkit import CONLL2003_LABELS, Formatter, Sentence, plugins, read_conll

FORMATS = ("bracketed", "xml", "json-grouped", "json-occurrence", "json-offset")
ROOT = Path(__file__).resolve().parents[1]


def conll_dir() -> Path:
    return Path(os.environ.get("CONLL2003_DIR", ROOT.parent / "shared" / "data" / "conll2003"))


def _respace(text: str, rng: random.Random) -> str:
    spaces = [i for i, char in enumerate(text) if char == " "]
    return text if not spaces else (lambda at: text[:at] + text[at + 1 :])(rng.choice(spaces))


def _insert_word(text: str, rng: random.Random) -> str:
    spaces = [i for i, char in enumerate(text) if char == " "] or [len(text)]
    at = rng.choice(spaces)
    return text[:at] + " very" + text[at:]


def _drop_word(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    del words[rng.randrange(len(words))]
    return " ".join(words)


def _typo(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text))
    return text[:at] + rng.choice("aeiouxz") + text[at + 1 :]


def _truncate(text: str, rng: random.Random) -> str:
    return text[: int(len(text) * rng.uniform(0.5, 0.95))]


EDITS: list[Callable[[str, random.Random], str]] = [_respace, _insert_word, _drop_word, _typo, _truncate]


def timed(formatter: Formatter, outputs: list[str], sentences: list[Sentence], repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for output, sentence in zip(outputs, sentences):
            formatter.parse(output, sentence.tokens)
        runs.append(time.perf_counter() - start)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sentences = read_conll(conll_dir() / "eng.testb")
    gold = sum(len(sentence.spans) for sentence in sentences)
    print(f"eng.testb: {len(sentences)} sentences, {gold} gold spans; Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; best / median of {args.repeat} runs\n")
    print("| format | render all | parse copied (best / median) | parse damaged (best / median) | damaged: gold spans kept |")
    print("| --- | --- | --- | --- | --- |")
    kinds: dict[str, Counter[str]] = {}
    for name in FORMATS:
        formatter = plugins.get_formatter(name)(CONLL2003_LABELS)
        start = time.perf_counter()
        targets = [formatter.render(sentence.tokens, sentence.spans) for sentence in sentences]
        render = time.perf_counter() - start
        rng = random.Random(args.seed)
        damaged = [rng.choice(EDITS)(target, rng) for target in targets]
        copied_runs = timed(formatter, targets, sentences, args.repeat)
        damaged_runs = timed(formatter, damaged, sentences, args.repeat)
        results = [formatter.parse(output, sentence.tokens) for output, sentence in zip(damaged, sentences)]
        kept = sum(len(set(r.spans) & set(s.spans)) for r, s in zip(results, sentences))
        kinds[name] = Counter(diagnostic.kind for result in results for diagnostic in result.diagnostics)
        print(f"| {name} | {render:.2f} s | {min(copied_runs):.2f} / {statistics.median(copied_runs):.2f} s "
              f"| {min(damaged_runs):.2f} / {statistics.median(damaged_runs):.2f} s | {kept / gold:.1%} |")
    print("\nDiagnostics on the damaged set:\n")
    for name, counts in kinds.items():
        print(f"- {name}: " + ", ".join(f"{kind} {n}" for kind, n in counts.most_common()))


if __name__ == "__main__":
    main()
