"""Ways a model damages an output, as hypothesis strategies: for the formats' and the scorers' property tests."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

Mutation = Callable[[st.DrawFn, str], str]
MARKUP = ["[", "]", " | ", "<", "</", ">", '"', "{", "}", ",", " "]


def cut(draw: st.DrawFn, text: str) -> str:
    return text[: draw(st.integers(0, len(text)))]


def delete(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + text[at + draw(st.integers(1, 3)) :]


def double(draw: st.DrawFn, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    return text[:at] + text[at : at + draw(st.integers(1, 4))] * 2 + text[at:]


def inserter(pieces: list[str]) -> Mutation:
    """A mutation that inserts one of ``pieces`` (markup characters, a newline, ...) anywhere."""

    def insert(draw: st.DrawFn, text: str) -> str:
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.sampled_from(pieces)) + text[at:]

    return insert


def respace(draw: st.DrawFn, text: str) -> str:
    return text.replace(" ", draw(st.sampled_from(["", "  "])), draw(st.integers(1, 3)))
