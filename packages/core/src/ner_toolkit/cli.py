"""The ``ner-toolkit`` command line.

Errors are one line naming the file, line or field. With ``--debug`` (or
``NER_TOOLKIT_DEBUG=1``) an error keeps its whole traceback instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from . import plugins
from .corpus.conll import CoNLLFormatError, corpus_stats
from .errors import DEBUG_ENV, reported
from .run import evaluate as evaluate_lib
from .run.components import load_split, make_formatter, make_reader, make_scorers, read_sentences
from .run.evaluate import REPORT_FILES, evaluate_outputs, evaluation_recipe, summary_lines, write_reports
from .run.recipe import ComponentConfig, DataConfig, Recipe, RecipeError, check_paths, load_recipe, validate_components
from .schemes import Scheme

SET_HELP = "Override a recipe field, e.g. --set output_dir=runs/x --set data.limit.test=50 (repeatable)."
EXPECTED_ERRORS = (RecipeError, CoNLLFormatError, plugins.PluginError, OSError, ValueError)


def _load(recipe_path: Path, overrides: tuple[str, ...], paths: bool = True) -> Recipe:
    """Read and validate a recipe; print the warnings about settings that do nothing."""
    with reported(*EXPECTED_ERRORS):
        recipe = load_recipe(recipe_path, overrides)
        for warning in validate_components(recipe, str(recipe_path)):
            click.echo(f"warning: {warning}", err=True)
        if paths:
            check_paths(recipe, str(recipe_path))
    return recipe


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ner-toolkit-core")
@click.option("--debug", is_flag=True, help=f"Show the whole traceback of an error (also: {DEBUG_ENV}=1).")
def cli(debug: bool) -> None:
    """Named-entity recognition with fine-tuned generative LLMs.

    A recipe (YAML) says which corpus files to read, which output format to render, how to
    fine-tune and decode, and how to score. Every stage is a plugin: see `plugins`.
    """
    if debug:
        os.environ[DEBUG_ENV] = "1"


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("--fresh", is_flag=True, help="Remove what an earlier run wrote into output_dir and start over.")
def run(recipe_path: Path, overrides: tuple[str, ...], fresh: bool) -> None:
    """Run RECIPE end to end: read, render, train, predict, parse, score, report.

    Results go to the recipe's output_dir. Run it again to resume an interrupted run;
    stages whose inputs changed since (recipe fields, data files, plugin versions) are
    redone, with everything after them.
    """
    from .run.pipeline import run as run_pipeline

    recipe = _load(recipe_path, overrides)
    with reported(*EXPECTED_ERRORS, RuntimeError):
        results = run_pipeline(recipe, fresh=fresh)
    for split, result in results.items():
        for warning in result.get("warnings", []):
            click.echo(f"warning: {split}: {warning}", err=True)
        seqeval = result.get("seqeval", {}).get("micro", {})
        if seqeval:
            click.echo(f"{split}: seqeval strict micro P {seqeval['precision']:.4f} R {seqeval['recall']:.4f} F1 {seqeval['f1']:.4f}")


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Folder for the JSON files [default: OUTPUT_DIR/data].")
def render(recipe_path: Path, overrides: tuple[str, ...], output: Path | None) -> None:
    """Write RECIPE's splits as Alpaca JSON (instruction, input, output), ready for LLaMA-Factory."""
    from .run.components import nested_problem
    from .run.pipeline import render_splits, write_alpaca

    recipe = _load(recipe_path, overrides)
    folder = output or recipe.output_dir / "data"
    with reported(*EXPECTED_ERRORS):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is a file, not a folder")
        formatter = make_formatter(recipe)
        reader = make_reader(recipe)
        splits = {split: load_split(recipe, split, reader) for split in ("train", "dev", "test")}
        problem = nested_problem(formatter, splits)
        if problem:
            raise ValueError(f"{recipe_path}: {problem}")
        for split, examples in render_splits(recipe, formatter, splits).items():
            write_alpaca(folder / f"{split}.json", examples)
            click.echo(f"{split}: {len(examples)} examples -> {folder / f'{split}.json'}")


@cli.command()
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
              help=f"Scorer plugin (repeatable). [default: the recipe's, else {', '.join(evaluate_lib.DEFAULT_SCORERS)}]")
@click.option("--layout", type=click.Choice(evaluate_lib.LAYOUTS), default="auto", show_default=True,
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
@click.option("--min-score", type=click.FloatRange(0, 1),
              help="Leave out entities scored below this (the scores a run's predictions file holds): precision for recall.")
def evaluate(
    outputs: Path,
    gold: Path | None,
    recipe_path: Path | None,
    split: str,
    reader: str | None,
    format_name: str | None,
    labels: str | None,
    scorer_names: tuple[str, ...],
    layout: str,
    scheme: str | None,
    docstart: str | None,
    output_dir: Path | None,
    with_html: bool,
    title: str | None,
    max_unparsed: float,
    min_score: float | None,
) -> None:
    """Score existing model OUTPUTS (JSON Lines) against a gold corpus file; nothing is trained.

    OUTPUTS holds one model output per gold sentence: either {"output": ..., "id": ...}
    per line (the id, e.g. eng.testb:12, is optional; without it lines follow the gold
    file's order; a run's predictions file is such a file, with entity "scores" that
    --min-score reads) or LLaMA-Factory's generated_predictions.jsonl ({"predict", "label"}).

    \b
    Examples:
      ner-toolkit evaluate preds.jsonl --gold eng.testb --format bracketed
      ner-toolkit evaluate generated_predictions.jsonl --recipe recipes/qwen.yaml
    """
    folder = output_dir or outputs.with_suffix(".eval")
    for name in REPORT_FILES:
        if (folder / name).resolve() == outputs.resolve():
            raise click.ClickException(f"{outputs} is the outputs file and would be overwritten by {name}; choose another -o folder")
    with reported(*EXPECTED_ERRORS):
        recipe = evaluation_recipe(recipe_path, reader, format_name, labels, scorer_names, scheme, docstart)
        limit = None
        if gold is not None:
            sentences = read_sentences(recipe, gold, check_labels=False)
        elif recipe_path is not None and recipe.data.path(split) is not None:
            sentences = load_split(recipe, split, check_labels=False)
            limit = recipe.data.limit.get(split)
        else:
            raise click.UsageError("give the gold file with --gold, or a recipe whose data names the split")
        formatter = make_formatter(recipe)
        scorers = make_scorers(recipe)
        predictions, results = evaluate_outputs(outputs, sentences, formatter, scorers, layout, limit, min_score)  # type: ignore[arg-type]
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


@cli.command()
@click.argument("model", metavar="MODEL")
@click.option("-i", "--input", "input_path", default="-", show_default=True, help="Input file, or - for stdin.")
@click.option("-o", "--output", "output_path", default="-", show_default=True, help="Output file, or - for stdout.")
@click.option("--input-format", type=click.Choice(["text", "jsonl", "conll"]), default="text", show_default=True,
              help="text: a document per line; jsonl: {\"text\", \"id\"?} per line; conll: tokenized sentences.")
@click.option("--output-format", default="jsonl", show_default=True,
              help="A writer plugin: jsonl, conll, label-studio, prodigy, doccano, spacy (a .spacy DocBin), or one a plugin adds.")
@click.option("--resume", is_flag=True,
              help="Continue an output (jsonl) this command began on the same input with the same model and settings.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Sentences decoded together, across documents. [default: the run's]")
@click.option("--base", help="Base model of a PEFT adapter named by MODEL (when MODEL is not a run or export folder).")
@click.option("--format", "format_name", help="Output format the model answers in. [default: the run's]")
@click.option("--labels", help="Comma-separated labels, or conll2003. [default: the run's]")
@click.option("--tokenizer", default="regex", show_default=True, help="Tokenizer plugin for raw text.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True, help="Longer sentences are cut, with a warning.")
@click.option("--min-score", type=click.FloatRange(0, 1), help="Leave out entities the model scored below this (0 to 1).")
@click.option("--device", help="Device for the model, e.g. cpu, cuda:1. [default: a GPU when there is one]")
def predict(
    model: str, input_path: str, output_path: str, input_format: str, output_format: str, resume: bool, batch_size: int | None,
    base: str | None, format_name: str | None, labels: str | None, tokenizer: str, max_tokens: int, device: str | None,
    min_score: float | None,
) -> None:
    """Tag documents with MODEL: a run folder, an exported folder, or a model or adapter (folder or hub name).

    \b
    Examples:
      ner-toolkit predict runs/quickstart --input notes.txt --output entities.jsonl
      ner-toolkit predict runs/quickstart -i notes.txt -o review.json --output-format label-studio
      cat notes.txt | ner-toolkit predict runs/quickstart
      ner-toolkit predict adapter/ --base Qwen/Qwen2.5-7B --format bracketed --labels conll2003 -i docs.jsonl --input-format jsonl
    """
    import sys

    from .tagging.predict import InputError, predict as run_predict
    from .tagging.tagger import Tagger

    with reported(*EXPECTED_ERRORS, InputError):
        output = None if output_path == "-" else Path(output_path)
        if output is not None and input_path != "-" and output.resolve() == Path(input_path).resolve():
            raise InputError(f"{output} is the input file; write the output to another file")
        data = sys.stdin.buffer.read() if input_path == "-" else Path(input_path).read_bytes()
        options = {"device": device} if device else {}
        tagger = Tagger.load(model, base=base, format=format_name, labels=labels, tokenizer=tokenizer,
                             max_tokens=max_tokens, batch_size=batch_size, min_score=min_score, **options)
        try:
            counts = run_predict(tagger, "stdin" if input_path == "-" else input_path, data, output, input_format,  # type: ignore[arg-type]
                                 output_format, resume, model_version=model)
        finally:
            tagger.close()
    click.echo(
        f"tagged {counts['documents']} documents ({counts['skipped']} already done): {counts['sentences']} sentences, "
        f"{counts['entities']} entities; {counts['cut_sentences']} sentences cut at --max-tokens, "
        f"{counts['sentences_with_diagnostics']} with parse diagnostics",
        err=True,
    )


@cli.command()
@click.argument("model", metavar="MODEL")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--token", help="Require 'Authorization: Bearer TOKEN' on every request but /health (also: NER_TOOLKIT_TOKEN).")
@click.option("--max-batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Sentences decoded together, from the texts of concurrent requests.")
@click.option("--max-wait-ms", type=click.FloatRange(min=0), default=10.0, show_default=True, help="How long a batch waits for more requests.")
@click.option("--max-texts", type=click.IntRange(min=1), default=64, show_default=True, help="Texts one request may send.")
@click.option("--max-chars", type=click.IntRange(min=1), default=20_000, show_default=True, help="Characters one text may have.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Larger request bodies get 413.")
@click.option("--base", help="Base model of a PEFT adapter named by MODEL.")
@click.option("--format", "format_name", help="Output format the model answers in. [default: the run's]")
@click.option("--labels", help="Comma-separated labels, or conll2003. [default: the run's]")
@click.option("--device", help="Device for the model, e.g. cpu, cuda:1.")
def serve(
    model: str, host: str, port: int, token: str | None, max_batch_size: int, max_wait_ms: float, max_texts: int,
    max_chars: int, max_body_bytes: int, base: str | None, format_name: str | None, labels: str | None, device: str | None,
) -> None:
    """Serve MODEL (a run folder, an exported folder, or a model or adapter) over HTTP: POST /v1/tag.

    \b
    Example:
      ner-toolkit serve runs/quickstart --port 8000
      curl -s localhost:8000/v1/tag -H 'content-type: application/json' -d '{"text": "EU rejects German call"}'
    """
    from .tagging.serve import TOKEN_ENV, Limits, checked_token, serve as run_server
    from .tagging.tagger import Tagger

    with reported(*EXPECTED_ERRORS):
        token = checked_token(token if token is not None else os.environ.get(TOKEN_ENV))
        options: dict[str, object] = {"device": device} if device else {}
        tagger = Tagger.load(model, base=base, format=format_name, labels=labels, batch_size=max_batch_size, **options)
    limits = Limits(max_batch_size, max_wait_ms, max_texts, max_chars, max_body_bytes)
    run_server(tagger, host, port, limits, token)


@cli.command(name="export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option("--license", "license_", default="other", show_default=True, help="License in the model card, e.g. apache-2.0.")
@click.option("--dataset", help="Hub id of the training data for the model card, e.g. eriktks/conll2003.")
def export_command(run_dir: Path, out_dir: Path, license_: str, dataset: str | None) -> None:
    """Write RUN_DIR's trained model to OUT_DIR as a folder that `predict`, Tagger.load and a model hub take as it is.

    OUT_DIR/README.md is a model card: Hub metadata with the run's scores (model-index), the
    seqeval and nervaluate tables of each split, the recipe, and how to tag with the model.
    """
    from .tagging.export import export

    with reported(*EXPECTED_ERRORS):
        export(run_dir, out_dir, license_, dataset)
    click.echo(f"exported {run_dir} to {out_dir}")


@cli.command(name="plugins")
def list_plugins() -> None:
    """List every plugin component with its kind and the distribution it came from."""
    with reported(plugins.PluginError):
        found = plugins.components()
    rows = [(c.kind, c.name, c.distribution, c.plugin, c.cls.summary()) for c in found]
    headers = ("kind", "name", "distribution", "entry point", "summary")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reader", default="conll", show_default=True, help="Reader plugin of FILES (conll, jsonl, ...).")
@click.option("--scheme", type=click.Choice([s.value for s in Scheme]), default="IOB1", show_default=True,
              help="Tag scheme (conll reader).")
@click.option("--tag-column", type=int, default=-1, show_default=True, help="Label column; negative counts from the right (conll reader).")
def stats(files: tuple[Path, ...], reader: str, scheme: str, tag_column: int) -> None:
    """Count documents, sentences, tokens and entities of corpus FILES (and raw tags of CoNLL files)."""
    for path in files:
        click.echo(f"{path}")
        if reader == "conll":
            with reported(*EXPECTED_ERRORS):
                s = corpus_stats(path, scheme, tag_column)
            entities = sum(s.entities.values())
            click.echo(f"  documents  {s.documents:,}")
            click.echo(f"  sentences  {s.sentences:,}  ({s.sentences_with_docstart:,} counting each -DOCSTART- as a sentence)")
            click.echo(f"  tokens     {s.tokens:,}  ({s.tokens_with_docstart:,} counting -DOCSTART- tokens)")
            click.echo(f"  entities   {entities:,}  " + "  ".join(f"{label} {n:,}" for label, n in sorted(s.entities.items())))
            click.echo("  tags       " + "  ".join(f"{tag} {n:,}" for tag, n in sorted(s.tags.items(), key=lambda kv: -kv[1])))
            continue
        with reported(*EXPECTED_ERRORS):
            recipe = Recipe(data=DataConfig(reader=ComponentConfig(name=reader)))
            validate_components(recipe, "--reader")
            sentences = make_reader(recipe).read(path)
        labels: dict[str, int] = {}
        for sentence in sentences:
            for span in sentence.spans:
                labels[span.label] = labels.get(span.label, 0) + 1
        documents = {s.document_id for s in sentences if s.document_id is not None}
        click.echo(f"  documents  {len(documents):,}")
        click.echo(f"  sentences  {len(sentences):,}")
        click.echo(f"  tokens     {sum(len(s.tokens) for s in sentences):,}")
        click.echo(f"  entities   {sum(labels.values()):,}  " + "  ".join(f"{label} {n:,}" for label, n in sorted(labels.items())))
