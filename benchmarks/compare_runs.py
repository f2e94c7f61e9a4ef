"""Side-by-side figures of finished run folders: F1 overall and per type, error kinds, training and decoding speed.

    uv run python benchmarks/compare_runs.py NAME=RUN_FOLDER[:LOG] ... [--json OUT.json]

Reads each run's ``metrics/{dev,test}.json`` and ``model/train_metrics.json``; with a log of
``ner-toolkit run`` (``:LOG``), also its decoding rate per split.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

TYPES = ("PER", "ORG", "LOC", "MISC")
RATE = re.compile(r"predict: (\d+) sentences in ([\d.]+) s")


def summary(folder: Path, log: Path | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for split in ("dev", "test"):
        path = folder / "metrics" / f"{split}.json"
        if not path.is_file():
            continue
        metrics = json.loads(path.read_text(encoding="utf-8"))
        seqeval = metrics["seqeval"]
        errors = metrics["errors"]
        found[split] = {
            "sentences": metrics["counts"]["sentences"],
            "f1": seqeval["micro"]["f1"],
            "precision": seqeval["micro"]["precision"],
            "recall": seqeval["micro"]["recall"],
            "f1_by_type": {t: seqeval["per_type"][t]["f1"] for t in TYPES if t in seqeval["per_type"]},
            "errors": errors["totals"],
            "org_loc_confusions": errors["confusion"]["ORG"]["LOC"] + errors["confusion"]["LOC"]["ORG"],
            "unparsed_outputs": metrics["counts"]["unparsed_outputs"],
        }
    train = folder / "model" / "train_metrics.json"
    if train.is_file():
        trained = json.loads(train.read_text(encoding="utf-8"))
        found["train"] = {"seconds": trained["train_runtime"], "examples_per_s": trained["train_samples_per_second"],
                          "tokens": trained.get("num_tokens", 0)}
    if log is not None:
        rates = [(int(n), float(s)) for n, s in RATE.findall(log.read_text(encoding="utf-8", errors="replace"))]
        found["decode"] = [{"sentences": n, "seconds": s, "sentences_per_s": n / s} for n, s in rates]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=FOLDER[:LOG]")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for item in args.runs:
        name, _, where = item.partition("=")
        folder, _, log = where.partition(":")
        results[name] = summary(Path(folder), Path(log) if log else None)
    header = ["run", "split", "F1", *TYPES, "type err", "ORG<->LOC", "boundary", "missed", "spurious"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " if i < 2 else " ---: " for i in range(len(header))) + "|")
    for name, found in results.items():
        for split in ("dev", "test"):
            if split not in found:
                continue
            s = found[split]
            e = s["errors"]
            cells = [name, f"{split} ({s['sentences']})", f"{s['f1']:.4f}", *(f"{s['f1_by_type'].get(t, 0):.4f}" for t in TYPES),
                     str(e["type"]), str(s["org_loc_confusions"]), str(e["boundary"] + e["boundary_and_type"]),
                     str(e["missed"]), str(e["spurious"])]
            print("| " + " | ".join(cells) + " |")
    print()
    for name, found in results.items():
        train = found.get("train", {})
        rates = ", ".join(f"{d['sentences']} sentences at {d['sentences_per_s']:.1f}/s" for d in found.get("decode", []))
        print(f"{name}: training {train.get('seconds', 0):.0f} s ({train.get('examples_per_s', 0):.1f} examples/s, "
              f"{train.get('tokens', 0):.0f} tokens); decoding {rates or 'not logged'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
