"""The spaCy pipeline component: a trained model sets ``doc.ents`` on spaCy's own tokens, sentences of many docs per call.

The mapping (whitespace tokens, sentences, overlaps with existing entities, cuts) is checked
with the example plugin's gazetteer predictor, which tags known names deterministically;
the real loading and decoding path with the tiny random Qwen2 model as a bare folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import spacy
from thinc.api import ConfigValidationError

from ner_toolkit.tagging.spacy_component import NerToolkitComponent

NAMES = {"Essex": "ORG", "Kent": "ORG", "Nasser Hussain": "PER", "England": "LOC", "Japan": "LOC"}


@pytest.fixture
def entries(tmp_path: Path) -> Path:
    path = tmp_path / "names.json"
    path.write_text(json.dumps(NAMES), encoding="utf-8")
    return path


def gazetteer_nlp(entries: Path, sentencizer: bool = True, **config: Any) -> spacy.language.Language:
    nlp = spacy.blank("en")
    if sentencizer:
        nlp.add_pipe("sentencizer")
    options = {"predictor": "gazetteer", "entries": str(entries), **config.pop("options", {})}
    nlp.add_pipe("ner_toolkit", config={"model": "gazetteer", "format": "bracketed", "labels": "conll2003", "options": options, **config})
    return nlp


def ents(doc: Any) -> list[tuple[int, int, str, str]]:
    return [(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents]


class CountingCalls:
    """Wraps a tagger's predictor's ``predict`` on the instance: records each call's sentences."""

    def __init__(self, component: NerToolkitComponent) -> None:
        self.calls: list[list[list[str]]] = []
        predictor = component.tagger.predictor
        original = predictor.predict

        def predict(sentences: Any, examples: Any = None) -> Any:
            self.calls.append([list(sentence.tokens) for sentence in sentences])
            return original(sentences, examples)

        predictor.predict = predict  # type: ignore[method-assign]


def test_entities_land_on_spacy_tokens_across_whitespace_and_sentences(entries: Path) -> None:
    nlp = gazetteer_nlp(entries)
    counter = CountingCalls(nlp.get_pipe("ner_toolkit"))
    text = "Essex beat  Kent.\n\nNasser  Hussain scored for England."
    doc = nlp(text)
    assert ents(doc) == [(0, 5, "ORG", "Essex"), (12, 16, "ORG", "Kent"), (19, 34, "PER", "Nasser  Hussain"), (46, 53, "LOC", "England")]
    # whitespace tokens are never shown to the model; each sentence is one input
    assert counter.calls == [[["Essex", "beat", "Kent", "."], ["Nasser", "Hussain", "scored", "for", "England", "."]]]
    assert doc._.ner_toolkit_diagnostics == []
    # without sentence boundaries the whole doc is one sentence
    whole = gazetteer_nlp(entries, sentencizer=False)
    counter = CountingCalls(whole.get_pipe("ner_toolkit"))
    assert ents(whole(text)) == ents(doc)
    assert counter.calls == [[["Essex", "beat", "Kent", ".", "Nasser", "Hussain", "scored", "for", "England", "."]]]


def test_nlp_pipe_decodes_sentences_of_several_docs_together_and_empty_docs_get_nothing(entries: Path) -> None:
    nlp = gazetteer_nlp(entries, options={"batch_size": 2})
    counter = CountingCalls(nlp.get_pipe("ner_toolkit"))
    texts = ["Essex beat Kent.", "", "Japan won. England lost.", "   ", "Nasser Hussain"]
    docs = list(nlp.pipe(texts, batch_size=1))
    assert [d.text for d in docs] == texts
    assert [[e.text for e in d.ents] for d in docs] == [["Essex", "Kent"], [], ["Japan", "England"], [], ["Nasser Hussain"]]
    # the tagger's batch counts sentences, across docs: (doc 0, doc 2's first), (doc 2's second, doc 4)
    assert counter.calls == [[["Essex", "beat", "Kent", "."], ["Japan", "won", "."]], [["England", "lost", "."], ["Nasser", "Hussain"]]]
    assert nlp("").ents == () and len(counter.calls) == 2  # a doc with no text costs no call


def test_existing_entities_win_unless_overwrite_ents(entries: Path) -> None:
    for overwrite, expected in ((False, [("Nasser", "CAPTAIN"), ("England", "LOC")]), (True, [("Nasser Hussain", "PER"), ("England", "LOC")])):
        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler").add_patterns([{"label": "CAPTAIN", "pattern": "Nasser"}])
        options = {"predictor": "gazetteer", "entries": str(entries)}
        nlp.add_pipe("ner_toolkit", config={"model": "gazetteer", "format": "bracketed", "options": options, "overwrite_ents": overwrite})
        assert [(e.text, e.label_) for e in nlp("Nasser Hussain played for England").ents] == expected


def test_a_sentence_over_max_tokens_is_cut_with_a_warning(entries: Path) -> None:
    nlp = gazetteer_nlp(entries, sentencizer=False, options={"max_tokens": 3})
    counter = CountingCalls(nlp.get_pipe("ner_toolkit"))
    with pytest.warns(UserWarning, match="has 5 tokens, more than max_tokens=3"):
        doc = nlp("Essex beat Kent at Japan")
    assert counter.calls == [[["Essex", "beat", "Kent"], ["at", "Japan"]]]
    assert [e.text for e in doc.ents] == ["Essex", "Kent", "Japan"]


def test_the_config_is_validated_by_spacy() -> None:
    nlp = spacy.blank("en")
    with pytest.raises(ConfigValidationError, match="model"):
        nlp.add_pipe("ner_toolkit", config={"format": "bracketed"})
    with pytest.raises(ConfigValidationError, match="overwrite_ents"):
        nlp.add_pipe("ner_toolkit", config={"model": "x", "overwrite_ents": "maybe"})


def sentences_of(doc: Any) -> Iterator[list[Any]]:
    for sentence in doc.sents:
        tokens = [token for token in sentence if not token.is_space]
        if tokens:
            yield tokens


def test_a_bare_model_folder_tags_like_the_tagger_itself(tiny_qwen2_dir: Path) -> None:
    """The tiny random Qwen2 writes noise, but the component must set exactly the spans the Tagger returns."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    config = {"model": str(tiny_qwen2_dir), "format": "bracketed", "labels": "conll2003", "options": {"batch_size": 8}}
    component = nlp.add_pipe("ner_toolkit", config=config)
    counter = CountingCalls(component)
    texts = [
        "Hussain, considered surplus to England's one-day requirements, struck 158. Essex beat Kent.",
        "",
        "Japan began the defence of their Asian Cup title.",
        "Nadim Ladki\n\nAL-AIN, United Arab Emirates 1996-12-06",
    ]
    docs = list(nlp.pipe(texts, batch_size=2))
    assert len(counter.calls) == 1  # every sentence of the four docs in one batch of 8
    assert docs[1].ents == ()
    tagger = component.tagger
    sentences = [[t.text for t in tokens] for doc in docs for tokens in sentences_of(doc)]
    assert counter.calls[0] == sentences
    predictions = iter(tagger.tag_tokens(sentences))  # the same batch: the same outputs
    found = 0
    for doc in docs:
        expected = []
        for tokens in sentences_of(doc):
            for span in next(predictions).spans:
                first, last = tokens[span.start], tokens[span.end - 1]
                expected.append((first.idx, last.idx + len(last), span.label))
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == expected
        found += len(expected)
    assert found > 0  # the random model does write entities; the comparison above compared something
