"""Each row's draft: the text its guess expects, cut to the row's budget and tokenized in cached chunks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .guesses import EntityMemory, draft
from .rows import Row
from .vocabulary import VocabTrie

DRAFT_BYTES = 32  # the shortest draft text made at once: a few passes' worth at the usual budgets
MAX_PIECES = 1 << 17  # draft texts and chunks whose ids are kept, some tens of MB: those common to many sentences stay
PROBE = "[Hussain | PER] , considered surplus to <LOC>England</LOC> 's one-day 158 . U.S. ``Quote'' 1996-08-30 Müller"


def splits_at_spaces(encode: Callable[[str], list[int]]) -> bool:
    """Whether ``encode`` gives a text's ids as those of its space-led chunks one after another.

    Byte-level BPE tokenizers (GPT-2, Qwen, SmolLM2) do: their pre-tokens never cross the
    start of a space. A draft is then tokenized chunk by chunk (" the", " [", "PER"), each
    chunk cached across sentences, instead of whole. Checked on a probe text, since other
    tokenizers (a SentencePiece dummy prefix) may not.
    """
    first, *rest = PROBE.split(" ")
    chunks = [first] + [" " + chunk for chunk in rest]
    return [i for chunk in chunks for i in encode(chunk)] == encode(PROBE)


class Drafter:
    """Drafts of up to ``draft_tokens`` tokens from ``memory``'s guesses; with ``adaptive``, each row's length adapts."""

    def __init__(self, tokenizer: Any, trie: VocabTrie, memory: EntityMemory, draft_tokens: int, adaptive: bool) -> None:
        self.tokenizer = tokenizer
        self.trie = trie
        self.memory = memory
        self.draft_tokens = draft_tokens
        self.adaptive = adaptive
        self._typical_budget = float(draft_tokens)  # what rows' budgets come to: a new row's first
        self._backend = getattr(tokenizer, "backend_tokenizer", None)
        self.pieces: dict[bytes, tuple[int, ...]] = {}  # draft text or chunk -> its tokens, shared by rows and sentences
        self.limit = MAX_PIECES
        self._by_chunks = splits_at_spaces(self._encode)

    def first_budget(self) -> int:
        """A new row's draft length: where rows' budgets have been coming to lately (all ``draft_tokens`` at first)."""
        return max(1, round(self._typical_budget)) if self.adaptive else self.draft_tokens

    def ids(self, row: Row) -> list[int]:
        """The ids of a row's draft text, cut to its budget.

        With a tokenizer that splits at spaces, the text is tokenized chunk by chunk, each
        chunk cached across sentences. The rest of a word the output has begun with a shorter
        token than the tokenizer's is taken as the longest vocabulary entries in turn: those
        rests seldom come back, and a tokenizer call costs more than the rest of the pass.
        """
        text = self._text(row)
        if not text:
            return []
        if not self._by_chunks:
            return list(self._piece(text)[: row.budget])
        ids: list[int] = []
        start, size = 0, len(text)
        while start < size and len(ids) < row.budget:
            end = text.find(b" ", start + 1)
            end = size if end < 0 else end
            chunk = text[start:end]
            found = self.pieces.get(chunk)
            if found is None:
                found = self.trie.greedy(chunk) if start == 0 and row.at and chunk[0] != 0x20 else self._piece(chunk)
            ids += found
            start = end
        return ids[: row.budget]

    def _text(self, row: Row) -> bytes:
        """The next ``8 * budget`` bytes or so of the row's draft text, to a space or its end.

        The text is made anew only where the output left it or ran past it: most chosen
        tokens write it on, whole or a shorter token of it, so one text serves several passes.
        """
        if not row.budget or row.grammar is None:
            return b""
        want = 8 * row.budget
        text, start = row.expect, row.at
        if len(text) - start < want and not row.whole:
            limit = max(want, DRAFT_BYTES)
            text = row.expect = draft(row.grammar, row.states, self.memory, limit=limit)
            start = row.at = 0
            row.whole = len(text) < limit
        end = text.find(b" ", start + want)  # to the end of a chunk: a cut one would be tokenized as a fragment
        return text[start : end if end >= 0 else len(text)]

    def tokenize_words(self, rows: Sequence[Row]) -> None:
        """Tokenize the words of a batch's sentences in one call, bare and after a space: most chunks drafts are made of."""
        if not (self._by_chunks and self._backend is not None):
            return
        words = {word for row in rows if row.grammar is not None for word in row.grammar.tokens}
        missing = [chunk for word in words for chunk in (word, b" " + word) if chunk not in self.pieces][: self.limit]
        if missing:
            self._make_room(len(missing))
            texts = [chunk.decode("utf-8", errors="ignore") for chunk in missing]
            for chunk, encoding in zip(missing, self._backend.encode_batch(texts, add_special_tokens=False)):
                self.pieces[chunk] = tuple(encoding.ids)

    def _piece(self, text: bytes) -> tuple[int, ...]:
        """The ids of a draft or of one chunk of it, cached."""
        found = self.pieces.get(text)
        if found is None:
            self._make_room(1)
            found = self.pieces[text] = tuple(self._encode(text.decode("utf-8", errors="ignore")))
        return found

    def _make_room(self, more: int) -> None:
        """Empty the piece cache where ``more`` pieces would take it past its ``limit``."""
        if len(self.pieces) + more > self.limit:
            self.pieces.clear()

    def _encode(self, text: str) -> list[int]:
        """The tokenizer's ids for ``text``: straight from its Rust backend where it has one (a third of the call's cost)."""
        if self._backend is not None:
            return self._backend.encode(text, add_special_tokens=False).ids
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def schedule(self, row: Row, accepted: int, drafted: int, shrink: bool = True) -> None:
        """The next draft's length: doubled while whole drafts are accepted, else about twice what was.

        A row whose drafts the model keeps leaving (a model that does not copy, or a stretch
        of entities no guess foresaw) stops paying for draft tokens it rejects: positions
        fed, and the host's work to plan and verify them. Where draft tokens are worth far
        more than they cost (``shrink`` false: a model that copies, whose forward pass is
        most of the time), a rejection does not shorten the next draft. The output does not
        depend on it.
        """
        if not self.adaptive:
            return
        if accepted == drafted:
            row.budget = min(self.draft_tokens, max(2 * row.budget, 2))
        elif shrink:
            row.budget = min(self.draft_tokens, max(1, (row.budget + 2 * accepted + 1) // 2))
        self._typical_budget += (row.budget - self._typical_budget) / 256
