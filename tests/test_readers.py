"""The jsonl reader and the tokenizers: character offsets kept, misaligned entities never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import Span, plugins
from ner_toolkit.cli import cli
from ner_toolkit.corpus.jsonl_reader import JsonlFormatError, JsonlReader
from ner_toolkit.corpus.tokenizers import RegexTokenizer, WhitespaceTokenizer

TEXT = "Hussain, considered surplus to England's one-day requirements, struck 158."


def write(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def words(text: str, offsets: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in offsets]


def test_the_regex_tokenizer_splits_as_conll_does() -> None:
    tokenizer = RegexTokenizer()
    assert words(TEXT, tokenizer.tokenize(TEXT)) == [
        "Hussain", ",", "considered", "surplus", "to", "England", "'s", "one-day", "requirements", ",", "struck", "158", ".",
    ]
    text = "The U.S. didn't pay $1,000 at 14:06. Then it rained!"
    assert [words(text, s) for s in tokenizer.sentences(text)] == [
        ["The", "U.S.", "did", "n't", "pay", "$", "1,000", "at", "14:06", "."], ["Then", "it", "rained", "!"],
    ]
    assert words("a  b\tc", WhitespaceTokenizer().tokenize("a  b\tc")) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="matches the empty string"):
        RegexTokenizer(pattern=r"\w*")


def test_records_of_annotation_tools_become_sentences_with_offsets(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [
        {"text": TEXT, "entities": [[0, 7, "PER"], [31, 38, "LOC"]]},  # spaCy / doccano lists
        {"id": "n2", "document_id": "d1", "text": "EU rejects German call", "spans": [{"start": 0, "end": 2, "label": "ORG"},
                                                                                 {"start": 11, "end": 18, "label": "MISC"}]},
        {"text": "Peter Blackburn", "label": [{"start": 0, "end": 15, "labels": ["PER"]}]},  # Label Studio's JSON-MIN
    ])
    first, second, third = JsonlReader().read(path)
    assert first.id == "a.jsonl:1" and first.tokens[:2] == ("Hussain", ",")
    assert first.spans == (Span(0, 1, "PER"), Span(5, 6, "LOC"))
    assert [TEXT[slice(*first.char_span(span))] for span in first.spans] == ["Hussain", "England"]
    assert (second.id, second.document_id, second.spans) == ("n2", "d1", (Span(0, 1, "ORG"), Span(2, 3, "MISC")))  # trailing space trimmed
    assert third.spans == (Span(0, 2, "PER"),)


def test_an_entity_inside_a_token_is_an_error_or_counted_never_silent(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [{"text": "Hussain's bat", "entities": [[0, 3, "PER"]]}])
    with pytest.raises(JsonlFormatError, match=r"a.jsonl:1: entities\[0\]: PER 'Hus' at \[0, 3\) starts or ends inside a token"):
        JsonlReader().read(path)
    with pytest.warns(UserWarning, match="1 entities start or end inside a token and were dropped"):
        assert JsonlReader(misaligned="drop").read(path)[0].spans == ()
    with pytest.warns(UserWarning, match="were widened to whole tokens"):
        assert JsonlReader(misaligned="widen").read(path)[0].spans == (Span(0, 1, "PER"),)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("{oops", "a.jsonl:2: not JSON"),
        ([1, 2], "a.jsonl:2: expected an object with 'text', not list"),
        ({"entities": []}, "a.jsonl:2: 'text' must be a non-empty string"),
        ({"text": "EU", "entities": [[0, 5, "ORG"]]}, r"a.jsonl:2: entities\[0\]: offsets \[0, 5\) outside the text's 2 characters"),
        ({"text": "EU", "entities": [[0, 2]]}, r"a.jsonl:2: entities\[0\]: expected \[start, end, label\]"),
        ({"text": "EU", "entities": "ORG"}, "a.jsonl:2: 'entities' must be a list"),
    ],
)
def test_bad_records_name_their_line(tmp_path: Path, record: object, message: str) -> None:
    path = write(tmp_path / "a.jsonl", [{"text": "fine"}, record])
    with pytest.raises(JsonlFormatError, match=message):
        JsonlReader().read(path)


def test_invalid_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(JsonlFormatError, match=r"a.jsonl:1: not UTF-8 text \(byte 0xe9 at byte offset 13"):
        JsonlReader().read(path)


def test_an_unknown_tokenizer_is_a_recipe_error(tmp_path: Path) -> None:
    from ner_toolkit.run.recipe import RecipeError, Recipe, validate_components

    recipe = Recipe.model_validate({"data": {"reader": {"name": "jsonl", "options": {"tokenizer": "nope"}}}, "scorers": []})
    with pytest.raises(RecipeError, match="data.reader.options.tokenizer: unknown tokenizer 'nope'; available: regex, spacy, whitespace"):
        validate_components(recipe, "r.yaml")
    assert {c.name for c in plugins.components() if c.kind == "tokenizer"} >= {"regex", "whitespace"}


NESTED = [{"text": "Bank of England staff", "entities": [[0, 15, "ORG"], [8, 15, "LOC"]]}]


def test_nested_entities_are_refused_before_rendering_unless_the_format_nests(tmp_path: Path) -> None:
    write(tmp_path / "nested.jsonl", NESTED)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"data: {{dir: {tmp_path}, reader: jsonl, train: nested.jsonl}}\nformat: {{name: bracketed}}\nscorers: []\n"
        f"output_dir: {tmp_path / 'run'}\n", encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["render", str(recipe)])
    assert result.exit_code == 1
    assert "data.train: sentence nested.jsonl:1 has nested or overlapping entities" in result.output
    assert not (tmp_path / "run" / "data").exists()
    result = CliRunner().invoke(cli, ["render", str(recipe), "--set", "format.options.nested=true"])
    assert result.exit_code == 0, result.output
    rendered = json.loads((tmp_path / "run" / "data" / "train.json").read_text())
    assert rendered[0]["output"] == "[Bank of [England | LOC] | ORG] staff"


def test_stats_and_evaluate_read_through_the_jsonl_reader(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.jsonl", [
        {"text": "EU rejects German call", "entities": [[0, 2, "ORG"], [11, 17, "MISC"]]},
        {"text": "Peter Blackburn", "entities": [[0, 15, "PER"]]},
    ])
    result = CliRunner().invoke(cli, ["stats", "--reader", "jsonl", str(gold)])
    assert result.exit_code == 0, result.output
    assert "sentences  2" in result.output and "entities   3  MISC 1  ORG 1  PER 1" in result.output
    outputs = write(tmp_path / "out.jsonl", [{"output": "[EU | ORG] rejects [German | MISC] call"}, {"output": "[Peter | PER] Blackburn"}])
    result = CliRunner().invoke(cli, ["evaluate", str(outputs), "--gold", str(gold), "--reader", "jsonl", "--format", "bracketed",
                                      "--scorer", "seqeval"])
    assert result.exit_code == 0, result.output
    assert "seqeval strict micro: P 0.6667 R 0.6667 F1 0.6667" in result.output
