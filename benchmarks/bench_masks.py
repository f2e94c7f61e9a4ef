"""What the copy constraint costs per sentence and per token: our trie walk against llguidance.

    uv run --with llguidance python benchmarks/bench_masks.py --model runs/quickstart/model/full [--n 50]

llguidance is not a dependency of the toolkit; ``--with`` puts it beside the environment for
this measurement only. For each of the first ``--n`` eng.testb sentences it builds the
constraint for its input (flat ``bracketed``, the four CoNLL labels: our ``InlineGrammar``;
for llguidance a Lark grammar with one rule per position, the same language) and then, along
the tokens of the gold rendering, computes the allowed set at every step (a list of ids for
ours, a bitmask over the vocabulary for llguidance) and consumes the token. Both are checked
to accept the gold rendering and the end of turn. Only the tokenizer is loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from ner_toolkit import CONLL2003_LABELS, ModelSpec, plugins, read_conll

ROOT = Path(__file__).resolve().parents[1]


def lark_grammar(tokens: list[str], labels: list[str]) -> str:
    """Flat bracketed renderings of ``tokens``: c_i before token i (nothing open), p_i before token i inside an entity."""

    def lit(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)

    label = " | ".join(lit(name) for name in labels)
    n = len(tokens)
    rules = ["start: c0", f"lbl: {label}"]
    for i, token in enumerate(tokens):
        after_closed = f' " " c{i + 1}' if i < n - 1 else ""
        rules.append(f"c{i}: {lit(token)}{after_closed} | \"[\" {lit(token)} o{i}")
        rules.append(f"p{i}: {lit(token)} o{i}")
        inside = f' | " " p{i + 1}' if i < n - 1 else ""
        rules.append(f'o{i}: " | " lbl "]"{after_closed}{inside}')
    return "\n".join(rules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/quickstart/model/full")
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()

    import llguidance
    import llguidance.hf
    import llguidance.torch
    from ner_toolkit_trainers.decoding.allowed import allowed_tokens
    from ner_toolkit_trainers.decoding.grammar import InlineGrammar
    from ner_toolkit_trainers.decoding.vocabulary import VocabTrie
    from ner_toolkit_trainers.models import load_tokenizer
    from ner_toolkit.prompts import end_of_turn_id

    folder = Path(os.environ.get("CONLL2003_DIR", ROOT.parent / "shared" / "data" / "conll2003"))
    sentences = read_conll(folder / "eng.testb")[: args.n]
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    tokenizer = load_tokenizer(ModelSpec(args.model))
    eot = end_of_turn_id(tokenizer, "model")
    labels = [label.name for label in CONLL2003_LABELS]

    began = time.perf_counter()
    trie = VocabTrie.from_tokenizer(tokenizer)
    ours_init = time.perf_counter() - began
    began = time.perf_counter()
    lltok = llguidance.hf.from_tokenizer(tokenizer)
    ll_init = time.perf_counter() - began
    bitmask = llguidance.torch.allocate_token_bitmask(1, lltok.vocab_size)

    ours_setup = ours_step = ll_setup = ll_step = 0.0
    steps = 0
    for sentence in sentences:
        target = formatter.render(sentence.tokens, sentence.spans)
        ids = [*tokenizer(target, add_special_tokens=False)["input_ids"], eot]
        began = time.perf_counter()
        grammar = InlineGrammar.for_formatter(formatter, sentence.tokens)
        states = grammar.start()
        ours_setup += time.perf_counter() - began
        began = time.perf_counter()
        matcher = llguidance.LLMatcher(lltok, lark_grammar(list(sentence.tokens), labels), log_level=0)
        ll_setup += time.perf_counter() - began
        assert not matcher.is_error(), matcher.get_error()
        for token in ids:
            began = time.perf_counter()
            allowed = allowed_tokens(trie, grammar, states)
            if grammar.accepting(states):
                allowed.append(eot)
            ours_step += time.perf_counter() - began
            assert token in allowed, (target, tokenizer.decode([token]))
            if token != eot:
                states = grammar.advance(states, trie.bytes[token])
            began = time.perf_counter()
            llguidance.torch.fill_next_token_bitmask(matcher, bitmask, 0)
            ll_step += time.perf_counter() - began
            assert bitmask[0, token // 32] >> (token % 32) & 1, (target, tokenizer.decode([token]))
            assert matcher.consume_token(token), matcher.get_error()
            steps += 1
    n = len(sentences)
    print(f"vocabulary {len(tokenizer)}; {n} sentences, {steps} steps (gold renderings, end of turn included)")
    print("| engine | tokenizer setup (once) | per sentence setup | per token mask |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| ours (trie walk) | {ours_init:.2f} s | {1e6 * ours_setup / n:.0f} µs | {1e6 * ours_step / steps:.0f} µs |")
    print(f"| llguidance {llguidance.__version__} (Lark) | {ll_init:.2f} s | {1e6 * ll_setup / n:.0f} µs | {1e6 * ll_step / steps:.0f} µs |")


if __name__ == "__main__":
    main()
