"""Predictions for annotation tools: each output format round-trips through a reader to the same entities and offsets.

Label Studio tasks come back through the ``label-studio`` reader, Prodigy and doccano
records through the ``jsonl`` reader, a DocBin through spaCy itself, CoNLL through the
``conll`` reader. The model is the example plugin's gazetteer (deterministic, no weights).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import Tagger, plugins, read_conll
from ner_toolkit.cli import cli
from ner_toolkit.plugins import get_reader
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe
from ner_toolkit.tagging.predict import InputError, predict
from ner_toolkit.tagging.writing import write_documents

REPO = Path(__file__).resolve().parents[1]
NAMES = {"Hussain": "PER", "England": "LOC", "Essex": "ORG", "Nasser Hussain": "PER", "Zürich": "LOC", "New York": "LOC"}
TEXTS = [
    "Hussain, considered surplus to England's one-day requirements, struck 158.  Essex won.",
    "Nasser Hussain flew from Zürich to New York.\nThen Essex lost to England.",
    "Nothing to see here.",
]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> Tagger:
    folder = tmp_path_factory.mktemp("gazetteer")
    entries = folder / "names.json"
    entries.write_text(json.dumps(NAMES), encoding="utf-8")
    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml", [
        "data.train=null", "data.dev=null", "data.test=null", "trainer=null",
        f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}", f"output_dir={folder / 'run'}"])
    run(recipe, log=lambda message: None)
    return Tagger.load(folder / "run")


@pytest.fixture(scope="module")
def expected(tagger: Tagger) -> list[list[tuple[int, int, str]]]:
    """Each text's entities as the tagger gives them: the figures every output must carry."""
    documents = list(tagger.pipe(TEXTS))
    found = [[(e.start, e.end, e.label) for e in document] for document in documents]
    assert found[1] == [(0, 14, "PER"), (25, 31, "LOC"), (35, 43, "LOC"), (50, 55, "ORG"), (64, 71, "LOC")]
    return found


def predicted(tagger: Tagger, tmp_path: Path, output_format: str, suffix: str) -> Path:
    output = tmp_path / f"out{suffix}"
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": f"d{n}", "text": text}) + "\n" for n, text in enumerate(TEXTS)), encoding="utf-8")
    counts = predict(tagger, str(source), source.read_bytes(), output, "jsonl", output_format, model_version="gazetteer-run")
    assert counts["documents"] == len(TEXTS)
    return output


def entities_of(sentences: list) -> list[list[tuple[int, int, str]]]:
    return [sorted((*s.char_span(span), span.label) for span in s.spans) for s in sentences]


@pytest.mark.parametrize("output_format,reader", [("jsonl", "jsonl"), ("prodigy", "jsonl"), ("doccano", "jsonl"),
                                                  ("label-studio", "label-studio")])
def test_a_json_output_reads_back_to_the_same_entities_and_offsets(
    tagger: Tagger, expected: list, tmp_path: Path, output_format: str, reader: str
) -> None:
    output = predicted(tagger, tmp_path, output_format, ".json")
    sentences = get_reader(reader)().read(output)
    ids = [s.document_id for s in sentences] if output_format == "doccano" else [s.id for s in sentences]
    assert ids == ["d0", "d1", "d2"]
    assert entities_of(sentences) == expected
    assert [s.tokens[0] for s in sentences] == ["Hussain", "Nasser", "Nothing"]


def test_label_studio_tasks_are_what_its_importer_documents(tagger: Tagger, tmp_path: Path) -> None:
    tasks = json.loads(predicted(tagger, tmp_path, "label-studio", ".json").read_text(encoding="utf-8"))
    assert [task["data"] for task in tasks] == [{"text": text, "document_id": f"d{n}"} for n, text in enumerate(TEXTS)]
    prediction = tasks[1]["predictions"][0]
    assert prediction["model_version"] == "gazetteer-run"
    assert prediction["result"][0] == {"id": "e0", "from_name": "label", "to_name": "text", "type": "labels",
                                       "value": {"start": 0, "end": 14, "text": "Nasser Hussain", "labels": ["PER"]}}
    assert tasks[2]["predictions"][0]["result"] == []


def test_a_reviewed_label_studio_export_reads_its_annotations_before_the_predictions(tmp_path: Path) -> None:
    text = "Essex beat Kent ."
    result = {"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 5, "labels": ["ORG"]}}
    corrected = {**result, "value": {"start": 11, "end": 15, "labels": ["ORG"]}}
    choice = {"from_name": "quality", "to_name": "text", "type": "choices", "value": {"choices": ["good"]}}
    export = [
        {"id": 7, "data": {"text": text}, "annotations": [{"was_cancelled": True, "result": []},
                                                          {"was_cancelled": False, "result": [result, corrected, choice]}],
         "predictions": [{"result": [result]}]},
        {"id": 8, "data": {"text": text}, "annotations": [], "predictions": [{"result": [result]}]},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    sentences = get_reader("label-studio")().read(path)
    assert [s.id for s in sentences] == ["7", "8"]
    assert entities_of(sentences) == [[(0, 5, "ORG"), (11, 15, "ORG")], [(0, 5, "ORG")]]
    path.write_text(json.dumps([{"id": 1, "data": {"text": text}, "annotations": [{"result": [
        {**result, "value": {"start": 0, "end": 5, "labels": ["ORG", "LOC"]}}]}]}]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"export.json: task 1: result 0: expected one label"):
        get_reader("label-studio")().read(path)


def test_a_spacy_docbin_reads_back_through_spacy(tagger: Tagger, expected: list, tmp_path: Path) -> None:
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    output = predicted(tagger, tmp_path, "spacy", ".spacy")
    docs = list(DocBin().from_bytes(output.read_bytes()).get_docs(Vocab()))
    assert [doc.text for doc in docs] == TEXTS
    assert [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs] == expected
    assert [[(e.start_char, e.end_char, e.label_) for e in doc.spans["entities"]] for doc in docs] == expected
    assert [doc.user_data["id"] for doc in docs] == ["d0", "d1", "d2"]


def test_conll_output_reads_back_to_the_same_tokens_and_spans(tagger: Tagger, tmp_path: Path) -> None:
    output = predicted(tagger, tmp_path, "conll", ".conll")
    documents = list(tagger.pipe(TEXTS))
    sentences = read_conll(output, "IOB2")
    assert [(s.tokens, s.spans) for s in sentences] == [
        (sentence.tokens, prediction.spans) for d in documents for sentence, prediction in zip(d.sentences, d.predictions)]


def test_the_python_api_writes_any_format(tagger: Tagger, expected: list, tmp_path: Path) -> None:
    path = tmp_path / "review.jsonl"
    assert write_documents(tagger.pipe(TEXTS, ids=["a", "b", "c"]), path, "doccano") == 3
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [record["label"] for record in records] == [[list(e) for e in entities] for entities in expected]
    assert [record["document_id"] for record in records] == ["a", "b", "c"]


def test_the_command_line_writes_label_studio_and_refuses_what_it_cannot_do(tagger: Tagger, tmp_path: Path) -> None:
    folder = Path(tagger.predictor.options.entries).parent / "run"  # type: ignore[attr-defined]
    source = tmp_path / "in.txt"
    source.write_text(TEXTS[0] + "\n", encoding="utf-8")
    output = tmp_path / "tasks.json"
    result = CliRunner().invoke(cli, ["predict", str(folder), "-i", str(source), "-o", str(output), "--output-format", "label-studio"])
    assert result.exit_code == 0, result.output
    tasks = json.loads(output.read_text(encoding="utf-8"))
    assert tasks[0]["data"]["document_id"] == "in.txt:1" and tasks[0]["predictions"][0]["model_version"] == str(folder)
    result = CliRunner().invoke(cli, ["predict", str(folder), "-i", str(source), "-o", str(tmp_path / "x"), "--output-format", "brat"])
    assert result.exit_code != 0 and "unknown writer 'brat'; available:" in result.output
    assert "label-studio" in result.output and not (tmp_path / "x").exists()
    with pytest.raises(InputError, match="--resume needs --output-format jsonl"):
        predict(tagger, str(source), source.read_bytes(), output, "text", "label-studio", resume=True)


def test_a_third_party_writer_is_one_module_and_one_entry_point(tagger: Tagger, expected: list, tmp_path: Path) -> None:
    component = plugins.manager().component("writer", "entity-tsv")
    assert component.distribution.startswith("ner-toolkit-example-format")
    output = predicted(tagger, tmp_path, "entity-tsv", ".tsv")
    header, *rows = output.read_text(encoding="utf-8").splitlines()
    assert header == "document\tstart\tend\tlabel\ttext"
    found = [row.split("\t") for row in rows]
    assert [(d, int(s), int(e), label) for d, s, e, label, _ in found] == [
        (f"d{n}", *entity) for n, entities in enumerate(expected) for entity in entities]
    assert [text for *_, text in found] == [TEXTS[int(d[1:])][int(s) : int(e)] for d, s, e, *_ in found]
