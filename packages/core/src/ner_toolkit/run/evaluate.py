"""Scoring existing model outputs against a gold corpus file: the library half of ``ner-toolkit evaluate``.

Nothing is trained or generated. The outputs file is JSON Lines, one model output per
gold sentence, in one of two layouts:

- ``jsonl``: ``{"output": "...", "id": "eng.testb:12"}`` per line (``id`` optional; a bare
  JSON string is an output without an id). With ids, each must name a gold sentence and
  every gold sentence needs one; without ids, lines are taken in gold file order;
- ``llamafactory``: LLaMA-Factory's ``generated_predictions.jsonl``, ``{"prompt", "predict",
  "label"}`` per line in test-set order. ``label`` (the rendered gold target) is compared
  with the format's own rendering of the gold sentence, to catch a file in another order.

Each output is parsed with the format plugin, scored with the scorer plugins, and written
as ``metrics.json``, ``report.md``, ``report.html`` and ``predictions.jsonl`` (parsed), each
file atomically. Outputs the format could not read, and LLaMA-Factory references that
differ from the gold, are warnings in the report and in ``metrics.json``; past
``--max-unparsed`` of the outputs the command exits with status 1 (after writing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ..confidence import above
from ..interfaces import Formatter, Prediction, Scorer
from ..labels import label_set
from ..spans import Sentence
from ..textio import TextError, text_lines, write_text
from .predictions import prediction_line
from .recipe import ComponentConfig, DataConfig, Recipe, load_recipe, validate_components
from .reports import write_report
from .scoring import score

Layout = Literal["auto", "jsonl", "llamafactory"]
LAYOUTS: tuple[Layout, ...] = ("auto", "jsonl", "llamafactory")
DEFAULT_SCORERS = ("seqeval", "nervaluate", "paper", "errors", "calibration")
REPORT_FILES = ("metrics.json", "report.md", "report.html", "predictions.jsonl")


class EvaluateError(ValueError):
    """Outputs that cannot be matched to the gold sentences; the message names file and line."""


@dataclass(frozen=True)
class Output:
    """One raw model output as read: its line in the file, the text, and id or reference if given."""

    line: int
    text: str
    id: str | None = None
    reference: str | None = None
    scores: tuple[float, ...] = ()
    """The entities' scores a run's predictions file gives (``scores``), in the order its parse gives the spans."""


def _text(source: str, number: int, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise EvaluateError(f"{source}:{number}: '{field}' must be a string, not {json.dumps(value)[:60]}")
    return value


def _record(source: str, number: int, raw: str, layout: Layout) -> Output:
    try:
        record = json.loads(raw)
    except ValueError as error:
        raise EvaluateError(f"{source}:{number}: not JSON: {error}") from None
    if isinstance(record, str) and layout != "llamafactory":
        return Output(number, record)
    if isinstance(record, dict):
        if "predict" in record and layout != "jsonl":
            reference = record.get("label")
            return Output(number, _text(source, number, "predict", record["predict"]), None,
                          reference if isinstance(reference, str) else None)
        if "output" in record and layout != "llamafactory":
            sentence_id = record.get("id")
            if sentence_id is not None and not isinstance(sentence_id, str):
                raise EvaluateError(f"{source}:{number}: id must be a string, not {sentence_id!r}")
            scores = record.get("scores", [])
            if not (isinstance(scores, list) and all(isinstance(s, (int, float)) and 0 <= s <= 1 for s in scores)):
                raise EvaluateError(f"{source}:{number}: 'scores' must be a list of numbers between 0 and 1")
            return Output(number, _text(source, number, "output", record["output"]), sentence_id, None, tuple(scores))
    expected = {
        "auto": "an object with 'output' (and optionally 'id'), a JSON string, or LLaMA-Factory's 'predict'",
        "jsonl": "an object with 'output' (and optionally 'id') or a JSON string",
        "llamafactory": "an object with 'predict' (LLaMA-Factory's generated_predictions.jsonl)",
    }[layout]
    shown = raw.strip()
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise EvaluateError(f"{source}:{number}: expected {expected}; got {shown}")


def read_outputs(path: Path, layout: Layout = "auto") -> list[Output]:
    """Every output in ``path``, in file order; blank lines are skipped."""
    source = str(path)
    try:
        lines = list(text_lines(path.read_bytes(), source))
    except OSError as error:
        raise EvaluateError(f"{source}: cannot read: {error.strerror}") from None
    except TextError as error:
        raise EvaluateError(str(error)) from None
    return [_record(source, number, raw, layout) for number, raw in lines if raw.strip()]


def match_outputs(outputs: Sequence[Output], gold: Sequence[Sentence], source: str, limit: int | None = None) -> list[Output]:
    """The outputs in gold order: by id when the file has ids, else by position (counts must agree).

    ``limit`` is the recipe's cut of the gold split, named in the error when the counts differ by it.
    """
    with_id = [o for o in outputs if o.id is not None]
    if not with_id:
        if len(outputs) != len(gold):
            hint = ""
            docstarts = sum(1 for s in gold if s.is_docstart)
            if docstarts and len(outputs) == len(gold) - docstarts:
                hint = " (the gold counts -DOCSTART- lines as sentences; try --docstart skip)"
            elif limit and len(outputs) > len(gold) == limit:
                hint = f" (the recipe's data.limit keeps only the first {limit} gold sentences)"
            elif not docstarts and len(outputs) > len(gold):
                hint = " (if the outputs include -DOCSTART- lines, try --docstart keep)"
            raise EvaluateError(f"{source}: {len(outputs)} outputs for {len(gold)} gold sentences{hint}")
        return list(outputs)
    if len(with_id) != len(outputs):
        first = next(o for o in outputs if o.id is None)
        raise EvaluateError(f"{source}:{first.line}: output without an id, while other lines have one")
    known = {sentence.id for sentence in gold}
    by_id: dict[str, Output] = {}
    for output in outputs:
        assert output.id is not None
        if output.id not in known:
            example = gold[0].id if gold else "none"
            raise EvaluateError(f"{source}:{output.line}: unknown id {output.id!r} (gold ids look like {example!r})")
        if output.id in by_id:
            raise EvaluateError(f"{source}:{output.line}: id {output.id!r} again (first on line {by_id[output.id].line})")
        by_id[output.id] = output
    missing = [sentence.id for sentence in gold if sentence.id not in by_id]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:3])
        raise EvaluateError(f"{source}: no output for {len(missing)} of {len(gold)} gold sentences, e.g. {shown}")
    return [by_id[sentence.id] for sentence in gold]


def parse_outputs(
    formatter: Formatter, gold: Sequence[Sentence], outputs: Sequence[Output], min_score: float | None = None
) -> list[Prediction]:
    """Parse each output against the tokens of its gold sentence (formatters never raise); with its scores, and ``min_score`` applied.

    Scores belong to the spans their predictions file gave; where the parse gives another
    number of spans, the output has none.
    """
    predictions = []
    for sentence, output in zip(gold, outputs):
        prediction = formatter.prediction(sentence, output.text)
        if output.scores and len(output.scores) == len(prediction.spans):
            prediction = replace(prediction, scores=output.scores)
        predictions.append(prediction if min_score is None else above(prediction, min_score))
    return predictions


def reference_mismatches(formatter: Formatter, gold: Sequence[Sentence], outputs: Sequence[Output]) -> list[Output]:
    """Outputs whose stored reference (LLaMA-Factory's ``label``) is not the gold target in this format."""
    return [
        output
        for sentence, output in zip(gold, outputs)
        if output.reference is not None
        and output.reference.strip() != formatter.render(sentence.tokens, sentence.spans).strip()
    ]


def mismatch_warning(formatter: Formatter, mismatched: Sequence[Output], total: int, source: str) -> str:
    return (
        f"{len(mismatched)} of {total} reference targets ('label') differ from the gold rendered as "
        f"{formatter.name}, first on {source}:{mismatched[0].line}; is the file in gold order?"
    )


def evaluate_outputs(
    path: Path, gold: Sequence[Sentence], formatter: Formatter, scorers: Sequence[Scorer], layout: Layout = "auto",
    limit: int | None = None, min_score: float | None = None,
) -> tuple[list[Prediction], dict[str, Any]]:
    """Read, match, parse and score (leaving out entities scored below ``min_score``); the results carry ``warnings`` when the score is not to be trusted."""
    outputs = match_outputs(read_outputs(path, layout), gold, str(path), limit)
    predictions = parse_outputs(formatter, gold, outputs, min_score)
    results = score(scorers, gold, predictions)
    if min_score is not None and not any(output.scores for output in outputs):
        results["warnings"].append(f"--min-score {min_score:g} left every entity in: {path} holds no entity scores")
    mismatched = reference_mismatches(formatter, gold, outputs)
    results["counts"]["reference_mismatches"] = len(mismatched)
    if mismatched:
        results["warnings"].append(mismatch_warning(formatter, mismatched, len(gold), str(path)))
    return predictions, results


def write_reports(
    folder: Path,
    title: str,
    scorers: Sequence[Scorer],
    results: dict[str, Any],
    predictions: Sequence[Prediction],
    with_html: bool = True,
) -> list[Path]:
    """Write predictions.jsonl, report.md, (optionally) report.html and, last, metrics.json into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").unlink(missing_ok=True)
    write_text(folder / "predictions.jsonl", "".join(prediction_line(p) for p in predictions))
    if not with_html:
        (folder / "report.html").unlink(missing_ok=True)
    written = write_report(folder / "metrics.json", folder / "report", title, scorers, results, with_html)
    return [*written, folder / "predictions.jsonl"]


def evaluation_recipe(
    recipe_path: Path | None, reader: str | None, format_name: str | None, labels: str | None, scorer_names: Sequence[str],
    scheme: str | None, docstart: str | None,
) -> Recipe:
    """The recipe evaluate works under: the given one (or defaults), with the command's flags applied."""
    if recipe_path is not None:
        recipe = load_recipe(recipe_path)  # validated below, once the command's flags are applied
    else:
        recipe = Recipe(data=DataConfig(), scorers=[ComponentConfig(name=name) for name in DEFAULT_SCORERS])
    update: dict[str, Any] = {}
    data = recipe.data
    if reader is not None and reader != data.reader.name:
        data = data.model_copy(update={"reader": ComponentConfig(name=reader)})
    options = {key: value for key, value in {"scheme": scheme, "docstart": docstart}.items() if value}
    if options:
        data = data.model_copy(update={"reader": ComponentConfig(name=data.reader.name, options={**data.reader.options, **options})})
    update["data"] = data
    if format_name is not None:
        update["format"] = recipe.format.model_copy(update={"name": format_name, "options": {}, "instruction": None})
    if labels is not None:
        update["labels"] = label_set(labels)
    if scorer_names:
        update["scorers"] = [ComponentConfig(name=name) for name in scorer_names]
    recipe = recipe.model_copy(update=update)
    validate_components(recipe, "command line" if recipe_path is None else str(recipe_path))
    return recipe


def summary_lines(results: dict[str, Any]) -> list[str]:
    """One line per headline number found in the results (seqeval, nervaluate strict, paper)."""
    lines = []
    for name, path in (("seqeval strict micro", ("seqeval", "micro")), ("nervaluate strict", ("nervaluate", "overall", "strict")),
                       ("paper multiset micro", ("paper", "micro"))):
        node: Any = results
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and "f1" in node:
            lines.append(f"{name}: P {node['precision']:.4f} R {node['recall']:.4f} F1 {node['f1']:.4f}")
    return lines
