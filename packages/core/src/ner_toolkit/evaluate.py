"""``ner-toolkit evaluate``: score existing model outputs against a gold CoNLL file.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click

from . import plugins
from .build import load_split, make_formatter, make_reader, make_scorers
from .conll import CoNLLFormatError
from .errors import reported
from .interfaces import Formatter, Prediction, Scorer
from .labels import CONLL2003_LABELS
from .predictions import prediction_line
from .recipe import ComponentConfig, DataConfig, LabelConfig, Recipe, RecipeError, load_recipe, validate_components
from .reports import write_report, write_text
from .schemes import Scheme
from .scoring import score
from .spans import Sentence

Layout = Literal["auto", "jsonl", "llamafactory"]
LAYOUTS: tuple[Layout, ...] = ("auto", "jsonl", "llamafactory")
DEFAULT_SCORERS = ("seqeval", "nervaluate", "paper", "errors")
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
            return Output(number, _text(source, number, "output", record["output"]), sentence_id)
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
        data = path.read_bytes()
    except OSError as error:
        raise EvaluateError(f"{source}: cannot read: {error.strerror}") from None
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as error:
        raise EvaluateError(f"{source}: not UTF-8 text (byte {error.start}: {data[error.start:error.start + 1]!r})") from None
    return [_record(source, number, raw, layout) for number, raw in enumerate(lines, start=1) if raw.strip()]


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


def parse_outputs(formatter: Formatter, gold: Sequence[Sentence], outputs: Sequence[Output]) -> list[Prediction]:
    """Parse each output against the tokens of its gold sentence (formatters never raise)."""
    return [
        Prediction.from_parse(sentence.id, output.text, formatter.parse(output.text, sentence.tokens))
        for sentence, output in zip(gold, outputs)
    ]


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
    limit: int | None = None,
) -> tuple[list[Prediction], dict[str, Any]]:
    """Read, match, parse and score; the results carry ``warnings`` when the score is not to be trusted."""
    outputs = match_outputs(read_outputs(path, layout), gold, str(path), limit)
    predictions = parse_outputs(formatter, gold, outputs)
    results = score(scorers, gold, predictions)
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


def _recipe(
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
        known = {label.name: label for label in CONLL2003_LABELS}
        names = [n.strip() for n in labels.split(",") if n.strip()]
        update["labels"] = [
            LabelConfig(name=n, gloss=known[n].gloss, description=known[n].description) if n in known else LabelConfig(name=n)
            for n in names
        ]
    if scorer_names:
        update["scorers"] = [ComponentConfig(name=name) for name in scorer_names]
    recipe = recipe.model_copy(update=update)
    validate_components(recipe, "command line" if recipe_path is None else str(recipe_path))
    return recipe


@click.command()
@click.argument("outputs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Gold corpus file. [default: the recipe's SPLIT file]")
@click.option("--recipe", "recipe_path", type=click.Path(path_type=Path),
              help="Take the reader, format (with options), labels, scorers and data settings from this recipe.")
@click.option("--split", type=click.Choice(["test", "dev", "train"]), default="test", show_default=True,
              help="Which of the recipe's files is the gold, when --gold is not given.")
@click.option("--reader", help="Reader plugin for the gold file, e.g. conll, jsonl. [default: the recipe's, else conll]")
@click.option("--format", "format_name", help="Output format plugin that parses the outputs. [default: the recipe's, else bracketed]")
@click.option("--labels", help="Comma-separated label set, e.g. PER,LOC. [default: the recipe's, else ORG,PER,LOC,MISC]")
@click.option("--scorer", "scorer_names", multiple=True,
              help=f"Scorer plugin (repeatable). [default: the recipe's, else {', '.join(DEFAULT_SCORERS)}]")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto", show_default=True,
              help="jsonl: {\"output\", \"id\"?} per line; llamafactory: generated_predictions.jsonl; auto: by the fields.")
@click.option("--scheme", type=click.Choice([s.value for s in Scheme]), help="Tag scheme of a CoNLL gold file. [default: the recipe's, else IOB1]")
@click.option("--docstart", type=click.Choice(["skip", "keep"]),
              help="Whether -DOCSTART- lines count as sentences with an output each. [default: the recipe's, else skip]")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for metrics.json, report.md, report.html, predictions.jsonl. [default: OUTPUTS without suffix + '.eval']")
@click.option("--html/--no-html", "with_html", default=True, show_default=True, help="Also write report.html.")
@click.option("--title", help="Report title. [default: the outputs file name]")
@click.option("--max-unparsed", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Exit with status 1 (after writing) when more than this share of outputs cannot be read, "
              "or of LLaMA-Factory references differ from the gold.")
def evaluate(
    outputs: Path,
    gold: Path | None,
    recipe_path: Path | None,
    split: str,
    reader: str | None,
    format_name: str | None,
    labels: str | None,
    scorer_names: tuple[str, ...],
    layout: Layout,
    scheme: str | None,
    docstart: str | None,
    output_dir: Path | None,
    with_html: bool,
    title: str | None,
    max_unparsed: float,
) -> None:
    """Score existing model OUTPUTS (JSON Lines) against a gold corpus file; nothing is trained.

    OUTPUTS holds one model output per gold sentence: either {"output": ..., "id": ...}
    per line (the id, e.g. eng.testb:12, is optional; without it lines follow the gold
    file's order) or LLaMA-Factory's generated_predictions.jsonl ({"predict", "label"}).

    \b
    Examples:
      ner-toolkit evaluate preds.jsonl --gold eng.testb --format bracketed
      ner-toolkit evaluate generated_predictions.jsonl --recipe recipes/qwen.yaml
    """
    folder = output_dir or outputs.with_suffix(".eval")
    for name in REPORT_FILES:
        if (folder / name).resolve() == outputs.resolve():
            raise click.ClickException(f"{outputs} is the outputs file and would be overwritten by {name}; choose another -o folder")
    with reported(EvaluateError, RecipeError, CoNLLFormatError, plugins.PluginError, ValueError, OSError):
        recipe = _recipe(recipe_path, reader, format_name, labels, scorer_names, scheme, docstart)
        limit = None
        if gold is not None:
            sentences = make_reader(recipe).read(gold)
        elif recipe_path is not None and recipe.data.path(split) is not None:
            sentences = load_split(recipe, split)
            limit = recipe.data.limit.get(split)
        else:
            raise click.UsageError("give the gold file with --gold, or a recipe whose data names the split")
        formatter = make_formatter(recipe)
        scorers = make_scorers(recipe)
        predictions, results = evaluate_outputs(outputs, sentences, formatter, scorers, layout, limit)
    for warning in results["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    written = write_reports(folder, title or outputs.name, scorers, results, predictions, with_html)
    for line in summary_lines(results):
        click.echo(line)
    click.echo("wrote " + ", ".join(str(path) for path in written))
    total = max(1, len(sentences))
    worst = max(results["counts"]["unparsed_outputs"], results["counts"]["reference_mismatches"]) / total
    if worst > max_unparsed:
        raise click.ClickException(
            f"{worst:.0%} of the outputs could not be read or are out of gold order (over --max-unparsed {max_unparsed:g}); "
            "the scores above are not to be trusted"
        )


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
