"""The core's layers import one way: vocabulary <- corpus/ <- run/ <- tagging/ <- cli.py, and the base import stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ner_toolkit

PACKAGE = Path(ner_toolkit.__file__).parent
LAYERS = ["vocabulary", "corpus", "run", "tagging", "cli"]


def layer_of(module: str) -> str:
    """``ner_toolkit.run.pipeline`` -> ``run``; a top-level module is the vocabulary (``cli`` is its own layer)."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ("corpus", "run", "tagging", "cli"):
        return parts[1]
    return "vocabulary"


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every ``ner_toolkit`` module a source file imports (relative imports resolved), with its line."""
    module = "ner_toolkit." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names] if not node.module else [target]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("ner_toolkit")]


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name not in ("__main__.py",))


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_layer_and_those_above(path: Path) -> None:
    own = layer_of("ner_toolkit." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    for line, name in imports_of(path):
        target = layer_of(name)
        if path == PACKAGE / "__init__.py" and name.startswith("ner_toolkit.corpus.conll"):
            continue  # the package re-exports the CoNLL reader as vocabulary (read_conll)
        if path == PACKAGE / "__init__.py" and name.startswith("ner_toolkit.tagging"):
            continue  # Tagger, Document and Entity: resolved on first use, never at import
        assert LAYERS.index(target) <= LAYERS.index(own), f"{path.relative_to(PACKAGE)}:{line} imports {name} ({target}, below {own})"


def test_the_base_import_loads_no_run_or_tagging_layer_and_tagger_loads_on_first_use() -> None:
    code = (
        "import sys, ner_toolkit\n"
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('ner_toolkit.')}))\n"
        "from ner_toolkit import Tagger\n"
        "print(Tagger.__module__, 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, tagger = result.stdout.splitlines()
    assert "run" not in loaded and "tagging" not in loaded and "corpus" in loaded
    assert tagger == "ner_toolkit.tagging.tagger False"


def test_the_rule_is_checked_on_something() -> None:
    """The layer test above reads real imports: a run module's imports of the vocabulary and corpus are found."""
    found = {name for _, name in imports_of(PACKAGE / "run" / "pipeline.py")}
    assert {"ner_toolkit.interfaces", "ner_toolkit.run.folder", "ner_toolkit.plugins"} <= found
