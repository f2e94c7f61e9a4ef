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
as ``metrics.json``, ``report.md``, ``report.html`` and ``predictions.jsonl`` (parsed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click

from . import plugins
from .conll import CoNLLFormatError, read_conll
from .interfaces import Formatter, Prediction, Scorer
from .labels import CONLL2003_LABELS, Label
from .pipeline import load_split, prediction_to_json, score
from .reports import html_report, markdown_report, write_json
from .recipe import RecipeError, load_recipe, validate_components
from .schemes import Scheme
from .spans import Sentence

Layout = Literal["auto", "jsonl", "llamafactory"]
LAYOUTS: tuple[Layout, ...] = ("auto", "jsonl", "llamafactory")
DEFAULT_SCORERS = ("seqeval", "nervaluate", "paper", "errors")


class EvaluateError(ValueError):
    """Outputs that cannot be matched to the gold sentences; the message names file and line."""


@dataclass(frozen=True)
class Output:
    """One raw model output as read: its line in the file, the text, and id or reference if given."""

    line: int
    text: str
    id: str | None = None
    reference: str | None = None


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
            return Output(number, str(record["predict"]), None, reference if isinstance(reference, str) else None)
        if "output" in record and layout != "llamafactory":
            sentence_id = record.get("id")
            if sentence_id is not None and not isinstance(sentence_id, str):
                raise EvaluateError(f"{source}:{number}: id must be a string, not {sentence_id!r}")
            return Output(number, str(record["output"]), sentence_id)
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
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise EvaluateError(f"{source}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise EvaluateError(f"{source}: not UTF-8 text: {error}") from None
    return [_record(source, number, raw, layout) for number, raw in enumerate(lines, start=1) if raw.strip()]


def match_outputs(outputs: Sequence[Output], gold: Sequence[Sentence], source: str) -> list[Output]:
    """The outputs in gold order: by id when the file has ids, else by position (counts must agree)."""
    with_id = [o for o in outputs if o.id is not None]
    if not with_id:
        if len(outputs) != len(gold):
            hint = ""
            docstarts = sum(1 for s in gold if s.is_docstart)
            if docstarts and len(outputs) == len(gold) - docstarts:
                hint = " (the gold counts -DOCSTART- lines as sentences; try --docstart skip)"
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


def evaluate_outputs(
    path: Path, gold: Sequence[Sentence], formatter: Formatter, scorers: Sequence[Scorer], layout: Layout = "auto"
) -> tuple[list[Prediction], dict[str, Any], list[Output]]:
    """Read, match, parse and score; return the predictions, the results and reference mismatches."""
    outputs = match_outputs(read_outputs(path, layout), gold, str(path))
    predictions = parse_outputs(formatter, gold, outputs)
    return predictions, score(scorers, gold, predictions), reference_mismatches(formatter, gold, outputs)


def write_reports(
    folder: Path,
    title: str,
    scorers: Sequence[Scorer],
    results: dict[str, Any],
    predictions: Sequence[Prediction],
    with_html: bool = True,
) -> list[Path]:
    """Write metrics.json, report.md, predictions.jsonl and (optionally) report.html into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "metrics.json", results)
    (folder / "report.md").write_text(markdown_report(title, scorers, results), encoding="utf-8")
    with (folder / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for prediction in predictions:
            handle.write(json.dumps(prediction_to_json(prediction), ensure_ascii=False) + "\n")
    written = [folder / "metrics.json", folder / "report.md", folder / "predictions.jsonl"]
    if with_html:
        (folder / "report.html").write_text(html_report(title, scorers, results), encoding="utf-8")
        written.append(folder / "report.html")
    return written


def _labels(names: str | None) -> list[Label]:
    if names is None:
        return list(CONLL2003_LABELS)
    known = {label.name: label for label in CONLL2003_LABELS}
    return [known.get(name, Label(name)) for name in (n.strip() for n in names.split(",")) if name]


@click.command()
@click.argument("outputs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Gold CoNLL file. [default: the recipe's SPLIT file]")
@click.option("--recipe", "recipe_path", type=click.Path(path_type=Path),
              help="Take the format (with options), labels, scorers and data settings from this recipe.")
@click.option("--split", type=click.Choice(["test", "dev", "train"]), default="test", show_default=True,
              help="Which of the recipe's files is the gold, when --gold is not given.")
@click.option("--format", "format_name", help="Output format plugin that parses the outputs. [default: the recipe's, else bracketed]")
@click.option("--labels", help="Comma-separated label set, e.g. PER,LOC. [default: the recipe's, else ORG,PER,LOC,MISC]")
@click.option("--scorer", "scorer_names", multiple=True,
              help=f"Scorer plugin (repeatable). [default: the recipe's, else {', '.join(DEFAULT_SCORERS)}]")
@click.option("--layout", type=click.Choice(LAYOUTS), default="auto", show_default=True,
              help="jsonl: {\"output\", \"id\"?} per line; llamafactory: generated_predictions.jsonl; auto: by the fields.")
@click.option("--scheme", type=click.Choice([s.value for s in Scheme]), help="Tag scheme of --gold. [default: the recipe's, else IOB1]")
@click.option("--docstart", type=click.Choice(["skip", "keep"]),
              help="Whether -DOCSTART- lines count as sentences with an output each. [default: the recipe's, else skip]")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for metrics.json, report.md, report.html, predictions.jsonl. [default: OUTPUTS without suffix + '.eval']")
@click.option("--html/--no-html", "with_html", default=True, show_default=True, help="Also write report.html.")
@click.option("--title", help="Report title. [default: the outputs file name]")
def evaluate(
    outputs: Path,
    gold: Path | None,
    recipe_path: Path | None,
    split: str,
    format_name: str | None,
    labels: str | None,
    scorer_names: tuple[str, ...],
    layout: Layout,
    scheme: str | None,
    docstart: str | None,
    output_dir: Path | None,
    with_html: bool,
    title: str | None,
) -> None:
    """Score existing model OUTPUTS (JSON Lines) against a gold CoNLL file; nothing is trained.

    OUTPUTS holds one model output per gold sentence: either {"output": ..., "id": ...}
    per line (the id, e.g. eng.testb:12, is optional; without it lines follow the gold
    file's order) or LLaMA-Factory's generated_predictions.jsonl ({"predict", "label"}).

    \b
    Examples:
      ner-toolkit evaluate preds.jsonl --gold eng.testb --format bracketed
      ner-toolkit evaluate generated_predictions.jsonl --recipe recipes/qwen.yaml
    """
    try:
        recipe = None
        if recipe_path is not None:
            recipe = load_recipe(recipe_path)
            validate_components(recipe, str(recipe_path))
        label_set = _labels(labels) if labels is not None or recipe is None else recipe.label_set()
        if gold is not None:
            data = recipe.data if recipe else None
            sentences = read_conll(
                gold,
                scheme or (data.scheme if data else Scheme.IOB1),
                data.tag_column if data else -1,
                docstart or (data.docstart if data else "skip"),  # type: ignore[arg-type]
            )
        elif recipe is not None and recipe.data.path(split) is not None:
            overrides = {key: value for key, value in {"scheme": scheme, "docstart": docstart}.items() if value}
            data = recipe.data.model_copy(update=overrides)
            sentences = load_split(recipe.model_copy(update={"data": data}), split)
        else:
            raise click.UsageError("give the gold file with --gold, or a recipe whose data names the split")
        format_options = recipe.format.options if recipe and not format_name else {}
        instruction = recipe.format.instruction if recipe and not format_name else None
        formatter = plugins.get_formatter(format_name or (recipe.format.name if recipe else "bracketed"))(
            label_set, instruction=instruction, **format_options
        )
        names = [label.name for label in label_set]
        if scorer_names or recipe is None:
            scorers = [plugins.get_scorer(name)(names) for name in scorer_names or DEFAULT_SCORERS]
        else:
            scorers = [plugins.get_scorer(s.name)(names, **s.options) for s in recipe.scorers]
        predictions, results, mismatched = evaluate_outputs(outputs, sentences, formatter, scorers, layout)
    except (EvaluateError, RecipeError, CoNLLFormatError, plugins.PluginError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    if mismatched:
        click.echo(
            f"warning: {len(mismatched)} of {len(sentences)} reference targets ('label') differ from the gold "
            f"rendered as {formatter.name}, first on {outputs}:{mismatched[0].line}; is the file in gold order?",
            err=True,
        )
    folder = output_dir or outputs.with_suffix(".eval")
    written = write_reports(folder, title or outputs.name, scorers, results, predictions, with_html)
    for line in summary_lines(results):
        click.echo(line)
    click.echo("wrote " + ", ".join(str(path) for path in written))


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
