"""The reader reproduces the exact counts of shared/data/conll2003/README.md."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from ner_toolkit import CoNLLFormatError, Sentence, Span, corpus_stats, read_conll, write_conll
from ner_toolkit.cli import cli

EXPECTED = {
    "eng.train": dict(documents=946, sentences=14041, tokens=203621, LOC=7140, MISC=3438, ORG=6321, PER=6600,
                      sentences_docstart=14987, tokens_docstart=204567),
    "eng.testa": dict(documents=216, sentences=3250, tokens=51362, LOC=1837, MISC=922, ORG=1341, PER=1842,
                      sentences_docstart=3466, tokens_docstart=51578),
    "eng.testb": dict(documents=231, sentences=3453, tokens=46435, LOC=1668, MISC=702, ORG=1661, PER=1617,
                      sentences_docstart=3684, tokens_docstart=46666),
}
TAGS = {
    "eng.train": {"O": 169578, "I-PER": 11128, "I-ORG": 10001, "I-LOC": 8286, "I-MISC": 4556,
                  "B-MISC": 37, "B-ORG": 24, "B-LOC": 11},
    "eng.testa": {"O": 42759, "I-PER": 3149, "I-LOC": 2094, "I-ORG": 2092, "I-MISC": 1264, "B-MISC": 4},
    "eng.testb": {"O": 38323, "I-PER": 2773, "I-ORG": 2491, "I-LOC": 1919, "I-MISC": 909,
                  "B-MISC": 9, "B-LOC": 6, "B-ORG": 5},
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_counts_match_the_data_readme(conll: Path, name: str) -> None:
    expected = EXPECTED[name]
    stats = corpus_stats(conll / name)
    assert stats.documents == expected["documents"]
    assert stats.sentences == expected["sentences"]
    assert stats.tokens == expected["tokens"]
    assert dict(stats.entities) == {label: expected[label] for label in ("LOC", "MISC", "ORG", "PER")}
    assert stats.sentences_with_docstart == expected["sentences_docstart"]
    assert stats.tokens_with_docstart == expected["tokens_docstart"]
    assert dict(stats.tags) == TAGS[name]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_both_docstart_conventions(conll: Path, name: str) -> None:
    skipped = read_conll(conll / name)
    kept = read_conll(conll / name, docstart="keep")
    assert len(skipped) == EXPECTED[name]["sentences"]
    assert len(kept) == EXPECTED[name]["sentences_docstart"]
    assert sum(len(s.tokens) for s in kept) == EXPECTED[name]["tokens_docstart"]
    assert len({s.document_id for s in skipped}) == EXPECTED[name]["documents"]
    assert [s for s in kept if not s.is_docstart] == skipped


def test_sentence_ids_name_the_line_of_the_first_token(conll: Path) -> None:
    sentences = read_conll(conll / "eng.testb")
    lines = (conll / "eng.testb").read_text().splitlines()
    for sentence in sentences[:50] + sentences[-5:]:
        name, line = sentence.id.split(":")
        assert name == "eng.testb"
        assert lines[int(line) - 1].split()[0] == sentence.tokens[0]


def test_ill_formed_b_misc_after_o_in_eng_train(conll: Path) -> None:
    sentences = {s.id: s for s in read_conll(conll / "eng.train")}
    lines = (conll / "eng.train").read_text().splitlines()
    for number, token in ((152428, "Atlanta"), (175436, "Urdu-speaking")):
        assert lines[number - 1].split()[0] == token
        sentence = next(s for s in sentences.values() if int(s.id.split(":")[1]) <= number
                        < int(s.id.split(":")[1]) + len(s.tokens))
        index = number - int(sentence.id.split(":")[1])
        assert any(span.start == index and span.label == "MISC" for span in sentence.spans)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_write_then_read_gives_the_same_sentences(conll: Path, name: str, tmp_path: Path) -> None:
    sentences = read_conll(conll / name, docstart="keep")
    out = tmp_path / name
    with out.open("w") as handle:
        write_conll(handle, sentences, "IOB1")
    again = read_conll(out, docstart="keep")
    assert [(s.tokens, s.spans) for s in again] == [(s.tokens, s.spans) for s in sentences]


def test_writer_adds_a_prediction_column() -> None:
    handle = io.StringIO()
    sentence = Sentence("x:1", ("EU", "rejects", "German", "call"), (Span(0, 1, "ORG"), Span(2, 3, "MISC")))
    write_conll(handle, [sentence], "IOB2", predictions=[[Span(0, 1, "LOC")]])
    assert handle.getvalue() == "EU B-ORG B-LOC\nrejects O O\nGerman B-MISC O\ncall O O\n\n"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("EU I-ORG\nrejects\n", 2, "expected a token and a tag"),
        ("EU I-ORG\n\nGerman X-MISC\n", 3, "invalid IOB1 tag 'X-MISC'"),
        ("-DOCSTART- O\n\nA O\nB O\nC Q-LOC\n", 5, "invalid IOB1 tag 'Q-LOC'"),
    ],
)
def test_malformed_files_name_the_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = tmp_path / "bad.conll"
    path.write_text(text)
    with pytest.raises(CoNLLFormatError) as error:
        read_conll(path)
    assert str(error.value).startswith(f"bad.conll:{line}: ")
    assert fragment in str(error.value)


def test_tag_column_is_selectable(tmp_path: Path) -> None:
    path = tmp_path / "two.conll"
    path.write_text("Paris NNP B-LOC I-LOC\nis VBZ O O\n\n")
    assert read_conll(path, "IOB2", tag_column=2)[0].spans == (Span(0, 1, "LOC"),)
    assert read_conll(path, "IOB1", tag_column=-1)[0].spans == (Span(0, 1, "LOC"),)


def test_stats_command_prints_the_counts(conll: Path) -> None:
    result = CliRunner().invoke(cli, ["stats", str(conll / "eng.testb")])
    assert result.exit_code == 0, result.output
    assert "documents  231" in result.output
    assert "sentences  3,453  (3,684 counting" in result.output
    assert "tokens     46,435  (46,666" in result.output
    assert "entities   5,648  LOC 1,668  MISC 702  ORG 1,661  PER 1,617" in result.output


def test_stats_command_reports_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.conll"
    path.write_text("EU I-ORG\nrejects\n")
    result = CliRunner().invoke(cli, ["stats", str(path)])
    assert result.exit_code == 1
    assert "bad.conll:2:" in result.output


LINES = "-DOCSTART- -X- -X- O\n\nJapan NNP B-NP I-LOC\nwin VB B-VP O\n\nChina NNP I-NP I-LOC\nlost VBD I-VP O\n\n"


def test_a_line_without_its_tag_column_is_an_error_not_an_np_entity(tmp_path: Path) -> None:
    """Read with the chunk column as its tag, ``China NNP I-NP`` used to become an entity of type NP."""
    path = tmp_path / "short.conll"
    path.write_text(LINES.replace("China NNP I-NP I-LOC", "China NNP I-NP"))
    with pytest.raises(CoNLLFormatError) as error:
        read_conll(path)
    assert str(error.value).startswith("short.conll:6: 3 column(s) where line 3, the first token line, has 4")
    with pytest.raises(CoNLLFormatError, match=r"^short\.conll:6: "):
        corpus_stats(path)


def test_a_first_line_without_its_tag_column_is_named_too(tmp_path: Path) -> None:
    path = tmp_path / "short.conll"
    path.write_text(LINES.replace("Japan NNP B-NP I-LOC", "Japan NNP B-NP"))
    with pytest.raises(CoNLLFormatError, match=r"^short\.conll:4: 4 column\(s\) where line 3, the first token line, has 3"):
        read_conll(path)


def test_a_byte_order_mark_does_not_hide_the_first_docstart(tmp_path: Path) -> None:
    path = tmp_path / "bom.conll"
    path.write_bytes(b"\xef\xbb\xbf" + LINES.encode())
    plain = tmp_path / "plain.conll"
    plain.write_text(LINES)
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [("Japan", "win"), ("China", "lost")]
    assert sentences == [Sentence(s.id.replace("plain", "bom"), s.tokens, s.spans, s.document_id.replace("plain", "bom"))
                         for s in read_conll(plain)]
    stats = corpus_stats(path)
    assert (stats.documents, stats.sentences, stats.tokens) == (1, 2, 4)
    assert read_conll(path, docstart="keep")[0].is_docstart


@pytest.mark.parametrize(
    ("data", "line", "offset", "fragment"),
    [
        ("Japan NNP B-NP I-LOC\n\nS\xe3o NNP I-NP I-LOC\n".encode("latin-1"), 3, 23, "not UTF-8 text (byte 0xe3"),
        (b"Japan NNP B-NP I-LOC\n\x89PNG\r\n\x1a\n\x00\x00", 2, 21, "not UTF-8 text (byte 0x89"),
        (b"Japan NNP B-NP I-LOC\nwin\x00 VB B-VP O\n", 2, 24, "binary data, not text (a NUL byte"),
    ],
)
def test_text_that_is_not_utf8_is_an_error_naming_file_line_and_offset(
    tmp_path: Path, data: bytes, line: int, offset: int, fragment: str
) -> None:
    path = tmp_path / "latin.conll"
    path.write_bytes(data)
    for read in (read_conll, corpus_stats):
        with pytest.raises(CoNLLFormatError) as error:
            read(path)
        message = str(error.value)
        assert message.startswith(f"latin.conll:{line}: ") and fragment in message
        assert f"byte offset {offset}" in message


def test_stats_command_reports_a_latin1_file_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "latin.conll"
    path.write_bytes("S\xe3o NNP I-NP I-LOC\n".encode("latin-1"))
    result = CliRunner().invoke(cli, ["stats", str(path)])
    assert result.exit_code == 1
    assert "latin.conll:1:" in result.output and "byte offset 1" in result.output
    assert "Traceback" not in result.output
