"""``python -m ner_toolkit``: the CLI, also what ``accelerate launch -m ner_toolkit`` runs."""

from .cli import cli

cli()
