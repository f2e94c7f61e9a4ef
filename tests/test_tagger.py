"""Tagging raw text: the Tagger API, `ner-toolkit predict` and `export`, and every way a model is loaded.

Offsets and the command line are checked with the example plugin's gazetteer predictor
(deterministic, no model); the loading paths with the tiny Qwen2 model and a LoRA adapter
trained on it, saved to local folders (the hub-name path is the same code with a name).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ner_toolkit import Tagger, read_conll
from ner_toolkit.cli import cli
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"
TEXT = "Hussain, considered surplus to England's one-day requirements, struck 158."
NAMES = {"Hussain": "PER", "England": "LOC", "Essex": "ORG", "Nasser Hussain": "PER", "Japan": "LOC", "Nadim Ladki": "PER"}


@pytest.fixture
def gazetteer_run(tmp_path: Path) -> Path:
    """A run folder whose recipe predicts with the gazetteer: what `predict` reads from a run, with no model."""
    entries = tmp_path / "names.json"
    entries.write_text(json.dumps(NAMES), encoding="utf-8")
    folder = tmp_path / "run"
    recipe = load_recipe(REFERENCE, ["data.train=null", "data.dev=null", "data.test=null", "trainer=null",
                                     f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}", f"output_dir={folder}"])
    run(recipe, log=lambda message: None)
    assert (folder / "recipe.yaml").is_file()
    return folder


def test_tagging_raw_text_gives_character_offsets(gazetteer_run: Path) -> None:
    tagger = Tagger.load(gazetteer_run)
    document = tagger(TEXT)
    assert [(e.start, e.end, e.label, e.text) for e in document] == [(0, 7, "PER", "Hussain"), (31, 38, "LOC", "England")]
    assert all(TEXT[e.start : e.end] == e.text for e in document)
    assert document.sentences[0].tokens[:7] == ("Hussain", ",", "considered", "surplus", "to", "England", "'s")
    assert document.predictions[0].output.startswith("[Hussain | PER] , considered surplus to [England | LOC] 's")
    texts = [TEXT, "", "Essex beat Kent.  Nasser Hussain scored 58 runs. Then it rained."]
    documents = list(tagger.pipe(texts, batch_size=2))
    assert [d.text for d in documents] == texts
    assert documents[1].entities == [] and documents[1].sentences == []
    assert [(e.text, e.label) for e in documents[2]] == [("Essex", "ORG"), ("Nasser Hussain", "PER")]
    assert len(documents[2].sentences) == 3


def record_batches(tagger: Tagger) -> list[list[str]]:
    """Wrap the tagger's ``predictor.predict`` on the instance: the sentence ids of each call, in order."""
    calls: list[list[str]] = []
    original = tagger.predictor.predict

    def predict(sentences, examples=None):  # type: ignore[no-untyped-def]
        calls.append([sentence.id for sentence in sentences])
        return original(sentences, examples)

    tagger.predictor.predict = predict  # type: ignore[method-assign]
    return calls


def test_pipe_decodes_batch_size_sentences_of_any_documents_at_a_time(gazetteer_run: Path) -> None:
    tagger = Tagger.load(gazetteer_run, batch_size=2)
    assert tagger.batch_size == 2
    calls = record_batches(tagger)
    texts = ["Essex won. Japan lost. Then it rained.", "", "Nasser Hussain scored.", "Hussain and Essex."]
    documents = list(tagger.pipe(texts, ids=["a", "b", "c", "d"]))
    assert [d.id for d in documents] == ["a", "b", "c", "d"]
    assert calls == [["a:0", "a:1"], ["a:2", "c:0"], ["d:0"]]  # sentences, not texts; across documents
    assert list(tagger.pipe(texts[:2], batch_size=3)) and calls[-1] == ["text:0", "text:1", "text:2"]


def test_pipe_takes_tokenized_documents_and_refuses_a_bare_string(gazetteer_run: Path) -> None:
    tagger = Tagger.load(gazetteer_run)
    tokens = [["Nasser", "Hussain", "scored", "."], ["Essex", "lost", "to", "Japan"]]
    document = next(tagger.pipe([tokens]))
    assert document.text == "Nasser Hussain scored .\nEssex lost to Japan"
    assert [(e.start, e.end, e.label, e.text) for e in document] == [
        (0, 14, "PER", "Nasser Hussain"), (24, 29, "ORG", "Essex"), (38, 43, "LOC", "Japan")]
    assert [p.spans for p in tagger.tag_tokens(tokens)] == [p.spans for p in document.predictions]
    with pytest.raises(TypeError, match="to tag one text, call the tagger"):
        next(tagger.pipe(TEXT))
    with pytest.raises(TypeError, match="cannot tag int"):
        next(tagger.pipe([3]))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size must be at least 1, not 0"):
        next(tagger.pipe([TEXT], batch_size=0))


def test_a_sentence_over_max_tokens_is_cut_with_a_warning(gazetteer_run: Path) -> None:
    tagger = Tagger.load(gazetteer_run, max_tokens=5)
    document = tagger(TEXT)
    assert len(document.sentences) == 3
    assert document.warnings == [
        "text: the sentence at character 0 has 13 tokens, more than max_tokens=5; it was cut into 3 pieces "
        "(an entity across a cut is lost)"
    ]
    assert [e.text for e in document] == ["Hussain", "England"]


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def predict(*args: object, input: str | None = None):
    return CliRunner().invoke(cli, ["predict", *map(str, args)], input=input)


def test_predict_writes_a_record_per_document_and_resumes(gazetteer_run: Path, tmp_path: Path) -> None:
    notes = write(tmp_path / "notes.txt", f"{TEXT}\n\nEssex beat Kent.\n")
    out = tmp_path / "entities.jsonl"
    result = predict(gazetteer_run, "--input", notes, "--output", out)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["notes.txt:1", "notes.txt:3"]
    assert records[0]["entities"] == [{"start": 0, "end": 7, "label": "PER", "text": "Hussain"},
                                      {"start": 31, "end": 38, "label": "LOC", "text": "England"}]
    assert records[0]["diagnostics"] == [] and records[0]["warnings"] == []
    assert "tagged 2 documents (0 already done): 2 sentences, 3 entities" in result.output

    assert predict(gazetteer_run, "--input", notes, "--output", out).exit_code == 1  # never overwrites silently
    write(notes, f"{TEXT}\n\nEssex beat Kent.\nHussain again.\n")
    result = predict(gazetteer_run, "--input", notes, "--output", out, "--resume")
    assert result.exit_code == 0 and "tagged 1 documents (2 already done)" in result.output
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [f"notes.txt:{n}" for n in (1, 3, 4)]


def test_predict_reads_stdin_and_writes_stdout(gazetteer_run: Path) -> None:
    result = CliRunner().invoke(cli, ["predict", str(gazetteer_run)], input=TEXT + "\n")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert record["id"] == "stdin:1" and [e["text"] for e in record["entities"]] == ["Hussain", "England"]


@pytest.mark.parametrize(
    ("data", "input_format", "message"),
    [
        ('{"text": "Hussain"}\n{"id": "b", "text": "Essex"}\n{"txt": "lost"}\n{"text": "never read"}\n', "jsonl",
         "docs.jsonl:3: expected an object with a string 'text'"),
        (b'{"text": "Hussain"}\n{"id": "b", "text": "Essex"}\n{"text": "caf\xe9"}\n', "jsonl", "docs.jsonl:3: not UTF-8 text (byte 0xe9 at byte offset 62"),
        (b'{"text": "Hussain"}\n{"id": "b", "text": "Essex"}\n\x00\x01\x02\n', "jsonl", "docs.jsonl:3: binary data"),
        ('{"text": "Hussain"}\n{"id": "b", "text": "Essex"}\n{oops\n', "jsonl", "docs.jsonl:3: not JSON"),
    ],
)
def test_bad_input_names_its_line_and_loses_nothing_before_it(
    gazetteer_run: Path, tmp_path: Path, data: str | bytes, input_format: str, message: str
) -> None:
    docs = write(tmp_path / "docs.jsonl", data)
    out = tmp_path / "out.jsonl"
    result = predict(gazetteer_run, "-i", docs, "-o", out, "--input-format", input_format)
    assert result.exit_code == 1 and message in result.output, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["text"]) for r in records] == [("docs.jsonl:1", "Hussain"), ("b", "Essex")]


def test_conll_in_and_out_round_trips_through_the_conll_reader(gazetteer_run: Path, conll: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.conll"
    source.write_text("".join(open(conll / "eng.testb", encoding="utf-8").readlines()[:120]), encoding="utf-8")
    out = tmp_path / "out.conll"
    result = predict(gazetteer_run, "-i", source, "-o", out, "--input-format", "conll", "--output-format", "conll")
    assert result.exit_code == 0, result.output
    gold = read_conll(source)
    tagged = read_conll(out, scheme="IOB2")
    assert [s.tokens for s in tagged] == [s.tokens for s in gold]
    expected = Tagger.load(gazetteer_run).tag_tokens([s.tokens for s in gold])
    assert [s.spans for s in tagged] == [s.spans for s in expected]
    assert any(s.spans for s in tagged)


@pytest.fixture(scope="module")
def trained_run(conll: Path, tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference recipe (LoRA) trained for one step on the tiny model."""
    folder = tmp_path_factory.mktemp("trained") / "run"
    recipe = load_recipe(REFERENCE, [f"model.name_or_path={tiny_qwen2_dir}", f"data.dir={conll}", "data.dev=null",
                                     "data.test=null", "data.limit={train: 2}", "trainer.options.max_steps=1",
                                     "trainer.options.gradient_accumulation_steps=1", "trainer.options.threads=1",
                                     "predictor.options.threads=1", f"output_dir={folder}"])
    run(recipe, log=lambda message: None)
    return folder


def test_a_run_an_export_and_the_bare_adapter_tag_alike(trained_run: Path, tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    exported = tmp_path / "exported"
    result = CliRunner().invoke(cli, ["export", str(trained_run), str(exported)])
    assert result.exit_code == 0, result.output
    meta = json.loads((exported / "ner_toolkit.json").read_text())
    assert meta["format"]["name"] == "bracketed" and [label["name"] for label in meta["labels"]] == ["ORG", "PER", "LOC", "MISC"]
    assert meta["model"]["base"] == str(tiny_qwen2_dir) and meta["instruction"].startswith("Your task is to identify")
    assert (exported / "adapter_model.safetensors").is_file() and (exported / "tokenizer.json").is_file()
    assert (exported / "README.md").read_text().startswith("---\nlibrary_name: peft\nlicense: other\n")

    options = {"threads": 1, "max_new_tokens": 8, "decoding": "plain", "dtype": "float32"}
    outputs = []
    for tagger in (
        Tagger.load(trained_run, **options),
        Tagger.load(exported, **options),
        Tagger.load(trained_run / "model" / "adapter", format="bracketed", labels="conll2003", **options),
    ):
        with tagger:
            outputs.append([p.output for p in tagger(TEXT).predictions])
            assert tagger.predictor.model.name_or_path == str(tiny_qwen2_dir)
    assert outputs[0] == outputs[1] == outputs[2]


def test_a_hub_adapter_is_named_with_its_base_and_loads_nothing_until_used() -> None:
    tagger = Tagger.load("stefan-it/Qwen2.5-7B-CoNLL-2003", base="Qwen/Qwen2.5-7B", format="bracketed", labels="conll2003")
    assert (tagger.predictor.model.name_or_path, tagger.predictor.adapter) == ("Qwen/Qwen2.5-7B", "stefan-it/Qwen2.5-7B-CoNLL-2003")
    assert tagger.predictor.options.decoding == "speculative" and tagger.formatter.name == "bracketed"
    assert [label.name for label in tagger.formatter.labels] == ["ORG", "PER", "LOC", "MISC"]


def test_export_refuses_a_run_without_a_model_and_a_full_folder(gazetteer_run: Path, trained_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(gazetteer_run), str(tmp_path / "x")])
    assert result.exit_code == 1 and "the run trains no model" in result.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    result = CliRunner().invoke(cli, ["export", str(trained_run), str(tmp_path / "full")])
    assert result.exit_code == 1 and "exists and is not empty" in result.output


def test_the_readme_lines_for_tagging_work(gazetteer_run: Path, tmp_path: Path) -> None:
    """The README's 'Tag your own text' section, with the run folder swapped for a test one."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Tag your own text", 1)[1].split("\n## ", 1)[0]
    python = section.split("```python\n", 1)[1].split("```", 1)[0].replace("runs/quickstart", str(gazetteer_run))
    namespace: dict[str, object] = {}
    exec(python, namespace)  # the three lines
    assert [e.text for e in namespace["document"]] == ["Hussain", "England"]  # type: ignore[union-attr]
    shell = section.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()[0]
    command = shell.replace("runs/quickstart", str(gazetteer_run)).replace("notes.txt", str(write(tmp_path / "notes.txt", TEXT)))
    command = command.replace("entities.jsonl", str(tmp_path / "entities.jsonl")).replace("uv run ner-toolkit", f"{sys.executable} -m ner_toolkit")
    subprocess.run(command, shell=True, check=True, capture_output=True, cwd=tmp_path)
    assert json.loads((tmp_path / "entities.jsonl").read_text())["entities"][1]["text"] == "England"


def test_recipe_yaml_of_a_run_is_what_tagger_reads(gazetteer_run: Path) -> None:
    recipe = yaml.safe_load((gazetteer_run / "recipe.yaml").read_text())
    assert recipe["predictor"]["name"] == "gazetteer"
    assert Tagger.load(gazetteer_run).predictor.name == "gazetteer"
