"""Every test that takes ``format_name`` runs for each built-in format.

The ``conll`` fixture (CONLL2003_DIR, or shared/data/conll2003 beside the repository)
comes from the root conftest.
"""

from __future__ import annotations

import pytest

FORMATS = ("bracketed", "xml", "json-grouped", "json-occurrence", "json-offset")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "format_name" in metafunc.fixturenames:
        metafunc.parametrize("format_name", FORMATS)
