"""A tokenizer's vocabulary as bytes, in a byte trie: what the allowed-set walk and greedy draft tokenization read."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _unicode_to_bytes() -> dict[str, int]:
    """The inverse of GPT-2's byte-to-printable-character table (byte-level BPE vocabularies)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}


def token_bytes(tokenizer: Any) -> dict[int, bytes]:
    """The bytes each ordinary vocabulary entry stands for; special and added tokens are left out.

    Byte-level BPE entries (GPT-2, Qwen, SmolLM2) map character by character through GPT-2's
    table; SentencePiece entries (``▁word``, ``<0x0A>``) are read as SentencePiece writes them.
    """
    table = _unicode_to_bytes()
    added = set(getattr(tokenizer, "all_special_ids", []) or [])
    added.update(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    result: dict[int, bytes] = {}
    for text, index in tokenizer.get_vocab().items():
        if index in added or not text:
            continue
        if all(ch in table for ch in text):
            data = bytes(table[ch] for ch in text)
        elif len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            data = bytes([int(text[3:5], 16)])
        else:
            data = text.replace("▁", " ").encode("utf-8")
        if data:
            result[index] = data
    return result


class VocabTrie:
    """A byte trie of a vocabulary, in plain integers: node 0 is the root.

    ``edges[node << 8 | byte]`` is a node's child by a byte, ``ends[node]`` the token ids
    whose bytes end there, ``inner[node]`` whether it has children. Dicts of ints and tuples
    are not tracked by Python's cyclic garbage collector, so its full collections do not walk
    the trie (Qwen2.5's has 333,000 nodes: a million lists and dicts in a trie of nodes).
    """

    def __init__(self, vocabulary: dict[int, bytes]) -> None:
        self.bytes = vocabulary
        edges: dict[int, int] = {}
        ends: dict[int, list[int]] = {}
        size = 1
        for index in sorted(vocabulary):
            node = 0
            for byte in vocabulary[index]:
                key = node << 8 | byte
                child = edges.get(key)
                if child is None:
                    child = edges[key] = size
                    size += 1
                node = child
            ends.setdefault(node, []).append(index)
        inner = bytearray(size)
        for key in edges:
            inner[key >> 8] = 1
        self.edges = edges
        self.ends = {node: tuple(ids) for node, ids in ends.items()}
        self.inner = bytes(inner)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> VocabTrie:
        return cls(token_bytes(tokenizer))

    def greedy(self, data: bytes) -> tuple[int, ...]:
        """``data`` as the longest vocabulary entries in turn, left to right (not the tokenizer's ids: a guess at them).

        Stops early at a byte no entry starts with.
        """
        edges, ends = self.edges, self.ends
        ids: list[int] = []
        start, size = 0, len(data)
        while start < size:
            node, best, end = 0, None, start
            for at in range(start, size):
                node = edges.get(node << 8 | data[at])
                if node is None:
                    break
                if node in ends:
                    best, end = ends[node][0], at + 1
            if best is None:
                break
            ids.append(best)
            start = end
        return tuple(ids)
