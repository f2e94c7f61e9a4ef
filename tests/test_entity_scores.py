"""Entity scores where users meet them: the predictions file, evaluate --min-score, Tagger, predict, spaCy, Label Studio.

The tiny random model decodes with speculative copying, so every output is a rendering and
every entity is scored (``packages/trainers/tests/test_entity_scores.py`` checks the
numbers themselves against a computation by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import Tagger
from ner_toolkit.cli import cli
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe
from ner_toolkit.tagging.writing import write_documents

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"
TEXTS = ["Hussain, considered surplus to England's one-day requirements, struck 158. Essex won.",
         "Nasser Hussain flew from Zurich to New York on Friday."]


@pytest.fixture(scope="module")
def scored_run(conll: Path, tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scored") / "run"
    recipe = load_recipe(REFERENCE, [
        f"model.name_or_path={tiny_qwen2_dir}", f"data.dir={conll}", "data.train=null", "data.dev=null", "trainer=null",
        "data.limit={test: 12}", "predictor.options.decoding=speculative", "predictor.options.prefix_cache=true",
        "predictor.options.batch_size=4", "predictor.options.threads=1", "predictor.options.progress=false",
        f"output_dir={folder}"])
    run(recipe, log=lambda message: None)
    return folder


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_predictions_file_holds_a_score_per_span(scored_run: Path) -> None:
    found = records(scored_run / "predictions" / "test.jsonl")
    assert sum(len(r["spans"]) for r in found) > 0
    for record in found:
        assert len(record.get("scores", [])) == len(record["spans"])
        assert all(0 <= s <= 1 for s in record.get("scores", []))


def test_the_report_shows_the_calibration_of_the_scores(scored_run: Path) -> None:
    metrics = json.loads((scored_run / "metrics" / "test.json").read_text(encoding="utf-8"))["calibration"]
    found = records(scored_run / "predictions" / "test.jsonl")
    assert metrics["scored_entities"] == sum(len(r["spans"]) for r in found) and 0 <= metrics["ece"] <= 1
    assert sum(row["count"] for row in metrics["reliability"]) == metrics["scored_entities"]
    assert "reliability: share correct by score" in (scored_run / "reports" / "test.html").read_text(encoding="utf-8")


def test_evaluate_min_score_trades_recall_for_precision_monotonically(scored_run: Path, conll: Path, tmp_path: Path) -> None:
    predictions = scored_run / "predictions" / "test.jsonl"
    scores = sorted(s for r in records(predictions) for s in r.get("scores", []))
    counts, recalls = [], []
    for n, threshold in enumerate([0.0, scores[len(scores) // 3], scores[2 * len(scores) // 3], 1.0]):
        out = tmp_path / f"t{n}"
        result = CliRunner().invoke(cli, ["evaluate", str(predictions), "--recipe", str(scored_run / "recipe.yaml"),
                                          "--min-score", str(threshold), "-o", str(out), "--no-html", "--max-unparsed", "1"])
        assert result.exit_code == 0, result.output
        metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        counts.append(sum(metrics["counts"]["predicted_entities"].values()))
        recalls.append(metrics["seqeval"]["micro"]["recall"])
        if threshold == 0.0:
            assert metrics["seqeval"] == json.loads((scored_run / "metrics" / "test.json").read_text(encoding="utf-8"))["seqeval"]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert recalls == sorted(recalls, reverse=True)


def test_the_tagger_predict_spacy_and_label_studio_carry_scores(scored_run: Path, tmp_path: Path) -> None:
    tagger = Tagger.load(scored_run)
    documents = list(tagger.pipe(TEXTS))
    entities = [e for d in documents for e in d]
    assert entities and all(e.score is not None and 0 <= e.score <= 1 for e in entities)
    assert all("score" in e for d in documents for e in d.to_json()["entities"])
    middle = sorted(e.score for e in entities)[len(entities) // 2]
    thresholded = list(Tagger.load(scored_run, min_score=middle).pipe(TEXTS))
    kept = [e for d in thresholded for e in d]
    assert kept == [e for e in entities if e.score >= middle] and len(kept) < len(entities)
    # the predictions (what CoNLL output writes) leave out the same entities
    assert sum(len(p.spans) for d in thresholded for p in d.predictions) == len(kept)
    with pytest.raises(ValueError, match="min_score must be between 0 and 1"):
        Tagger.load(scored_run, min_score=1.5)

    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["predict", str(scored_run), "-i", str(source), "-o", str(output), "--min-score", str(middle)])
    assert result.exit_code == 0, result.output
    assert [e["score"] for r in records(output) for e in r["entities"]] == [e.score for e in kept]

    tasks_path = tmp_path / "tasks.json"
    write_documents(documents, tasks_path, "label-studio")
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    for task, document in zip(tasks, documents):
        prediction = task["predictions"][0]
        assert [r["score"] for r in prediction["result"]] == [e.score for e in document]
        if document.entities:
            assert prediction["score"] == min(e.score for e in document)

    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("ner_toolkit", config={"model": str(scored_run)})
    doc = nlp(TEXTS[0])
    assert doc.ents and all(0 <= ent._.ner_toolkit_score <= 1 for ent in doc.ents)
