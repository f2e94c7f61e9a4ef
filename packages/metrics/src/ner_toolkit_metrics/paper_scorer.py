"""The paper's own evaluation (Zhan et al. 2026): multiset matching per sentence. NOT token-aligned.

Per sentence, when the model output without its markup equals the input (the prediction's
``copied_input``), gold and predicted entities are compared as multisets of
``(label, start, end)``. Otherwise the output cannot be aligned to the input, and they are
compared as multisets of ``(label, entity text)``: the mentions as the model wrote them
against the gold tokens joined by spaces. Text is compared whitespace-insensitively by
default (all whitespace removed, Unicode NFC), so ``C$ 0.45`` matches the token ``C$0.45``.

True positives are the size of the multiset intersection; precision and recall are micro
averages over all sentences. The numbers stand beside the paper's table; they are not a
token-aligned metric (a mis-copied sentence can still score by text), so read them next to
seqeval, not instead of it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ner_toolkit import Prediction, Scorer, Sentence, hookimpl

from .html import HtmlSection
from .prepare import check_aligned
from .tables import table

_WHITESPACE = re.compile(r"\s+")


def prf(tp: int, predicted: int, gold: int) -> dict[str, float | int]:
    """Precision, recall and F1 from counts (0.0 where undefined), with the counts."""
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "predicted": predicted, "gold": gold}


class PaperScorer(HtmlSection, Scorer):
    """The paper's multiset match: (label, start, end) when the input was copied, else (label, text); not token-aligned."""

    name = "paper"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

        text_match: Literal["no-whitespace", "exact"] = "no-whitespace"
        """How entity texts are compared: with all whitespace removed (default) or exactly as written."""

    def normalise(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        return _WHITESPACE.sub("", text) if self.options.text_match == "no-whitespace" else text  # type: ignore[attr-defined]

    def score(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        check_aligned(gold, predictions)
        tp: Counter[str] = Counter()
        n_gold: Counter[str] = Counter()
        n_pred: Counter[str] = Counter()
        by_position = 0
        for sentence, prediction in zip(gold, predictions):
            true: Counter[tuple[Hashable, ...]]
            if prediction.copied_input:
                by_position += 1
                true = Counter((s.label, s.start, s.end) for s in sentence.spans)
                pred = Counter((s.label, s.start, s.end) for s in prediction.spans)
            else:
                true = Counter((s.label, self.normalise(sentence.span_text(s))) for s in sentence.spans)
                pred = Counter((m.label, self.normalise(m.text)) for m in prediction.mentions)
            for key, n in (true & pred).items():
                tp[key[0]] += n  # type: ignore[index]
            for key, n in true.items():
                n_gold[key[0]] += n  # type: ignore[index]
            for key, n in pred.items():
                n_pred[key[0]] += n  # type: ignore[index]
        labels = [*self.labels, *sorted((set(n_gold) | set(n_pred)) - set(self.labels))]
        return {
            "metric": "paper multiset match (not token-aligned)",
            "micro": prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values())),
            "per_type": {
                label: prf(tp[label], n_pred[label], n_gold[label]) for label in labels if n_gold[label] or n_pred[label]
            },
            "sentences_matched_by_position": by_position,
            "sentences_matched_by_text": len(gold) - by_position,
            "text_match": self.options.text_match,  # type: ignore[attr-defined]
        }

    def markdown(self, result: dict[str, Any]) -> str:
        lines = [
            "### paper: multiset match of Zhan et al. (not a token-aligned metric)",
            "",
            f"{result['sentences_matched_by_position']} sentences compared by (label, start, end) "
            f"(output copied the input), {result['sentences_matched_by_text']} by (label, text) "
            f"(text match: {result['text_match']}).",
            "",
        ]
        rows = [[label, r["precision"], r["recall"], r["f1"], r["tp"], r["predicted"], r["gold"]] for label, r in result["per_type"].items()]
        m = result["micro"]
        rows.append(["**micro avg**", m["precision"], m["recall"], m["f1"], m["tp"], m["predicted"], m["gold"]])
        lines += table(["entity", "precision", "recall", "f1", "matched", "predicted", "gold"], rows)
        return "\n".join(lines)


@hookimpl
def register_scorers(register):
    register(PaperScorer)
