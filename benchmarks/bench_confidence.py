"""Entity scores of a trained run: how well they are calibrated, and what computing them costs.

The run's model and predictor settings (the quickstart: speculative copying, batch 16)
decode the first N eng.testb sentences with ``entity_scores`` on and off, in one process
with one loaded model per setting, alternating which goes first over the rounds; the
fastest round of each is reported, with the check that both gave the same outputs. The
scored predictions go through the ``calibration`` scorer (ECE, reliability, precision at
50/80/90% recall) and ``seqeval``.

    OMP_NUM_THREADS=2 uv run python benchmarks/bench_confidence.py --run runs/quickstart --json benchmarks/confidence.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from ner_toolkit import Tagger, plugins, read_conll

REPO = Path(__file__).resolve().parents[1]


def decode(run: Path, sentences: list, scored: bool, threads: int) -> tuple[float, dict[int, Any]]:
    """Seconds to predict ``sentences`` with the run's predictor (model loaded beforehand), and the predictions by index."""
    with Tagger.load(run, entity_scores=scored, threads=threads) as tagger:
        began = time.perf_counter()
        found = dict(tagger.predictor.predict(sentences))
        return time.perf_counter() - began, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "quickstart")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))
    sentences = read_conll(folder / "eng.testb")[: args.sentences]
    timings: dict[str, list[float]] = {"on": [], "off": []}
    outputs: dict[str, dict[int, Any]] = {}
    for round_ in range(args.rounds):
        for setting in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
            seconds, found = decode(args.run, sentences, setting == "on", args.threads)
            timings[setting].append(seconds)
            outputs[setting] = found
            print(f"round {round_ + 1}, scores {setting}: {seconds:.1f} s", flush=True)
    on, off = outputs["on"], outputs["off"]
    same = all(on[i].output == off[i].output for i in range(len(sentences)))
    predictions = [on[i] for i in range(len(sentences))]
    labels = ["ORG", "PER", "LOC", "MISC"]
    calibration = plugins.get_scorer("calibration")(labels).score(sentences, predictions)
    seqeval = plugins.get_scorer("seqeval")(labels).score(sentences, predictions)["micro"]
    best = {setting: min(values) for setting, values in timings.items()}
    result = {
        "run": str(args.run), "sentences": len(sentences), "threads": args.threads,
        "seconds": timings, "best_seconds": best, "scores_on_over_off": best["on"] / best["off"],
        "same_outputs": same, "seqeval_micro": seqeval, "calibration": calibration,
    }
    print(f"same outputs with scores on and off: {same}; best {best['on']:.1f} s on, {best['off']:.1f} s off "
          f"({best['on'] / best['off']:.3f} times)")
    print(f"seqeval F1 {seqeval['f1']:.4f}; ECE {calibration['ece']:.4f} over {calibration['scored_entities']} scored entities")
    print(plugins.get_scorer("calibration")(labels).markdown(calibration))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
