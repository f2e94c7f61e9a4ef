"""Data-parallel prediction: the processes share the work the same way whenever each of them starts.

The processes of a launch are played by threads here, so that one can be held back until
another has written its predictions (the order a loaded CI machine produced).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from ner_toolkit import CONLL2003_LABELS, Example, Formatter, ModelSpec, Prediction, Predictor, Sentence, plugins, read_conll
from ner_toolkit.run.parallel import World, begin, shard_path, shards
from ner_toolkit.run.pipeline import predict_split, render_split
from ner_toolkit.run.predictions import prediction_line, read_predictions


class GoldPredictor(Predictor):
    """Answers every example with its gold output and records which examples it was given."""

    def __init__(self, formatter: Formatter) -> None:
        super().__init__(ModelSpec("gold"), None, formatter)
        self.seen: list[str] = []

    def generate(self, examples: Sequence[Example]) -> Iterator[tuple[int, str]]:
        for index, example in enumerate(examples):
            self.seen.append(example.id)
            yield index, example.output


def _predict(
    world: World, formatter: Formatter, sentences: Sequence[Sentence], examples: Sequence[Example], path: Path, log: list[str]
) -> list[str]:
    """One process's part of a split: meet the others, predict its share, and (main) merge."""
    predictor = GoldPredictor(formatter)
    order = [s.id for s in sentences]
    token = begin(path, world, "stage-key", order, timeout=60)
    predict_split(lambda: predictor, sentences, examples, path, log.append, world, token)
    return predictor.seen


def test_a_process_that_starts_after_another_has_written_still_predicts_its_share(conll: Path, tmp_path: Path) -> None:
    sentences = read_conll(conll / "eng.testb")[:3]
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    examples = render_split(formatter, sentences)
    path = tmp_path / "predictions" / "test.jsonl"
    seen: dict[int, list[str]] = {}
    log: list[str] = []

    def process(rank: int) -> None:
        if rank == 1:  # hold the second process back until the first has written its whole share
            deadline = time.monotonic() + 60
            while not (shard_path(path, 0).exists() and shard_path(path, 0).read_text().count("\n") == 2):
                assert time.monotonic() < deadline
                time.sleep(0.01)
        seen[rank] = _predict(World(rank, 2, "launch-1"), formatter, sentences, examples, path, log)

    threads = [threading.Thread(target=process, args=(rank,)) for rank in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert seen == {0: [sentences[0].id, sentences[2].id], 1: [sentences[1].id]}, log
    assert list(read_predictions(path)) == [s.id for s in sentences]
    assert shards(path) == []


def test_a_relaunch_shares_out_only_what_the_killed_launch_left(conll: Path, tmp_path: Path) -> None:
    """The main process merges the killed launch's shards before any process looks at what is left."""
    sentences = read_conll(conll / "eng.testb")[:5]
    formatter = plugins.get_formatter("bracketed")(CONLL2003_LABELS)
    examples = render_split(formatter, sentences)
    path = tmp_path / "predictions" / "test.jsonl"
    path.parent.mkdir(parents=True)
    output = examples[3].output
    done = Prediction.from_parse(sentences[3].id, output, formatter.parse(output, sentences[3].tokens))
    # the killed launch's second process wrote one prediction, and was killed while writing the next
    shard_path(path, 1).write_text(prediction_line(done) + '{"id": "torn', encoding="utf-8")
    seen: dict[int, list[str]] = {}
    log: list[str] = []
    threads = [
        threading.Thread(target=lambda r=rank: seen.__setitem__(r, _predict(World(r, 2, "launch-2"), formatter, sentences, examples, path, log)))
        for rank in (0, 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(seen[0] + seen[1]) == sorted(s.id for i, s in enumerate(sentences) if i != 3)
    assert list(read_predictions(path)) == [s.id for s in sentences]
    assert shards(path) == []
