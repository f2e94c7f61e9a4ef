"""The ``ner-toolkit`` command line."""

from __future__ import annotations

from pathlib import Path

import click

from . import plugins
from .conll import CoNLLFormatError, corpus_stats
from .evaluate import evaluate
from .recipe import RecipeError, load_recipe, validate_components
from .schemes import Scheme

SET_HELP = "Override a recipe field, e.g. --set output_dir=runs/x --set data.limit.test=50 (repeatable)."


def _load(recipe_path: Path, overrides: tuple[str, ...]):
    try:
        recipe = load_recipe(recipe_path, overrides)
        validate_components(recipe, str(recipe_path))
    except (RecipeError, plugins.PluginError) as error:
        raise click.ClickException(str(error)) from None
    return recipe


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ner-toolkit-core")
def cli() -> None:
    """Named-entity recognition with fine-tuned generative LLMs.

    A recipe (YAML) says which CoNLL files to read, which output format to render, how to
    fine-tune and decode, and how to score. Every stage is a plugin: see `plugins`.
    """


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
def run(recipe_path: Path, overrides: tuple[str, ...]) -> None:
    """Run RECIPE end to end: read, render, train, predict, parse, score, report.

    Results go to the recipe's output_dir; run it again to resume an interrupted run.
    """
    from .pipeline import run as run_pipeline

    recipe = _load(recipe_path, overrides)
    try:
        results = run_pipeline(recipe)
    except (CoNLLFormatError, OSError, ValueError, plugins.PluginError) as error:
        raise click.ClickException(str(error)) from None
    for split, result in results.items():
        seqeval = result.get("seqeval", {}).get("micro", {})
        if seqeval:
            click.echo(f"{split}: seqeval strict micro P {seqeval['precision']:.4f} R {seqeval['recall']:.4f} F1 {seqeval['f1']:.4f}")


@cli.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Folder for the JSON files [default: OUTPUT_DIR/data].")
def render(recipe_path: Path, overrides: tuple[str, ...], output: Path | None) -> None:
    """Write RECIPE's splits as Alpaca JSON (instruction, input, output), ready for LLaMA-Factory."""
    from .pipeline import load_split, make_formatter, render_split, write_alpaca

    recipe = _load(recipe_path, overrides)
    folder = output or recipe.output_dir / "data"
    formatter = make_formatter(recipe)
    for split in ("train", "dev", "test"):
        if recipe.data.path(split) is None:
            continue
        try:
            examples = render_split(formatter, load_split(recipe, split))
        except (CoNLLFormatError, OSError) as error:
            raise click.ClickException(str(error)) from None
        write_alpaca(folder / f"{split}.json", examples)
        click.echo(f"{split}: {len(examples)} examples -> {folder / f'{split}.json'}")


cli.add_command(evaluate)


@cli.command(name="plugins")
def list_plugins() -> None:
    """List every plugin component with its kind and the distribution it came from."""
    try:
        found = plugins.components()
    except plugins.PluginError as error:
        raise click.ClickException(str(error)) from None
    rows = [(c.kind, c.name, c.distribution, c.plugin, c.cls.summary()) for c in found]
    headers = ("kind", "name", "distribution", "entry point", "summary")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(4)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scheme", type=click.Choice([s.value for s in Scheme]), default="IOB1", show_default=True)
@click.option("--tag-column", type=int, default=-1, show_default=True, help="Label column; negative counts from the right.")
def stats(files: tuple[Path, ...], scheme: str, tag_column: int) -> None:
    """Count documents, sentences, tokens, entities and tags of CoNLL FILES."""
    for path in files:
        try:
            s = corpus_stats(path, scheme, tag_column)
        except CoNLLFormatError as error:
            raise click.ClickException(str(error)) from None
        entities = sum(s.entities.values())
        click.echo(f"{path}")
        click.echo(f"  documents  {s.documents:,}")
        click.echo(f"  sentences  {s.sentences:,}  ({s.sentences_with_docstart:,} counting each -DOCSTART- as a sentence)")
        click.echo(f"  tokens     {s.tokens:,}  ({s.tokens_with_docstart:,} counting -DOCSTART- tokens)")
        click.echo(f"  entities   {entities:,}  " + "  ".join(f"{label} {n:,}" for label, n in sorted(s.entities.items())))
        click.echo("  tags       " + "  ".join(f"{tag} {n:,}" for tag, n in sorted(s.tags.items(), key=lambda kv: -kv[1])))

