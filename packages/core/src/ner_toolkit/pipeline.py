"""The run: read data, render examples, train, predict, parse, score and report.

Every stage writes into the recipe's output folder as it goes and skips what is already
there, so a run that is stopped and started again resumes rather than redoes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from . import plugins
from .conll import read_conll
from .interfaces import Diagnostic, Example, Formatter, Mention, Prediction, Scorer
from .recipe import SPLITS, Recipe
from .reports import html_report, markdown_report, write_json
from .spans import Sentence, Span

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _silent(message: str) -> None:
    pass


def load_split(recipe: Recipe, split: str) -> list[Sentence]:
    """The sentences of one split, cut to the recipe's limit."""
    path = recipe.data.path(split)
    if path is None:
        return []
    sentences = read_conll(path, recipe.data.scheme, recipe.data.tag_column, recipe.data.docstart)  # type: ignore[arg-type]
    limit = recipe.data.limit.get(split)
    return sentences[:limit] if limit else sentences


def make_formatter(recipe: Recipe) -> Formatter:
    cls = plugins.get_formatter(recipe.format.name)
    return cls(recipe.label_set(), instruction=recipe.format.instruction, **recipe.format.options)


def make_scorers(recipe: Recipe) -> list[Scorer]:
    labels = [label.name for label in recipe.labels]
    return [plugins.get_scorer(s.name)(labels, **s.options) for s in recipe.scorers]


# --- predictions file -------------------------------------------------------------------


def prediction_to_json(prediction: Prediction) -> dict[str, Any]:
    return {
        "id": prediction.sentence_id,
        "output": prediction.output,
        "spans": [[s.start, s.end, s.label] for s in prediction.spans],
        "diagnostics": [[d.kind, d.message] for d in prediction.diagnostics],
        "mentions": [[m.text, m.label] for m in prediction.mentions],
        "copied_input": prediction.copied_input,
    }


def prediction_from_json(record: dict[str, Any]) -> Prediction:
    return Prediction(
        record["id"],
        record["output"],
        tuple(Span(*span) for span in record["spans"]),
        tuple(Diagnostic(*d) for d in record["diagnostics"]),
        tuple(Mention(*m) for m in record["mentions"]),
        record["copied_input"],
    )


def read_predictions(path: Path) -> dict[str, Prediction]:
    """Predictions already written, by sentence id. A torn last line (a killed run) is cut off."""
    if not path.exists():
        return {}
    done: dict[str, Prediction] = {}
    good_bytes = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                break  # the run was killed mid-line: drop it, it is regenerated
            try:
                prediction = prediction_from_json(json.loads(raw))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a prediction record: {error}") from None
            done[prediction.sentence_id] = prediction
            good_bytes += len(raw)
    if good_bytes != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good_bytes)
    return done


# --- stages -----------------------------------------------------------------------------


def render_split(formatter: Formatter, sentences: Sequence[Sentence]) -> list[Example]:
    """The examples of a split; a sentence the format cannot write is an error naming it."""
    examples = []
    for sentence in sentences:
        try:
            examples.append(formatter.example(sentence))
        except ValueError as error:
            raise ValueError(f"{sentence.id}: the {formatter.name} format cannot render this sentence: {error}") from None
    return examples


def write_alpaca(path: Path, examples: Sequence[Example]) -> None:
    """Write examples as an Alpaca JSON list (instruction, input, output), as LLaMA-Factory reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([e.to_alpaca() for e in examples], ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def predict_split(
    recipe: Recipe,
    formatter: Formatter,
    sentences: Sequence[Sentence],
    examples: Sequence[Example],
    path: Path,
    model_dir: Path | None,
    log: Log = _stderr,
) -> list[Prediction]:
    """Generate what ``path`` does not hold yet, appending each prediction as it is parsed."""
    assert recipe.predictor is not None and recipe.model is not None
    done = read_predictions(path)
    todo = [i for i, sentence in enumerate(sentences) if sentence.id not in done]
    began = time.perf_counter()
    if todo:
        log(f"predict: {len(todo)} of {len(sentences)} sentences to generate ({len(done)} already in {path})")
        predictor_cls = plugins.get_predictor(recipe.predictor.name)
        predictor = predictor_cls(recipe.model.spec(), model_dir, formatter, **recipe.predictor.options)
        path.parent.mkdir(parents=True, exist_ok=True)
        pending = [examples[i] for i in todo]
        with path.open("a", encoding="utf-8") as handle:
            for index, output in predictor.generate(pending):
                sentence = sentences[todo[index]]
                prediction = Prediction.from_parse(sentence.id, output, formatter.parse(output, sentence.tokens))
                handle.write(json.dumps(prediction_to_json(prediction), ensure_ascii=False) + "\n")
                handle.flush()
                done[sentence.id] = prediction
        seconds = time.perf_counter() - began
        log(f"predict: {len(todo)} sentences in {seconds:.1f} s ({len(todo) / seconds:.2f} sentences/s, model loading included)")
    missing = [s.id for s in sentences if s.id not in done]
    if missing:
        raise RuntimeError(f"predictor returned no output for {len(missing)} sentence(s), e.g. {missing[:3]}")
    return [done[s.id] for s in sentences]


def score(
    scorers: Sequence[Scorer], sentences: Sequence[Sentence], predictions: Sequence[Prediction]
) -> dict[str, Any]:
    """Every scorer's numbers plus the counts and parse diagnostics a report needs."""
    results: dict[str, Any] = {"counts": counts(sentences, predictions)}
    for scorer in scorers:
        results[scorer.name] = scorer.score(sentences, predictions)
    return results


def counts(sentences: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
    gold: dict[str, int] = {}
    predicted: dict[str, int] = {}
    diagnostics: dict[str, int] = {}
    for sentence, prediction in zip(sentences, predictions):
        for span in sentence.spans:
            gold[span.label] = gold.get(span.label, 0) + 1
        for span in prediction.spans:
            predicted[span.label] = predicted.get(span.label, 0) + 1
        for diagnostic in prediction.diagnostics:
            diagnostics[diagnostic.kind] = diagnostics.get(diagnostic.kind, 0) + 1
    return {
        "sentences": len(sentences),
        "tokens": sum(len(s.tokens) for s in sentences),
        "gold_entities": dict(sorted(gold.items())),
        "predicted_entities": dict(sorted(predicted.items())),
        "sentences_with_diagnostics": sum(1 for p in predictions if p.diagnostics),
        "diagnostics": dict(sorted(diagnostics.items())),
    }


def manifest(recipe: Recipe) -> dict[str, Any]:
    """Package versions, data file hashes and the git commit: what a result depends on."""
    versions = {}
    for name in ("ner-toolkit-core", "ner-toolkit-formats", "ner-toolkit-metrics", "ner-toolkit-trainers",
                 "torch", "transformers", "peft", "trl", "accelerate", "seqeval", "nervaluate", "pluggy", "pydantic"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    data = {}
    for split in SPLITS:
        path = recipe.data.path(split)
        if path is not None and path.exists():
            data[split] = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"python": sys.version.split()[0], "packages": versions, "data": data, "git_commit": commit or None}


def is_main_process() -> bool:
    """False in the extra processes of a data-parallel launch (``accelerate launch``, torchrun)."""
    return os.environ.get("RANK", "0") == "0"


def run(recipe: Recipe, log: Log = _stderr) -> dict[str, Any]:
    """Run every stage the recipe asks for; return the metrics by split.

    Under a data-parallel launch every process trains; only the main one writes files,
    predicts and scores.
    """
    out = recipe.output_dir
    main = is_main_process()
    if not main:
        log = _silent
    out.mkdir(parents=True, exist_ok=True)
    if main:
        (out / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
        write_json(out / "manifest.json", manifest(recipe))

    started = time.perf_counter()
    splits = {split: load_split(recipe, split) for split in SPLITS}
    log("read: " + ", ".join(f"{split} {len(s)} sentences" for split, s in splits.items() if recipe.data.path(split)))

    formatter = make_formatter(recipe)
    examples = {split: render_split(formatter, sentences) for split, sentences in splits.items()}
    for split, split_examples in examples.items():
        if split_examples and main:
            write_alpaca(out / "data" / f"{split}.json", split_examples)
    log(f"render: {recipe.format.name} examples in {out / 'data'}")

    model_dir: Path | None = None
    if recipe.trainer is not None:
        assert recipe.model is not None
        done_marker = out / "model" / "trained.json"
        if done_marker.exists():
            model_dir = Path(json.loads(done_marker.read_text())["path"])
            log(f"train: done already ({model_dir})")
        else:
            trainer = plugins.get_trainer(recipe.trainer.name)(**recipe.trainer.options)
            log(f"train: {recipe.trainer.name} on {len(examples['train'])} examples")
            began = time.perf_counter()
            model_dir = trainer.train(recipe.model.spec(), examples["train"], out / "model", examples["dev"])
            if main:
                seconds = time.perf_counter() - began
                write_json(done_marker, {"path": str(model_dir), "seconds": round(seconds, 1)})

    results: dict[str, Any] = {}
    if not main:
        return results
    if recipe.predictor is None:
        log("predict: no predictor in the recipe; stopping after render")
        return results
    scorers = make_scorers(recipe)
    for split in ("dev", "test"):
        if not splits[split]:
            continue
        predictions = predict_split(
            recipe, formatter, splits[split], examples[split], out / "predictions" / f"{split}.jsonl", model_dir, log
        )
        results[split] = score(scorers, splits[split], predictions)
        write_json(out / "metrics" / f"{split}.json", results[split])
        title = f"{recipe.name}: {split}"
        (out / "reports").mkdir(exist_ok=True)
        (out / "reports" / f"{split}.md").write_text(markdown_report(title, scorers, results[split]), encoding="utf-8")
        (out / "reports" / f"{split}.html").write_text(html_report(title, scorers, results[split]), encoding="utf-8")
        log(f"score: {split} report in {out / 'reports' / f'{split}.md'}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return results

