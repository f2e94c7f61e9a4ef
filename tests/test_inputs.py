"""Inputs that cannot corrupt a score (items 9 to 12 of the reliability issue).

Duplicate ids, labels outside the recipe's set, decomposed Unicode and out-of-range
numbers, each as a user meets them: through a run, a reader, the Tagger or the command line.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import Tagger, plugins
from ner_toolkit.cli import cli
from ner_toolkit.corpus.jsonl_reader import JsonlFormatError, JsonlReader
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe
from ner_toolkit.tagging.serve import Limits

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"


def jsonl(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def gazetteer_recipe(tmp_path: Path, test: Path, names: dict[str, str], *extra: str):
    entries = tmp_path / "names.json"
    entries.write_text(json.dumps(names), encoding="utf-8")
    return load_recipe(REFERENCE, [f"data.dir={test.parent}", "data.train=null", "data.dev=null", f"data.test={test.name}",
                                   "data.reader=jsonl", "trainer=null", f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}",
                                   f"output_dir={tmp_path / 'run'}", *extra])


def test_9_two_records_with_one_id_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    test = jsonl(tmp_path / "test.jsonl", {"id": "x", "text": "Japan won.", "entities": [[0, 5, "LOC"]]},
                 {"text": "Kent drew."}, {"id": "x", "text": "Essex lost.", "entities": [[0, 5, "ORG"]]})
    with pytest.raises(JsonlFormatError, match=r"test.jsonl:3: id 'x' is given twice \(test.jsonl:1 and test.jsonl:3\)"):
        JsonlReader().read(test)
    with pytest.raises(JsonlFormatError, match="given twice"):
        run(gazetteer_recipe(tmp_path, test, {"Japan": "LOC", "Essex": "ORG"}), log=lambda message: None)
    assert not (tmp_path / "run").exists()


def test_10_a_gold_label_outside_the_recipes_set_is_an_error_unless_mapped_or_dropped(tmp_path: Path) -> None:
    test = jsonl(tmp_path / "test.jsonl", {"text": "Japan won.", "entities": [[0, 5, "GPE"]]},
                 {"text": "Nadim Ladki wrote.", "entities": [[0, 11, "PERSON"]]})
    names = {"Japan": "LOC", "Nadim Ladki": "PER"}
    with pytest.raises(ValueError, match=rf"data.test: {test}:1: entity label 'GPE' is not one of the recipe's labels"):
        run(gazetteer_recipe(tmp_path, test, names), log=lambda message: None)
    mapped = run(gazetteer_recipe(tmp_path, test, names, "data.label_map={GPE: LOC, PERSON: PER}"), log=lambda message: None)
    assert mapped["test"]["seqeval"]["micro"]["f1"] == 1.0
    gold = json.loads((tmp_path / "run" / "data" / "test.json").read_text())
    assert [example["output"] for example in gold] == ["[Japan | LOC] won .", "[Nadim Ladki | PER] wrote ."]
    dropped = run(gazetteer_recipe(tmp_path, test, names, "data.unknown_labels=drop", "data.label_map={PERSON: PER}"),
                  log=lambda message: None)
    assert dropped["test"]["seqeval"]["micro"]["precision"] == 0.5  # Japan is tagged, but its gold entity was dropped


def test_11_decomposed_text_tokenizes_and_tags_as_composed_with_offsets_into_the_original(tmp_path: Path) -> None:
    composed = "Müller flew from Düsseldorf to Malmö."
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    tokenizer = plugins.get_tokenizer("regex")()
    words = [decomposed[s:e] for s, e in tokenizer.tokenize(decomposed)]
    assert [unicodedata.normalize("NFC", w) for w in words] == ["Müller", "flew", "from", "Düsseldorf", "to", "Malmö", "."]

    names = {"Müller": "PER", "Düsseldorf": "LOC", "Malmö": "LOC"}
    entries = tmp_path / "names.json"
    entries.write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
    tagger = Tagger.load("gazetteer", predictor="gazetteer", entries=str(entries), format="bracketed", labels="conll2003")
    for text in (composed, decomposed):
        document = tagger(text)
        assert [(e.label, unicodedata.normalize("NFC", e.text)) for e in document] == [
            ("PER", "Müller"), ("LOC", "Düsseldorf"), ("LOC", "Malmö")
        ]
        assert all(text[e.start : e.end] == e.text for e in document)
    test = jsonl(tmp_path / "test.jsonl", {"text": decomposed, "entities": [[0, len(unicodedata.normalize("NFD", "Müller")), "PER"]]})
    assert JsonlReader().read(test)[0].tokens[0] == "Müller"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["predict", "M", "--max-tokens", "-1"], "--max-tokens"),
        (["predict", "M", "--max-tokens", "0"], "--max-tokens"),
        (["predict", "M", "--batch-size", "0"], "--batch-size"),
        (["serve", "M", "--max-batch-size", "0"], "--max-batch-size"),
        (["serve", "M", "--max-texts", "-1"], "--max-texts"),
        (["serve", "M", "--port", "70000"], "--port"),
        (["serve", "M", "--max-wait-ms", "-5"], "--max-wait-ms"),
    ],
)
def test_12_numbers_that_would_drop_work_are_refused_naming_the_argument(args: list[str], option: str) -> None:
    result = CliRunner().invoke(cli, args, input="Japan won.\n")
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output, result.output


def test_12_the_python_api_refuses_them_too(tmp_path: Path) -> None:
    entries = tmp_path / "names.json"
    entries.write_text(json.dumps({"Japan": "LOC"}), encoding="utf-8")
    tagger = Tagger.load("gazetteer", predictor="gazetteer", entries=str(entries), format="bracketed", labels="conll2003")
    with pytest.raises(ValueError, match="batch_size must be at least 1, not 0"):
        list(tagger.pipe(["Japan won."], batch_size=0))
    with pytest.raises(TypeError, match="to tag one text, call the tagger"):
        list(tagger.pipe("Japan won."))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens must be at least 1, not -1"):
        Tagger.load("gazetteer", predictor="gazetteer", entries=str(entries), format="bracketed", labels="conll2003", max_tokens=-1)
    with pytest.raises(ValueError, match="max_texts must be at least 1, not 0"):
        Limits(max_texts=0)
