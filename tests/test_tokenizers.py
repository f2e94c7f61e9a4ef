"""The tokenizers split raw text as CoNLL-2003 does and keep every token's characters.

``benchmarks/tokenize.md`` measures them on all of eng.testb; these cases pin the rules.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from ner_toolkit import plugins
from ner_toolkit.corpus.spacy_tokenizer import SpacyTokenizer
from ner_toolkit.corpus.tokenizers import RegexTokenizer

TEXT = "Hussain, considered surplus to England's one-day requirements, struck 158."
CONLL = ["Hussain", ",", "considered", "surplus", "to", "England", "'s", "one-day", "requirements", ",", "struck", "158", "."]


def words(text: str, offsets: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in offsets]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("NHL ICE HOCKEY - THURSDAY'S RESULTS.", ["NHL", "ICE", "HOCKEY", "-", "THURSDAY", "'S", "RESULTS", "."]),
        ("Pace outdistanced three finalists -- Virginia Tech...", ["Pace", "outdistanced", "three", "finalists", "--", "Virginia", "Tech", "..."]),
        ("Bayern beat Bre-X 2-0 on 1996-12-06 at 14:06 for a 10-year deal.",
         ["Bayern", "beat", "Bre-X", "2-0", "on", "1996-12-06", "at", "14:06", "for", "a", "10-year", "deal", "."]),
        ("J. Smith of Acme Corp. paid C$0.45, +44 and .500 in the 61st over.",
         ["J.", "Smith", "of", "Acme", "Corp.", "paid", "C$", "0.45", ",", "+44", "and", ".500", "in", "the", "61st", "over", "."]),
        ("O'Brien and I'm sure they can't.", ["O'Brien", "and", "I", "'m", "sure", "they", "ca", "n't", "."]),
        ("1. Jesper Ronnback (Sweden) 25.76 points", ["1.", "Jesper", "Ronnback", "(", "Sweden", ")", "25.76", "points"]),
        ("They bought it from Acme Inc.", ["They", "bought", "it", "from", "Acme", "Inc", "."]),
    ],
)
def test_the_regex_tokenizer_follows_conll_conventions(text: str, tokens: list[str]) -> None:
    assert words(text, RegexTokenizer().tokenize(text)) == tokens


@pytest.mark.parametrize("splitter", ["pysbd", "rules"])
def test_sentences_skip_abbreviations_and_follow_quotes(splitter: str) -> None:
    text = 'He flew to the U.S. on Monday. "I am sure," he said. "We won." J. Smith agreed.'
    assert [" ".join(words(text, s)) for s in RegexTokenizer(splitter=splitter).sentences(text)] == [
        "He flew to the U.S. on Monday .",
        '" I am sure , " he said .',
        '" We won . "',
        "J. Smith agreed .",
    ]


def test_pysbd_is_the_default_splitter_and_ends_a_sentence_after_an_abbreviation() -> None:
    text = "He left at 9 p.m. The game ended."
    assert RegexTokenizer().options.splitter == "pysbd"
    assert [" ".join(words(text, s)) for s in RegexTokenizer().sentences(text)] == ["He left at 9 p.m.", "The game ended ."]
    assert len(RegexTokenizer(splitter="rules").sentences(text)) == 1  # the rules never end a sentence after an abbreviation
    assert RegexTokenizer(split_sentences=False).sentences(text) == [RegexTokenizer().tokenize(text)]


def test_a_splitter_never_cuts_a_token() -> None:
    from ner_toolkit.corpus.tokenizers import group_tokens

    tokens = [(0, 3), (4, 8), (9, 12), (13, 16)]
    assert group_tokens(tokens, [(0, 6), (6, 16)]) == [[(0, 3), (4, 8)], [(9, 12), (13, 16)]]  # a cut inside "4..8" keeps it whole
    assert group_tokens(tokens, []) == [tokens]
    assert group_tokens([], [(0, 5)]) == []
    text = "Essex won. Then it rained."
    sentences = plugins.get_splitter("pysbd")().split(text, RegexTokenizer().tokenize(text))
    assert [text[a:b].strip() for a, b in sentences] == ["Essex won.", "Then it rained."]


def test_the_spacy_tokenizer_keeps_offsets_and_hyphenated_words() -> None:
    tokenizer = plugins.get_tokenizer("spacy")()
    assert isinstance(tokenizer, SpacyTokenizer)
    assert words(TEXT, tokenizer.tokenize(TEXT)) == CONLL
    text = "Bayern beat Bre-X 2-0 on 1996-12-06.  It cannot last (Reuters): no.\n\nThen it rained!"
    assert [words(text, s) for s in tokenizer.sentences(text)] == [
        ["Bayern", "beat", "Bre-X", "2-0", "on", "1996-12-06", "."],
        ["It", "cannot", "last", "(", "Reuters", ")", ":", "no", "."],  # whitespace tokens are dropped
        ["Then", "it", "rained", "!"],
    ]
    # spaCy's own English rules, for comparison: what conll=True switches off
    plain = SpacyTokenizer(conll=False)
    assert words(text, plain.tokenize(text))[2:5] == ["Bre", "-", "X"]
    assert "can" in words(text, plain.tokenize(text)) and "):" in words(text, plain.tokenize(text))
    assert SpacyTokenizer(split_sentences=False).sentences(text) == [tokenizer.tokenize(text)]
    assert tokenizer.sentences("") == [] and tokenizer.tokenize(" \n ") == []
    with pytest.raises(ValueError, match="extra_forbidden|Extra inputs"):
        SpacyTokenizer(conl=True)


def test_listing_the_spacy_tokenizer_imports_no_spacy() -> None:
    """The plugin is registered like any other; spaCy (which imports torch through thinc) loads on first use."""
    code = "import sys\nfrom ner_toolkit import plugins\nplugins.get_tokenizer('spacy')()\nassert 'spacy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
