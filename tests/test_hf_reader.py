"""The `hf` reader: Hugging Face datasets built in the test from the CoNLL files, read back as the CoNLL reader reads them.

Datasets are made here with `Dataset.from_dict` (ClassLabel tags, as the hub's conll2003
has them), saved with `save_to_disk` and as parquet; nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from ner_toolkit import read_conll, spans_to_tags
from ner_toolkit.corpus.hf_reader import HFFormatError, HFReader
from ner_toolkit.run.components import read_sentences
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import check_paths, load_recipe
from ner_toolkit.spans import Span

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"
CONLL_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def conll_dataset(path: Path) -> Dataset:
    """A CoNLL file as the hub's conll2003 shapes it: tokens, IOB2 ClassLabel ids, and here the document of each sentence."""
    sentences = read_conll(path)
    features = Features({"id": Value("string"), "document": Value("string"), "tokens": List(Value("string")),
                         "ner_tags": List(ClassLabel(names=CONLL_NAMES))})
    return Dataset.from_dict({
        "id": [s.id for s in sentences],
        "document": [s.document_id for s in sentences],
        "tokens": [list(s.tokens) for s in sentences],
        "ner_tags": [[CONLL_NAMES.index(t) for t in spans_to_tags(s.spans, len(s.tokens))] for s in sentences],
    }, features=features)


@pytest.fixture(scope="module")
def saved(conll: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf")
    DatasetDict({"validation": conll_dataset(conll / "eng.testa"), "test": conll_dataset(conll / "eng.testb")}).save_to_disk(
        str(folder / "conll2003"))
    conll_dataset(conll / "eng.testb").to_parquet(str(folder / "test.parquet"))
    return folder


@pytest.mark.parametrize(("name", "split"), [("conll2003/validation", "eng.testa"), ("conll2003/test", "eng.testb"),
                                             ("test.parquet", "eng.testb")])
def test_every_sentence_equals_the_conll_readers(saved: Path, conll: Path, name: str, split: str) -> None:
    gold = read_conll(conll / split)
    read = HFReader(id="id", document_id="document").read(saved / name)
    assert len(read) == len(gold) > 3000
    assert [(s.id, s.tokens, s.spans, s.document_id) for s in read] == [(s.id, s.tokens, s.spans, s.document_id) for s in gold]
    plain = HFReader().read(saved / name)  # without the id columns: NAME:ROW
    assert plain[5].id == f"{Path(name).name}:5" and plain[5].spans == gold[5].spans


def test_a_dataset_dict_folder_names_its_splits(saved: Path) -> None:
    with pytest.raises(HFFormatError, match="holds the splits validation, test; name one of their folders"):
        HFReader().read(saved / "conll2003")


def string_tags(tmp_path: Path, name: str, rows: list[tuple[list[str], list[str]]]) -> Path:
    path = tmp_path / name
    Dataset.from_dict({"tokens": [r[0] for r in rows], "ner_tags": [r[1] for r in rows]}).save_to_disk(str(path))
    return path


def test_iob2_string_tags_shaped_like_wnut_17(tmp_path: Path) -> None:
    path = string_tags(tmp_path, "wnut", [
        (["@paul", "said", "Empire", "State", "Building", "is", "tall"], ["O", "O", "B-location", "I-location", "I-location", "O", "O"]),
        (["Apple", "iPhone", "launch"], ["B-corporation", "B-product", "O"]),
    ])
    sentences = HFReader().read(path)
    assert [s.spans for s in sentences] == [(Span(2, 5, "location"),), (Span(0, 1, "corporation"), Span(1, 2, "product"))]


def test_fine_grained_io_labels_shaped_like_few_nerd(tmp_path: Path) -> None:
    names = ["O", "person-actor", "location-GPE", "organization-sportsteam"]
    features = Features({"tokens": List(Value("string")), "fine_ner_tags": List(ClassLabel(names=names))})
    path = tmp_path / "few-nerd"
    Dataset.from_dict({"tokens": [["Tom", "Hanks", "visited", "New", "York", "with", "the", "Yankees"]],
                       "fine_ner_tags": [[1, 1, 0, 2, 2, 0, 0, 3]]}, features=features).save_to_disk(str(path))
    sentence = HFReader(tags="fine_ner_tags").read(path)[0]
    assert sentence.spans == (Span(0, 2, "person-actor"), Span(3, 5, "location-GPE"), Span(7, 8, "organization-sportsteam"))


@pytest.mark.parametrize(("tags", "options", "message"), [
    (["B-PER", "X-PER"], {}, r"bad row 0, column 'ner_tags': tags \['X-PER'\] are not tags"),
    (["B-PER", "S-PER"], {"scheme": "IOB2"}, r"row 0, column 'ner_tags', token 1: invalid IOB2 tag 'S-PER'"),
])
def test_a_tag_the_scheme_cannot_read_names_the_dataset_row_and_column(tmp_path: Path, tags, options, message) -> None:
    path = string_tags(tmp_path, "bad", [(["EU", "rejects"], tags)])
    with pytest.raises(HFFormatError, match=message):
        HFReader(**options).read(path)


def test_a_missing_column_and_a_classlabel_of_non_tags_are_named(tmp_path: Path) -> None:
    path = string_tags(tmp_path, "ok", [(["EU"], ["B-ORG"])])
    with pytest.raises(HFFormatError, match=r"no column 'labels' \(columns: tokens, ner_tags\)"):
        HFReader(tags="labels").read(path)
    pos = tmp_path / "pos"
    features = Features({"tokens": List(Value("string")), "pos_tags": List(ClassLabel(names=["NN", "VB", "DT"]))})
    Dataset.from_dict({"tokens": [["EU", "rejects"]], "pos_tags": [[0, 1]]}, features=features).save_to_disk(str(pos))
    with pytest.raises(HFFormatError, match=r"column 'pos_tags': ClassLabel names \['DT', 'NN', 'VB'\] are not tags"):
        HFReader(tags="pos_tags").read(pos)


def test_a_label_outside_the_recipes_set_names_the_dataset_row_and_column(tmp_path: Path) -> None:
    path = string_tags(tmp_path, "wnut", [(["London"], ["B-location"]), (["Apple"], ["B-corporation"])])
    recipe = load_recipe(REFERENCE, [f"data.dir={tmp_path}", "data.reader=hf", "data.test=wnut"])
    with pytest.raises(ValueError, match=rf"{path} row 0, column 'ner_tags': entity label 'location' is not one of"):
        read_sentences(recipe, path)
    mapped = load_recipe(REFERENCE, [f"data.dir={tmp_path}", "data.reader=hf", "data.label_map={location: LOC, corporation: ORG}"])
    assert [s.spans for s in read_sentences(mapped, path)] == [(Span(0, 1, "LOC"),), (Span(0, 1, "ORG"),)]


def test_a_run_on_a_saved_dataset_scores_as_the_run_on_the_conll_file(
    saved: Path, conll: Path, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    """The same sentences, seed and steps through either reader: the same examples, model and scores."""
    common = [f"model.name_or_path={tiny_qwen2_dir}", "data.limit={train: 2, test: 4}", "trainer.options.max_steps=1",
              "trainer.options.gradient_accumulation_steps=1", "trainer.options.threads=1", "predictor.options.threads=1",
              "predictor.options.max_new_tokens=4", "predictor.options.progress=false", "data.dev=null"]
    from_conll = load_recipe(REFERENCE, [*common, f"data.dir={conll}", "data.train=eng.testa", f"output_dir={tmp_path / 'conll'}"])
    from_hf = load_recipe(REFERENCE, [*common, f"data.dir={saved}", "data.reader={name: hf, options: {id: id}}",
                                      "data.train=conll2003/validation", "data.test=conll2003/test", f"output_dir={tmp_path / 'hf'}"])
    check_paths(from_hf, "recipe")  # a dataset folder is a valid split for the hf reader
    assert run(from_hf, log=lambda m: None) == run(from_conll, log=lambda m: None)
    for name in ("data/train.json", "data/test.json", "predictions/test.jsonl"):
        assert (tmp_path / "hf" / name).read_bytes() == (tmp_path / "conll" / name).read_bytes(), name
    assert json.loads((tmp_path / "hf" / "metrics" / "test.json").read_text())["seqeval"]


@pytest.mark.slow
def test_the_quickstart_on_saved_datasets_scores_as_on_the_conll_files(conll: Path, tmp_path: Path) -> None:
    """The whole quickstart twice (about 20 minutes on 2 cores): through the hf reader and the conll reader, equal metrics."""
    splits = {"train": "eng.train", "validation": "eng.testa", "test": "eng.testb"}
    DatasetDict({name: conll_dataset(conll / file) for name, file in splits.items()}).save_to_disk(str(tmp_path / "conll2003"))
    quickstart = REPO / "recipes" / "quickstart.yaml"
    from_hf = load_recipe(quickstart, [f"data.dir={tmp_path / 'conll2003'}", "data.reader={name: hf, options: {id: id}}",
                                       "data.train=train", "data.dev=validation", "data.test=test", f"output_dir={tmp_path / 'hf'}"])
    from_conll = load_recipe(quickstart, [f"data.dir={conll}", f"output_dir={tmp_path / 'conll'}"])
    results = run(from_hf)
    assert results == run(from_conll)
    assert results["test"]["counts"]["sentences"] == 300 and results["test"]["seqeval"]["micro"]["f1"] >= 0.60
