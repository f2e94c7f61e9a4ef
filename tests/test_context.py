"""Document context in prompts: exactly the neighbours from the same document, the same from every reader and from the Tagger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ner_toolkit import Tagger, read_conll
from ner_toolkit.context import Context
from ner_toolkit.labels import CONLL2003_LABELS
from ner_toolkit.plugins import get_reader
from ner_toolkit.run.components import build_formatter
from ner_toolkit.run.pipeline import render_split, run
from ner_toolkit.run.recipe import RecipeError, load_recipe
from ner_toolkit.spans import Sentence

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "recipes" / "quickstart.yaml"


def test_each_sentence_sees_only_the_neighbours_of_its_own_document(conll: Path) -> None:
    sentences = read_conll(conll / "eng.testb")
    for k in (1, 2):
        formatter = build_formatter("bracketed", CONLL2003_LABELS, context=k)
        examples = formatter.examples(sentences)
        for i, (sentence, example) in enumerate(zip(sentences, examples)):
            same = [j for j, s in enumerate(sentences) if s.document_id == sentence.document_id]
            at = same.index(i)
            before = tuple(sentences[j].text for j in same[max(0, at - k) : at])
            after = tuple(sentences[j].text for j in same[at + 1 : at + 1 + k])
            assert example.context == Context(before, after), sentence.id
            assert example.input == sentence.text  # only the sentence is rewritten
            assert example.model_input.endswith(f"\nSentence: {sentence.text}")
        firsts = [i for i in range(1, len(sentences)) if sentences[i].document_id != sentences[i - 1].document_id]
        assert len(firsts) == 230  # eng.testb's 231 documents: the first sentence of each sees nothing before it
        assert all(examples[i].context.before == () and examples[i - 1].context.after == () for i in firsts)


def test_without_context_prompts_are_as_before(conll: Path) -> None:
    sentences = read_conll(conll / "eng.testa")[:20]
    formatter = build_formatter("bracketed", CONLL2003_LABELS)
    for sentence, example in zip(sentences, formatter.examples(sentences)):
        assert example.context is None and example.model_input == example.input == sentence.text
        assert example.to_alpaca()["input"] == sentence.text
    assert "context" not in formatter.instruction()
    assert "context" in build_formatter("bracketed", CONLL2003_LABELS, context=1).instruction()


def test_the_layout_of_a_prompt_with_context() -> None:
    context = Context(("Japan began the defence .",), ("Syria drew .", "China lost ."))
    assert context.around("Nadim Ladki") == (
        "Context before: Japan began the defence .\nContext after: Syria drew . China lost .\nSentence: Nadim Ladki")
    assert Context().around("AL-AIN") == "Context before:\nContext after:\nSentence: AL-AIN"


def test_docstart_lines_and_sentences_without_a_document_are_never_context(conll: Path) -> None:
    kept = read_conll(conll / "eng.testb", docstart="keep")[:8]
    formatter = build_formatter("bracketed", CONLL2003_LABELS, context=2)
    assert kept[0].is_docstart
    with_docstart = formatter.examples(kept)
    without = formatter.examples(kept[1:])
    assert with_docstart[1:] == without
    assert with_docstart[0].context == Context() and all("-DOCSTART-" not in e.model_input for e in with_docstart[1:])
    loose = [Sentence("a", ("Essex", "won")), Sentence("b", ("Japan", "lost"))]
    assert [e.context for e in formatter.examples(loose)] == [Context(), Context()]


def test_a_jsonl_document_gets_the_same_context_as_conll(conll: Path, tmp_path: Path) -> None:
    sentences = [s for s in read_conll(conll / "eng.testb") if s.document_id in ("eng.testb:doc1", "eng.testb:doc2")]
    path = tmp_path / "docs.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for sentence in sentences:
            text = sentence.text
            starts = [len(" ".join(sentence.tokens[:i])) + (1 if i else 0) for i in range(len(sentence.tokens))]
            spans = [{"start": starts[s.start], "end": starts[s.end - 1] + len(sentence.tokens[s.end - 1]), "label": s.label}
                     for s in sentence.spans]
            handle.write(json.dumps({"id": sentence.id, "document_id": sentence.document_id, "text": text, "spans": spans}) + "\n")
    read = get_reader("jsonl")(tokenizer="whitespace").read(path)
    formatter = build_formatter("bracketed", CONLL2003_LABELS, context=1)
    assert [(e.model_input, e.output) for e in render_split(formatter, read)] == [
        (e.model_input, e.output) for e in render_split(formatter, sentences)]


def test_a_recipe_without_context_keeps_the_render_fingerprint_of_runs_from_before_the_option() -> None:
    from ner_toolkit.run.pipeline import _split_inputs

    def format_inputs(*overrides: str) -> dict:
        return _split_inputs(load_recipe(QUICKSTART, list(overrides)), "test", lambda path: "digest")["format"]

    assert "context" not in format_inputs()
    assert format_inputs("format.context=2")["context"] == 2


def test_a_recipe_refuses_context_out_of_range() -> None:
    with pytest.raises(RecipeError, match="format.context"):
        load_recipe(QUICKSTART, ["format.context=-1"])
    with pytest.raises(RecipeError, match="format.context"):
        load_recipe(QUICKSTART, ["format.context=9"])


def test_the_tagger_gives_each_sentence_its_own_documents_neighbours(tmp_path: Path) -> None:
    entries = tmp_path / "names.json"
    entries.write_text(json.dumps({"Essex": "ORG", "Japan": "LOC"}), encoding="utf-8")
    folder = tmp_path / "run"
    recipe = load_recipe(QUICKSTART, ["data.train=null", "data.dev=null", "data.test=null", "trainer=null", "format.context=1",
                                      f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}", f"output_dir={folder}"])
    run(recipe, log=lambda message: None)
    tagger = Tagger.load(folder, batch_size=2)
    assert tagger.formatter.context == 1
    seen: list = []
    original = tagger.predictor.predict

    def predict(sentences, examples=None):  # type: ignore[no-untyped-def]
        seen.extend(examples)
        return original(sentences, examples)

    tagger.predictor.predict = predict  # type: ignore[method-assign]
    texts = ["Essex won. Japan lost. Then it rained.", "Nasser Hussain scored.", "Hussain and Essex. Rain."]
    documents = list(tagger.pipe(texts))
    assert [e.context for e in seen] == [
        Context((), ("Japan lost .",)), Context(("Essex won .",), ("Then it rained .",)), Context(("Japan lost .",), ()),
        Context(),
        Context((), ("Rain .",)), Context(("Hussain and Essex .",), ()),
    ]
    assert [(e.text, e.label) for e in documents[2]] == [("Essex", "ORG")]
