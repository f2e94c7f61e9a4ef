"""The run: read data, render examples, train, predict, parse, score and report.

Every stage writes into the recipe's output folder as it goes. A rerun resumes a stage
begun under the same inputs and redoes, with everything after it, a stage whose inputs
changed (``stages``), so results on disk always belong to the recipe in ``recipe.yaml``.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import plugins
from ..interfaces import Example, Formatter, Prediction, Predictor, Trainer, result_options
from ..spans import Sentence
from ..textio import write_json
from . import parallel
from .components import load_split, make_formatter, make_predictor, make_reader, make_scorers, make_trainer, nested_problem
from .folder import RunFolder
from .manifest import manifest
from .parallel import World
from .predictions import prediction_line, read_predictions
from .recipe import SPLITS, ComponentConfig, Recipe
from .reports import write_report
from .scoring import score
from .stages import Stages, file_sha256

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ranked(message: str) -> None:
    """The log of a data-parallel process other than the main one: its own prediction lines only."""
    if message.startswith("predict: rank "):
        _stderr(message)


def render_split(formatter: Formatter, sentences: Sequence[Sentence]) -> list[Example]:
    """The examples of a split; a sentence the format cannot write is an error naming it."""
    examples = []
    for sentence in sentences:
        try:
            examples.append(formatter.example(sentence))
        except ValueError as error:
            raise ValueError(f"{sentence.id}: the {formatter.name} format cannot render this sentence: {error}") from None
    return examples


def write_alpaca(path: Path, examples: Sequence[Example]) -> None:
    """Write examples as an Alpaca JSON list (instruction, input, output), as LLaMA-Factory reads."""
    write_json(path, [e.to_alpaca() for e in examples], indent=1)


def predict_split(
    predictor: Callable[[], Predictor],
    sentences: Sequence[Sentence],
    examples: Sequence[Example],
    path: Path,
    log: Log = _stderr,
    world: World = World(),
    token: str = "",
) -> list[Prediction]:
    """Generate what ``path`` (and the shards of a killed data-parallel run) does not hold yet.

    Each prediction is appended as soon as it is parsed: to ``path``, or under a
    data-parallel launch to this process's shard, which the main process merges when
    every process is done (``parallel``). ``predictor`` gives the opened predictor; it is
    only called when something is left to generate. Returns the split's predictions in
    sentence order (in the main process; the others return none).
    """
    # In a data-parallel launch ``begin`` has merged any earlier shards into ``path``, which no
    # process writes until all are done; the shards written meanwhile are this launch's work.
    done = read_predictions(path) if world.size > 1 else parallel.read_all(path)
    todo = world.share([i for i, sentence in enumerate(sentences) if sentence.id not in done])
    target = parallel.shard_path(path, world.rank) if world.size > 1 else path
    if todo:
        who = f"rank {world.rank} of {world.size}: " if world.size > 1 else ""
        log(f"predict: {who}{len(todo)} of {len(sentences)} sentences to generate ({len(done)} already in {path})")
        began = time.perf_counter()
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as handle:
            for _, prediction in predictor().predict([sentences[i] for i in todo], [examples[i] for i in todo]):
                handle.write(prediction_line(prediction))
                handle.flush()
                done[prediction.sentence_id] = prediction
        seconds = time.perf_counter() - began
        log(f"predict: {who}{len(todo)} sentences in {seconds:.1f} s ({len(todo) / seconds:.2f} sentences/s)")
    order = [s.id for s in sentences]
    if world.size > 1:
        parallel.finish(path, world, token, order)
        if not world.main:
            return []
        done = read_predictions(path)
    elif parallel.shards(path):  # a data-parallel run was killed; this one ran alone
        parallel.merge(path, done, order)
    missing = [i for i in order if i not in done]
    if missing:
        raise RuntimeError(f"predictor returned no output for {len(missing)} sentence(s), e.g. {missing[:3]}")
    return [done[i] for i in order]


def _dump(config: Any) -> Any:
    return None if config is None else config.model_dump(mode="json")


def _component(kind: plugins.Kind, config: ComponentConfig) -> dict[str, Any]:
    """A component as a stage input: its name, its options with defaults filled in, its distribution and version.

    Options marked ``RUNTIME_ONLY`` are left out: changing them redoes nothing.
    """
    component = plugins.manager().component(kind, config.name)
    options = result_options(component.cls.Options.model_validate(config.options))
    return {**_dump(config), "options": options, "plugin": component.distribution}


def _split_inputs(recipe: Recipe, split: str, data_hash: str) -> dict[str, Any]:
    """What a split's examples depend on: the data file and reader, the limit, the format and labels."""
    return {
        "file": data_hash,
        "reader": _component("reader", recipe.data.reader),
        "limit": recipe.data.limit.get(split),
        "format": _component("format", recipe.format),
        "labels": [label.to_json() for label in recipe.labels],
    }


def run(recipe: Recipe, log: Log = _stderr, fresh: bool = False) -> dict[str, Any]:
    """Run every stage the recipe asks for; return the metrics by split.

    Under a data-parallel launch every process trains and predicts its share of each
    split; only the main one writes the run's files, merges the predictions and scores.
    """
    folder = RunFolder(recipe.output_dir)
    world = World.from_environment()
    main = world.main
    if not main:
        log = _ranked
    if fresh and main:
        folder.clear()
        log(f"fresh: removed the earlier run's files from {folder.root}")
    folder.root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    stages = Stages(folder.root, log, write=main)
    if main:
        folder.write_recipe(recipe)
        write_json(folder.manifest_path, manifest(recipe))

    reader = make_reader(recipe)
    splits = {split: load_split(recipe, split, reader) for split in SPLITS}
    log("read: " + ", ".join(f"{split} {len(s)} sentences" for split, s in splits.items() if recipe.data.path(split)))
    formatter = make_formatter(recipe)
    problem = nested_problem(formatter, splits)
    if problem:
        raise ValueError(problem)

    examples: dict[str, list[Example]] = {}
    keys: dict[str, str] = {}
    for split in SPLITS:
        path = recipe.data.path(split)
        if path is None:
            stages.begin(f"render:{split}", {"split": None}, folder.split_outputs(split))
            continue
        keys[split] = stages.begin(f"render:{split}", _split_inputs(recipe, split, file_sha256(path)), [folder.examples(split)])
        examples[split] = render_split(formatter, splits[split])
        if main:
            write_alpaca(folder.examples(split), examples[split])
    log(f"render: {recipe.format.name} examples in {folder.examples('test').parent}")

    model_dir: Path | None = None
    model_key: Any = _dump(recipe.model)
    if recipe.trainer is not None:
        trainer = make_trainer(recipe)
        dev = examples.get("dev", []) if trainer.reads_eval() else []
        model_key = stages.begin(
            "train",
            {"train": keys.get("train"), "dev": keys.get("dev") if dev else None, "model": _dump(recipe.model),
             "trainer": _component("trainer", recipe.trainer)},
            [folder.model_dir],
        )
        model_dir = train(recipe, trainer, examples.get("train", []), dev, folder, main, log)
        del trainer
        gc.collect()

    results: dict[str, Any] = {}
    if recipe.predictor is None:
        log("predict: no predictor in the recipe; stopping after render")
        return results
    scorers = make_scorers(recipe)
    predictor = make_predictor(recipe, formatter, model_dir)
    opened: list[float] = []

    def loaded() -> Predictor:
        """The predictor, opened (its model loaded) on first use and kept for every split."""
        if not opened:
            began = time.perf_counter()
            predictor.open()
            opened.append(time.perf_counter() - began)
            log(f"predict: {predictor.name} predictor loaded in {opened[0]:.1f} s")
        return predictor

    predictor_inputs = _component("predictor", recipe.predictor)
    try:
        for split in ("dev", "test"):
            if split not in examples or not examples[split]:
                continue
            path = folder.predictions(split)
            stale = [path, *parallel.shards(path), folder.metrics(split), *folder.reports(split)]
            key = stages.begin(f"predict:{split}", {"examples": keys[split], "model": model_key, "predictor": predictor_inputs}, stale)
            order = [s.id for s in splits[split]]
            token = parallel.begin(path, world, key, order) if world.size > 1 else ""
            predictions = predict_split(loaded, splits[split], examples[split], path, log, world, token)
            if not main:
                continue
            results[split] = score(scorers, splits[split], predictions)
            write_report(folder.metrics(split), folder.report(split), f"{recipe.name}: {split}", scorers, results[split])
            log(f"score: {split} report in {folder.reports(split)[0]}")
    finally:
        if opened:
            predictor.close()
    log(f"done in {time.perf_counter() - started:.0f} s")
    return results


def train(
    recipe: Recipe, trainer: Trainer, examples: list[Example], dev: list[Example], folder: RunFolder, main: bool, log: Log
) -> Path:
    """Train, or find the model a finished training left; ``close`` frees the trainer's model before prediction."""
    assert recipe.model is not None
    done = folder.trained_model()
    if done is not None:
        log(f"train: done already ({done})")
        return done
    log(f"train: {trainer.name} on {len(examples)} examples")
    began = time.perf_counter()
    try:
        model_dir = trainer.train(recipe.model.spec(), examples, folder.model_dir, dev)
    finally:
        trainer.close()
    if main:
        folder.mark_trained(model_dir, time.perf_counter() - began)
    return model_dir
