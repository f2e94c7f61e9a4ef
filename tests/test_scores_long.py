"""Issue 11: long outputs align and score in linear time, with the same numbers.

difflib made alignment quadratic (a 10,000-token output that differs from its input took
115 s, 100,000 tokens never finished); nervaluate and seqeval's strict mode are quadratic
in one sentence's length (a perfect 100,000-token output took 112 s with the default
scorers). Times are in benchmarks/align.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, Prediction, Sentence, Span, plugins, read_conll

from ner_toolkit_metrics.errors import ErrorBreakdown
from ner_toolkit_metrics.nervaluate_scorer import NervaluateScorer
from ner_toolkit_metrics.paper_scorer import PaperScorer
from ner_toolkit_metrics.seqeval_scorer import SeqevalScorer

LABELS = [label.name for label in CONLL2003_LABELS]


def assert_written(result, sentence: Sentence) -> None:
    """Every span is text the model wrote as an entity with that label (whitespace and case aside)."""
    written = {("".join(m.text.split()).lower(), m.label) for m in result.mentions}
    for span in result.spans:
        assert ("".join(sentence.tokens[span.start : span.end]).lower(), span.label) in written, span


def joined(sentences: list[Sentence], size: int) -> Sentence:
    """The first ``size`` tokens of ``sentences`` as one sentence, with their spans."""
    tokens: list[str] = []
    spans: list[Span] = []
    for sentence in sentences:
        spans += [Span(s.start + len(tokens), s.end + len(tokens), s.label) for s in sentence.spans]
        tokens += sentence.tokens
        if len(tokens) >= size:
            break
    return Sentence("long:1", tuple(tokens[:size]), tuple(s for s in spans if s.end <= size))


def damaged(output: str, every: int = 500) -> str:
    """Lower-cased (labels kept) with one word dropped every ``every`` words."""
    words = output.split(" ")
    text = " ".join(word for i, word in enumerate(words) if i % every != every // 2).lower()
    for label in LABELS:
        text = text.replace(f"| {label.lower()}]", f"| {label}]")
    return text


def test_a_long_output_that_differs_aligns_in_linear_time(conll: Path) -> None:
    sentence = joined(read_conll(conll / "eng.train"), 20_000)
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    output = damaged(formatter.render(sentence.tokens, sentence.spans))
    began = time.perf_counter()
    result = formatter.parse(output, sentence.tokens)
    seconds = time.perf_counter() - began
    assert seconds < 15, seconds  # difflib: minutes
    right = len(set(result.spans) & set(sentence.spans))
    assert right >= 0.99 * len(sentence.spans) and right >= 0.99 * len(result.spans)
    kinds = {d.kind for d in result.diagnostics}
    assert "text_mismatch" in kinds and "case_mismatch" in kinds and "alignment_capped" not in kinds


def test_an_output_written_out_of_order_finishes_fast(conll: Path) -> None:
    sentence = joined(read_conll(conll / "eng.train"), 20_000)
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    words = formatter.render(sentence.tokens, sentence.spans).split(" ")
    blocks = [" ".join(words[i : i + 40]) for i in range(0, len(words), 40)]
    output = " ".join(blocks[:5] + blocks[5:][::-1])  # the model wrote the rest in reverse order of blocks
    began = time.perf_counter()
    result = formatter.parse(output, sentence.tokens)
    assert time.perf_counter() - began < 15
    assert "internal_error" not in [d.kind for d in result.diagnostics]
    assert_written(result, sentence)


def test_alignment_past_its_budget_is_capped_with_a_diagnostic(conll: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ner_toolkit_formats import align

    monkeypatch.setattr(align, "BUDGET", 0)
    monkeypatch.setattr(align, "BUDGET_BASE", 200)
    sentence = joined(read_conll(conll / "eng.train"), 20_000)
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    output = damaged(formatter.render(sentence.tokens, sentence.spans), every=50)
    result = formatter.parse(output, sentence.tokens)
    capped = [d.message for d in result.diagnostics if d.kind == "alignment_capped"]
    assert len(capped) == 1 and "too different from its input to align past character" in capped[0]
    assert 0 < len(result.spans) < 0.5 * len(sentence.spans)  # what came before the cap is kept
    assert_written(result, sentence)


def _counts(results: dict) -> tuple:
    seqeval, nervaluate, paper, errors = results
    return (
        {key: seqeval[key] for key in ("micro", "macro", "per_type")},
        {key: seqeval["lenient"][key] for key in ("micro", "macro", "per_type")},
        nervaluate["overall"],
        nervaluate["per_type"],
        paper["micro"],
        errors["totals"],
        errors["confusion"],
    )


def test_a_long_sentence_scores_as_its_sentences_do(conll: Path) -> None:
    """Scorers cut long sentences into pieces; the numbers must be those of the sentences it joins."""
    sentences = read_conll(conll / "eng.testb")[:400]
    total = sum(len(s.tokens) for s in sentences)
    long = joined(sentences, total)
    wrong = {0: "PER", 1: "ORG", 2: "COUNTRY"}  # every 7th span relabelled, every 11th widened or dropped
    predicted: list[list[Span]] = []
    for sentence in sentences:
        spans = []
        for k, span in enumerate(sentence.spans):
            if k % 11 == 5:
                if span.end < len(sentence.tokens) and k + 1 == len(sentence.spans):
                    spans.append(Span(span.start, span.end + 1, span.label))
                continue
            spans.append(Span(span.start, span.end, wrong[k % 3]) if k % 7 == 3 else span)
        predicted.append(spans)
    predictions = [Prediction(s.id, s.text, tuple(p)) for s, p in zip(sentences, predicted)]
    offsets, at = [], 0
    for sentence in sentences:
        offsets.append(at)
        at += len(sentence.tokens)
    joined_spans = tuple(Span(s.start + o, s.end + o, s.label) for p, o in zip(predicted, offsets) for s in p)
    scorers = [SeqevalScorer(LABELS), NervaluateScorer(LABELS), PaperScorer(LABELS), ErrorBreakdown(LABELS)]
    apart = [scorer.score(sentences, predictions) for scorer in scorers]
    together = [scorer.score([long], [Prediction("long:1", long.text, joined_spans)]) for scorer in scorers]
    assert apart[0]["micro"]["precision"] < 0.95  # the damage is there to be counted
    assert _counts(apart) == _counts(together)


@pytest.mark.slow
def test_a_perfect_100000_token_output_parses_and_scores_in_seconds(conll: Path) -> None:
    sentence = joined(read_conll(conll / "eng.train"), 100_000)
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    began = time.perf_counter()
    for output in (formatter.render(sentence.tokens, sentence.spans),):
        for text in (output, damaged(output)):
            prediction = Prediction.from_parse("long:1", text, formatter.parse(text, sentence.tokens))
            for scorer in (SeqevalScorer(LABELS), NervaluateScorer(LABELS), PaperScorer(LABELS), ErrorBreakdown(LABELS)):
                scorer.score([sentence], [prediction])
    assert time.perf_counter() - began < 120  # was 112 s for the perfect output alone, and forever damaged
