"""Every sentence of CoNLL-2003 train, dev and test round-trips exactly in every format."""

from __future__ import annotations

from pathlib import Path

import pytest
from ner_toolkit import CONLL2003_LABELS, Sentence, plugins, read_conll


@pytest.fixture(scope="module", params=["eng.train", "eng.testa", "eng.testb"])
def corpus(request: pytest.FixtureRequest, conll: Path) -> list[Sentence]:
    return read_conll(conll / request.param)


def test_every_sentence_round_trips(corpus: list[Sentence], format_name: str) -> None:
    formatter = plugins.get_formatter(format_name)(CONLL2003_LABELS)
    failures = []
    for sentence in corpus:
        result = formatter.parse(formatter.render(sentence.tokens, sentence.spans), sentence.tokens)
        if result.spans != tuple(sorted(sentence.spans)) or result.diagnostics or not result.copied_input:
            failures.append((sentence.id, result))
    assert failures == []
