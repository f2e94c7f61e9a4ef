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
from ..interfaces import Example, Formatter, Prediction, Predictor, Trainer, path_options, result_options
from ..shots import draw_shots, with_shots
from ..spans import Sentence
from ..textio import write_json
from . import parallel
from .components import (
    load_split,
    make_formatter,
    make_predictor,
    make_reader,
    make_scorers,
    make_trainer,
    nested_problem,
    with_absolute_paths,
)
from .folder import RunFolder
from .manifest import manifest, setup
from .parallel import World
from .predictions import prediction_line, read_predictions
from .recipe import SPLITS, ComponentConfig, Recipe
from .reports import write_report
from .scoring import score
from .stages import Stage, Stages

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
    for sentence, context in zip(sentences, formatter.contexts(sentences)):
        try:
            examples.append(formatter.example(sentence, context))
        except ValueError as error:
            raise ValueError(f"{sentence.id}: the {formatter.name} format cannot render this sentence: {error}") from None
    return examples


def render_splits(recipe: Recipe, formatter: Formatter, splits: dict[str, list[Sentence]]) -> dict[str, list[Example]]:
    """The examples of every split the recipe names, each after the recipe's shots (drawn from train) when it asks for them."""
    examples = {split: render_split(formatter, splits[split]) for split in SPLITS if recipe.data.path(split) is not None}
    if recipe.format.shots:
        shots = draw_shots(splits["train"], examples["train"], recipe.format.shots, recipe.format.shot_seed)
        examples = {split: with_shots(rendered, shots) for split, rendered in examples.items()}
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


Digest = Callable[[Path], str]


def _component(kind: plugins.Kind, config: ComponentConfig, digest: Digest) -> dict[str, Any]:
    """A component as a stage input: its name, its options with defaults filled in, its distribution and version.

    Options marked ``RUNTIME_ONLY`` are left out: changing them redoes nothing. An option
    typed ``Path`` is there by the digest of what it names, so editing that file redoes
    what it reaches and moving it does not.
    """
    component = plugins.manager().component(kind, config.name)
    validated = component.cls.Options.model_validate(config.options)
    options = result_options(validated)
    for name in path_options(component.cls.Options):
        value = getattr(validated, name)
        if name in options and value is not None and Path(value).exists():
            options[name] = {"digest": digest(Path(value))}
    return {**_dump(config), "options": options, "plugin": component.distribution}


def _model_inputs(recipe: Recipe, digest: Digest) -> Any:
    """The base model as a stage input: a local folder by the digest of its files, a hub model by name and revision."""
    if recipe.model is None:
        return None
    inputs = _dump(recipe.model)
    local = Path(recipe.model.resolved_path())
    if local.exists():
        del inputs["name_or_path"], inputs["package"]
        inputs["digest"] = digest(local)
    return inputs


def _split_inputs(recipe: Recipe, split: str, digest: Digest) -> dict[str, Any]:
    """What a split's examples depend on: the data file and reader, the limit, the format and labels."""
    path = recipe.data.path(split)
    assert path is not None
    format_inputs = _component("format", recipe.format, digest)
    if not recipe.format.context:
        del format_inputs["context"]  # as runs from before the option have it
    del format_inputs["shots"], format_inputs["shot_seed"]
    if recipe.format.shots:
        train = recipe.data.path("train")
        assert train is not None
        format_inputs["shots"] = {"k": recipe.format.shots, "seed": recipe.format.shot_seed, "from": digest(train),
                                  "limit": recipe.data.limit.get("train")}
    return {
        "file": digest(path),
        "reader": _component("reader", recipe.data.reader, digest),
        "limit": recipe.data.limit.get(split),
        "format": format_inputs,
        "labels": [label.to_json() for label in recipe.labels],
        # present only when set, so that the fingerprints of runs from before these options stay as they were
        **({"label_map": dict(recipe.data.label_map)} if recipe.data.label_map else {}),
        **({"unknown_labels": recipe.data.unknown_labels} if recipe.data.unknown_labels != "error" else {}),
    }


def plan_stages(
    recipe: Recipe, folder: RunFolder, examples: dict[str, list[Example]], trainer: Trainer | None, digest: Digest
) -> list[Stage]:
    """Every stage the recipe asks for, with its inputs and outputs, computed before anything is written.

    A stage's inputs hold the fingerprint of the stage it reads from, so a change reaches every stage after it.
    """
    planned: list[Stage] = []
    render: dict[str, str] = {}
    for split in SPLITS:
        if recipe.data.path(split) is None:
            planned.append(Stage(f"render:{split}", {"split": None}, tuple(folder.split_outputs(split))))
            continue
        stage = Stage(f"render:{split}", _split_inputs(recipe, split, digest), (folder.examples(split),))
        render[split] = stage.key
        planned.append(stage)
    model: Any = _model_inputs(recipe, digest)
    if trainer is not None and recipe.trainer is not None:
        reads_dev = trainer.reads_eval() and bool(examples.get("dev"))
        stage = Stage(
            "train",
            {"train": render.get("train"), "dev": render.get("dev") if reads_dev else None, "model": model,
             "trainer": _component("trainer", recipe.trainer, digest)},
            (folder.model_dir,),
        )
        model = stage.key
        planned.append(stage)
    if recipe.predictor is not None:
        predictor = _component("predictor", recipe.predictor, digest)
        for split in ("dev", "test"):
            if examples.get(split):
                path = folder.predictions(split)
                outputs = (path, *parallel.shards(path), folder.metrics(split), *folder.reports(split))
                planned.append(Stage(f"predict:{split}", {"examples": render[split], "model": model, "predictor": predictor}, outputs))
    return planned


def run(recipe: Recipe, log: Log = _stderr, fresh: bool = False) -> dict[str, Any]:
    """Run every stage the recipe asks for; return the metrics by split.

    Everything is read, rendered and validated before the output folder changes: a rerun
    that fails on its data or its plugins' options leaves the folder as it was. Under a
    data-parallel launch every process trains and predicts its share of each split; only
    the main one writes the run's files, merges the predictions and scores.
    """
    folder = RunFolder(recipe.output_dir)
    world = World.from_environment()
    main = world.main
    if not main:
        log = _ranked
    started = time.perf_counter()

    reader = make_reader(recipe)
    splits = {split: load_split(recipe, split, reader) for split in SPLITS}
    log("read: " + ", ".join(f"{split} {len(s)} sentences" for split, s in splits.items() if recipe.data.path(split)))
    formatter = make_formatter(recipe)
    problem = nested_problem(formatter, splits)
    if problem:
        raise ValueError(problem)
    examples = render_splits(recipe, formatter, splits)
    trainer = make_trainer(recipe) if recipe.trainer is not None else None
    scorers = make_scorers(recipe) if recipe.predictor is not None else []
    predictor = make_predictor(recipe, formatter, None) if recipe.predictor is not None else None

    if fresh and main:
        folder.clear()
        log(f"fresh: removed the earlier run's files from {folder.root}")
    stages = Stages(folder.root, log, write=main)
    plan = plan_stages(recipe, folder, examples, trainer, stages.digest)

    def describe_plan() -> None:
        folder.write_recipe(with_absolute_paths(recipe))
        write_json(folder.manifest_path, manifest(recipe, stages.digest))

    if main:
        folder.root.mkdir(parents=True, exist_ok=True)
    stages.commit(plan, describe_plan)
    if main:
        for split, rendered in examples.items():
            write_alpaca(folder.examples(split), rendered)
    log(f"render: {recipe.format.name} examples in {folder.examples('test').parent}")

    model_dir: Path | None = None
    if trainer is not None:
        dev = examples.get("dev", []) if trainer.reads_eval() else []
        model_dir = train(recipe, trainer, examples.get("train", []), dev, folder, main, log)
        del trainer
        gc.collect()

    results: dict[str, Any] = {}
    if predictor is None:
        log("predict: no predictor in the recipe; stopping after render")
        return results
    if model_dir is not None:
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

    keys = {stage.name: stage.key for stage in plan}
    about = setup(recipe)
    try:
        for split in ("dev", "test"):
            if not examples.get(split):
                continue
            path = folder.predictions(split)
            order = [s.id for s in splits[split]]
            token = parallel.begin(path, world, keys[f"predict:{split}"], order) if world.size > 1 else ""
            predictions = predict_split(loaded, splits[split], examples[split], path, log, world, token)
            if not main:
                continue
            results[split] = score(scorers, splits[split], predictions)
            if about:
                results[split]["setup"] = about
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
    done = folder.trained_model(recipe)
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
