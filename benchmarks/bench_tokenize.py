"""How closely each tokenizer recovers CoNLL-2003's own tokens and sentences from raw text.

A model trained on CoNLL tokens joined by single spaces should see raw text split the same
way. Every sentence of a CoNLL file is detokenized with sacremoses (``MosesDetokenizer``,
English), which turns ``England 's`` into ``England's`` and ``158 .`` into ``158.``; each
candidate tokenizer then splits that text again. Reported per candidate:

- sentences: share of sentences whose tokens come back exactly (same character offsets);
- entities: share of gold entities whose character span in the detokenized text starts and
  ends on token boundaries of the re-tokenization (the model can still mark it);
- tokens/s: gold tokens per second of ``tokenize`` over every sentence text, one thread;
- boundaries found / false splits: each document's detokenized sentences joined by a space,
  split into sentences: the share of gold sentence starts found, and the share of predicted
  sentence starts that are not gold ones.

Run (the optional candidates only where installed, e.g. for this measurement only):

    OMP_NUM_THREADS=1 uv run python benchmarks/bench_tokenize.py
    OMP_NUM_THREADS=1 uv run --with syntok --with blingfire python benchmarks/bench_tokenize.py --file eng.testa
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from ner_toolkit import Sentence, plugins, read_conll

Offsets = list[tuple[int, int]]
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Candidate:
    """A tokenizer under test: tokens of a text, and sentences of a text, as character offsets."""

    name: str
    tokenize: Callable[[str], Offsets]
    sentences: Callable[[str], list[Offsets]]


def plugin_candidate(name: str, **options: object) -> Candidate:
    tokenizer = plugins.get_tokenizer(name)(**options)
    label = name + "".join(f" {key}={value}" for key, value in options.items())
    return Candidate(label, tokenizer.tokenize, tokenizer.sentences)


def syntok_candidate() -> Candidate:
    """syntok (segtok v2): its tokenizer for tokens, its segmenter for sentences."""
    import syntok.segmenter
    import syntok.tokenizer

    tokenizer = syntok.tokenizer.Tokenizer()

    def offsets(tokens: Sequence) -> Offsets:
        return [(token.offset, token.offset + len(token.value)) for token in tokens if token.value]

    def tokenize(text: str) -> Offsets:
        return offsets(tokenizer.tokenize(text))

    def sentences(text: str) -> list[Offsets]:
        return [offsets(sentence) for paragraph in syntok.segmenter.analyze(text) for sentence in paragraph]

    return Candidate("syntok", tokenize, sentences)


def blingfire_candidate() -> Candidate:
    """Bling Fire's default model (NLTK-like words) and its sentence breaker; ASCII text, so bytes are characters."""
    import blingfire

    def tokenize(text: str, base: int = 0) -> Offsets:
        return [(base + start, base + end) for start, end in blingfire.text_to_words_with_offsets(text)[1]]

    def sentences(text: str) -> list[Offsets]:
        return [tokenize(text[start:end], start) for start, end in blingfire.text_to_sentences_and_offsets(text)[1]]

    return Candidate("blingfire", tokenize, sentences)


def gold_offsets(text: str, tokens: Sequence[str]) -> Offsets:
    """Each gold token's characters in its detokenized text (the detokenizer only changes spacing)."""
    found, position = [], 0
    for token in tokens:
        start = text.index(token, position)
        if text[position:start].strip():
            raise ValueError(f"token {token!r} not found in order in {text!r}")
        found.append((start, start + len(token)))
        position = start + len(token)
    return found


@dataclass
class Result:
    name: str
    sentences: float
    entities: float
    tokens_per_s: float
    boundaries_found: float
    false_splits: float
    differences: Counter


def differences(text: str, gold: Offsets, got: Offsets) -> Counter:
    """Gold token runs that came back split differently: ``'one-day' -> 'one - day'``."""
    found: Counter = Counter()
    matcher = SequenceMatcher(a=gold, b=got, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op != "equal":
            found[(" ".join(text[s:e] for s, e in gold[a1:a2]), " ".join(text[s:e] for s, e in got[b1:b2]))] += 1
    return found


def measure(candidate: Candidate, items: list[tuple[Sentence, str, Offsets]], documents: list[list[int]]) -> Result:
    exact = entities = entity_total = 0
    seen: Counter = Counter()
    elapsed = 0.0
    candidate.tokenize("Warm up, so that loading a library is not timed.")
    for sentence, text, gold in items:
        start = time.perf_counter()
        got = candidate.tokenize(text)
        elapsed += time.perf_counter() - start
        if got == gold:
            exact += 1
        else:
            seen += differences(text, gold, got)
        starts, ends = {s for s, _ in got}, {e for _, e in got}
        for span in sentence.spans:
            entity_total += 1
            entities += gold[span.start][0] in starts and gold[span.end - 1][1] in ends
    found = gold_total = predicted_total = false = 0
    for document in documents:
        texts = [items[index][1] for index in document]
        gold_starts, position = set(), 0
        for text in texts:
            gold_starts.add(position)
            position += len(text) + 1
        gold_starts.discard(0)
        predicted = {sentence[0][0] for sentence in candidate.sentences(" ".join(texts)) if sentence} - {0}
        found += len(gold_starts & predicted)
        gold_total += len(gold_starts)
        predicted_total += len(predicted)
        false += len(predicted - gold_starts)
    tokens = sum(len(gold) for _, _, gold in items)
    return Result(
        candidate.name,
        exact / len(items),
        entities / entity_total,
        tokens / elapsed,
        found / gold_total,
        false / max(predicted_total, 1),
        seen,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="eng.testb", help="a CoNLL-2003 file in CONLL2003_DIR")
    parser.add_argument("--show", type=int, default=12, help="most frequent differences to list per candidate")
    args = parser.parse_args(argv)
    from sacremoses import MosesDetokenizer

    folder = Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))
    sentences = read_conll(folder / args.file)
    detokenizer = MosesDetokenizer(lang="en")
    items = []
    for sentence in sentences:
        text = detokenizer.detokenize(list(sentence.tokens))
        items.append((sentence, text, gold_offsets(text, sentence.tokens)))
    by_document: dict[str | None, list[int]] = {}
    for index, sentence in enumerate(sentences):
        by_document.setdefault(sentence.document_id, []).append(index)

    candidates = [plugin_candidate("whitespace"), plugin_candidate("regex", splitter="pysbd"),
                  plugin_candidate("regex", splitter="rules"), plugin_candidate("spacy"), plugin_candidate("spacy", conll=False)]
    if importlib.util.find_spec("syntok"):
        candidates.append(syntok_candidate())
    if importlib.util.find_spec("blingfire"):
        candidates.append(blingfire_candidate())

    entity_count = sum(len(s.spans) for s in sentences)
    print(f"{args.file}: {len(sentences)} sentences, {sum(len(g) for *_, g in items)} tokens, "
          f"{entity_count} entities, {len(by_document)} documents; python {sys.version.split()[0]}\n")
    print("| tokenizer | sentences exact | entities on token boundaries | tokens/s | boundaries found | false splits |")
    print("| --- | --- | --- | --- | --- | --- |")
    results = [measure(candidate, items, list(by_document.values())) for candidate in candidates]
    for r in results:
        print(f"| {r.name} | {r.sentences:.2%} | {r.entities:.2%} | {r.tokens_per_s:,.0f} | "
              f"{r.boundaries_found:.2%} | {r.false_splits:.2%} |")
    for r in results:
        if args.show:
            print(f"\n{r.name}: most frequent differences (gold -> got)")
            for (gold, got), count in r.differences.most_common(args.show):
                print(f"  {count:4d}  {gold!r} -> {got!r}")


if __name__ == "__main__":
    main()
