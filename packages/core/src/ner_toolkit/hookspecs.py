"""The hooks a plugin module implements. Each hook receives ``register(cls)``.

A plugin is a module named by an entry point in the ``ner_toolkit`` group::

    [project.entry-points.ner_toolkit]
    my_format = "my_package.my_format"

and that module implements one or more hooks::

    from ner_toolkit import hookimpl

    @hookimpl
    def register_formats(register):
        register(MyFormat)

Every hook is called once per process, the first time a component is looked up (``ner-toolkit
plugins``, a recipe's validation), through pluggy's hook caller, so ``tryfirst``/``trylast``
marks and pluggy's tracing apply. A hook only calls ``register`` with classes: it must not
load models, read files or import heavy libraries (torch, transformers), because every
command, ``ner-toolkit evaluate`` included, loads every plugin. Import those inside the
methods that need them. A hook implementation whose name is not one of these is an error
naming the plugin, not silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("ner_toolkit")
hookimpl = pluggy.HookimplMarker("ner_toolkit")


@hookspec
def register_readers(register: Callable[[type], None]) -> None:
    """Register ``Reader`` subclasses: corpus files to sentences with gold spans (``data.reader``)."""


@hookspec
def register_tokenizers(register: Callable[[type], None]) -> None:
    """Register ``Tokenizer`` subclasses: raw text to tokens with character offsets (a reader's ``tokenizer`` option)."""


@hookspec
def register_splitters(register: Callable[[type], None]) -> None:
    """Register ``SentenceSplitter`` subclasses: raw text to sentences (a tokenizer's ``splitter`` option)."""


@hookspec
def register_formats(register: Callable[[type], None]) -> None:
    """Register ``Formatter`` subclasses: output formats that render targets and parse outputs (``format.name``)."""


@hookspec
def register_trainers(register: Callable[[type], None]) -> None:
    """Register ``Trainer`` subclasses: fine-tuning backends (``trainer.name``)."""


@hookspec
def register_predictors(register: Callable[[type], None]) -> None:
    """Register ``Predictor`` subclasses: generation backends for trained models (``predictor.name``)."""


@hookspec
def register_scorers(register: Callable[[type], None]) -> None:
    """Register ``Scorer`` subclasses: metrics over gold sentences and predictions (``scorers``)."""


@hookspec
def register_writers(register: Callable[[type], None]) -> None:
    """Register ``Writer`` subclasses: tagged documents to files other tools import (``predict --output-format``)."""
