"""The hooks a plugin module implements. Each hook receives ``register(cls)``.

A plugin is a module named by an entry point in the ``ner_toolkit`` group::

    [project.entry-points.ner_toolkit]
    my_format = "my_package.my_format"

and that module implements one or more hooks::

    from ner_toolkit import hookimpl

    @hookimpl
    def register_formats(register):
        register(MyFormat)
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("ner_toolkit")
hookimpl = pluggy.HookimplMarker("ner_toolkit")


@hookspec
def register_formats(register: Callable[[type], None]) -> None:
    """Register Formatter subclasses: output formats that render targets and parse outputs."""


@hookspec
def register_trainers(register: Callable[[type], None]) -> None:
    """Register Trainer subclasses: fine-tuning backends."""


@hookspec
def register_predictors(register: Callable[[type], None]) -> None:
    """Register Predictor subclasses: generation backends for trained models."""


@hookspec
def register_scorers(register: Callable[[type], None]) -> None:
    """Register Scorer subclasses: metrics over gold sentences and predictions."""
