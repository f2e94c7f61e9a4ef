"""The predictions file: one JSON line per sentence with its raw output, spans (with their scores, when scored) and diagnostics.

Lines are appended as predictions are parsed, so a killed run loses at most the line it
was writing; ``read_predictions`` cuts off such a torn last line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..interfaces import Diagnostic, Mention, Prediction
from ..spans import Span


def prediction_to_json(prediction: Prediction) -> dict[str, Any]:
    return {
        "id": prediction.sentence_id,
        "output": prediction.output,
        "spans": [[s.start, s.end, s.label] for s in prediction.spans],
        "diagnostics": [[d.kind, d.message] for d in prediction.diagnostics],
        "mentions": [[m.text, m.label] for m in prediction.mentions],
        "copied_input": prediction.copied_input,
        **({"scores": list(prediction.scores)} if prediction.scores else {}),
    }


def prediction_from_json(record: dict[str, Any]) -> Prediction:
    return Prediction(
        record["id"],
        record["output"],
        tuple(Span(*span) for span in record["spans"]),
        tuple(Diagnostic(*d) for d in record["diagnostics"]),
        tuple(Mention(*m) for m in record["mentions"]),
        record["copied_input"],
        tuple(record.get("scores", ())),
    )


def prediction_line(prediction: Prediction) -> str:
    return json.dumps(prediction_to_json(prediction), ensure_ascii=False) + "\n"


def complete_lines(path: Path) -> list[bytes]:
    """The whole lines of a file appended to as work finishes; a torn last line (a killed run) is cut off the file."""
    if not path.exists():
        return []
    lines: list[bytes] = []
    good = 0
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            lines.append(raw)
            good += len(raw)
    if good != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good)
    return lines


def read_predictions(path: Path) -> dict[str, Prediction]:
    """Predictions already written, by sentence id. A torn last line (a killed run) is cut off."""
    done: dict[str, Prediction] = {}
    for number, raw in enumerate(complete_lines(path), start=1):
        try:
            prediction = prediction_from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a prediction record: {error}") from None
        done[prediction.sentence_id] = prediction
    return done
