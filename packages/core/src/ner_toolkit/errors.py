"""How commands report an expected error: one line naming the file, line or field, or with ``--debug`` the traceback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

DEBUG_ENV = "NER_TOOLKIT_DEBUG"


def debugging() -> bool:
    """True under ``ner-toolkit --debug`` or ``NER_TOOLKIT_DEBUG=1``."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


@contextmanager
def reported(*errors: type[BaseException]) -> Iterator[None]:
    """Turn ``errors`` into a one-line message with exit status 1, unless debugging (then the traceback stays)."""
    try:
        yield
    except errors as error:
        if debugging():
            raise
        raise click.ClickException(str(error)) from None
