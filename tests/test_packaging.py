"""The base install is light: no torch stack, and `import ner_toolkit` pulls no numpy either."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft", "trl", "accelerate", "numpy", "sklearn", "scipy", "seqeval", "nervaluate")


def imported_heavy_modules(code: str) -> list[str]:
    script = f"{code}\nimport sys\nimport json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_importing_the_core_pulls_no_heavy_stack() -> None:
    assert imported_heavy_modules("import ner_toolkit") == []


def test_loading_every_plugin_pulls_no_heavy_stack() -> None:
    """Listing plugins imports every plugin module; their heavy imports wait until used."""
    assert imported_heavy_modules("from ner_toolkit import plugins\nassert len(plugins.components()) >= 10") == []


def test_importtime_shows_no_torch() -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ner_toolkit"], capture_output=True, text=True, check=True)
    modules = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "ner_toolkit" in modules
    assert not modules & set(HEAVY)


def test_wheels_install_with_pip_and_the_base_has_no_torch(tmp_path: Path) -> None:
    """Build every wheel, pip-install the base distribution into a fresh venv, run the CLI."""
    dist = tmp_path / "dist"
    subprocess.run(["uv", "build", "--all-packages", "--wheel", "-o", str(dist)], cwd=REPO, check=True, capture_output=True)
    wheels = sorted(p.name.split("-")[0] for p in dist.glob("*.whl"))
    assert wheels == ["ner_toolkit", "ner_toolkit_core", "ner_toolkit_example_format", "ner_toolkit_formats",
                      "ner_toolkit_metrics", "ner_toolkit_trainers"]
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--find-links", dist, "ner-toolkit"], check=True)
    listed = subprocess.run([python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True).stdout
    installed = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert {"ner-toolkit", "ner-toolkit-core", "ner-toolkit-formats", "ner-toolkit-metrics", "seqeval", "nervaluate"} <= installed
    assert not installed & {"torch", "transformers", "peft", "trl", "accelerate", "ner-toolkit-trainers"}
    cli = env_dir / "bin" / "ner-toolkit"
    plugins = subprocess.run([cli, "plugins"], capture_output=True, text=True, check=True).stdout
    assert "bracketed" in plugins and "seqeval" in plugins and "sft-lora" not in plugins
