"""Greedy decoding for copy-and-mark formats: a shared prompt prefix, copy constraints and speculative copying.

One loop serves every mode of the ``transformers`` predictor other than its plain
``generate`` path, batched, with the KV cache:

- **prefix cache**: every prompt starts with the same tokens (chat template, instruction,
  label set). Their KV cache is computed once and copied into each batch, so a sentence
  pays only for its own input.
- **constrained**: at each step the argmax is taken over the tokens that keep the output
  a valid rendering of this input (``constrained.InlineGrammar``), and the end of turn only
  once the rendering is complete; outputs parse with no diagnostics by construction.
- **speculative**: the text that follows if no entity starts or ends (the rest of the input)
  is tokenized as a draft and fed with the last chosen token in one forward pass; the draft
  is accepted while it equals the constrained argmax at each position, and the argmax at the
  first difference is kept too. The output is the constrained greedy output, token for token
  (up to floating-point ties), in a fraction of the forward passes.

Rows of a batch advance by different numbers of tokens: rejected draft positions stay in
the cache as holes that the attention mask hides, positions are given explicitly, holes
that every row shares at the end are cropped, and finished rows leave the batch.

Host work per step is kept small and constant in torch calls (it bounds the loop on a GPU):
the grammar states and allowed tokens along every row's draft are planned before the
forward pass (allowed sets memoized per state and shared across sentences,
``constrained.AllowedTokens``), the step's inputs go to the device in one copy, the allowed
logits of every row and position come from one gather and product, and one small copy
brings the choices back. A row's draft length adapts to how much of its drafts the model
accepts (``adaptive_drafts``), so a model that leaves the copy does not pay for long
drafts, and a step drafts at all only where drafts save more time than they cost, as the
steps so far measure it (``DraftSwitch``); one draft text serves every pass that writes it
on. Finished rows leave the KV cache by having the last rows moved into their places, and
the cyclic garbage collector is paused while a batch decodes (``pause_gc``).
"""

from __future__ import annotations

import gc
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import sub
from time import perf_counter
from typing import Any, Literal
from typing import Counter as CounterType

from ner_toolkit import Example
from ner_toolkit.prompts import longest_common_prefix

from .constrained import AllowedTokens, Guess, InlineGrammar, StateSet, VocabTrie
from .models import cache_argument

Decoding = Literal["plain", "constrained", "speculative"]


@dataclass
class DecodeStats:
    """What the model was asked to do: forward calls, positions fed (padding included), passes per row."""

    calls: int = 0
    fed: int = 0
    prefix_tokens: int = 0
    row_passes: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)
    accepted_draft: int = 0
    drafted: int = 0
    draft_steps: int = 0  # steps that drafted


class EntityMemory(Guess):
    """Drafts that expect the entities this run has already written: a gazetteer of the model's own outputs.

    An entity not seen yet is expected to run on over the capitalized words that follow,
    and to take the label its words had most often. With ``pause_at_names`` a draft stops
    before a capitalized word it knows nothing of, where an entity may start: fewer draft
    tokens wasted (what a compute-bound batch pays for), more forward passes. Guesses only shape drafts, which the
    model verifies: a wrong guess costs draft tokens, never a different output.
    """

    def __init__(self, pause_at_names: bool = False) -> None:
        self.pause_at_names = pause_at_names
        self.entities: dict[tuple[str, ...], CounterType[str]] = {}
        self.lengths: dict[str, list[int]] = {}  # first word -> the lengths of the entities it starts, longest first
        self.words: dict[str, CounterType[str]] = {}
        self.labels: CounterType[str] = Counter()

    def learn(self, tokens: Sequence[str], spans: Sequence[Any]) -> None:
        for span in spans:
            key = tuple(tokens[span.start : span.end])
            if key not in self.entities:
                self.entities[key] = Counter()
                lengths = self.lengths.setdefault(key[0], [])
                if len(key) not in lengths:
                    lengths.append(len(key))
                    lengths.sort(reverse=True)
            self.entities[key][span.label] += 1
            for word in key:
                self.words.setdefault(word, Counter())[span.label] += 1
            self.labels[span.label] += 1

    def _known(self, words: tuple[str, ...], start: int, longer_than: int = 0) -> tuple[int, str] | None:
        """The longest entity seen that starts at ``start`` (longer than ``longer_than`` words): its end and usual label."""
        for length in self.lengths.get(words[start], ()):
            if length <= longer_than:
                break
            if start + length > len(words):
                continue
            votes = self.entities.get(words[start : start + length])
            if votes is not None:
                return start + length, votes.most_common(1)[0][0]
        return None

    def entity_at(self, grammar: InlineGrammar, i: int) -> tuple[int, str | None] | None:
        return self._known(grammar.words, i)

    def end_of(self, grammar: InlineGrammar, start: int, i: int) -> tuple[int, str | None]:
        known = self._known(grammar.words, start, longer_than=i - start)
        if known is not None:
            return known
        end = i + 1
        while end < grammar.n and grammar.words[end][:1].isupper():
            end += 1
        return end, None

    def pause_before(self, grammar: InlineGrammar, i: int) -> bool:
        """With ``pause_at_names``: before a capitalized word not known to start an entity."""
        return self.pause_at_names and grammar.words[i][:1].isupper() and self._known(grammar.words, i) is None

    def plain_until(self, grammar: InlineGrammar, i: int, stop: int) -> int:
        words, lengths = grammar.words, self.lengths
        for j in range(i, stop):
            if words[j] in lengths and self._known(words, j) is not None:
                return j
            if self.pause_at_names and words[j][:1].isupper():
                return j  # capitalized and known to start no entity: a pause
        return stop

    def label_for(self, grammar: InlineGrammar, start: int, end: int) -> str:
        allowed = grammar.labels
        votes = self.entities.get(grammar.words[start:end])
        if not votes:
            votes = Counter()
            for word in grammar.words[start:end]:
                if word in self.words:
                    votes.update(self.words[word])
        for counts in (votes, self.labels):
            for label, _ in counts.most_common():
                if label in allowed:
                    return label
        return allowed[0] if allowed else ""


class DraftSwitch:
    """Whether a step should draft, from what steps have cost: drafts pay where they save more than they cost.

    A step's time is fitted as ``fixed + per_row × rows + per_draft × draft tokens`` (least
    squares over the steps seen, each older step weighing ``decay`` times less), and the
    share of draft tokens accepted is followed likewise. A step of ``rows`` rows drafts where
    ``accepted share × (fixed / rows + per_row) > per_draft``: an accepted draft token saves
    a row's pass, a draft token costs its planning and its position in the forward pass
    (``worth`` is the ratio of the two; where it is above ``KEEP_DRAFTS``, a rejected draft
    does not shorten the row's next one either). So a batch whose forward pass costs more
    than the host's planning drafts; one whose host work per draft position outweighs the
    passes it saves (a model that seldom copies, run where its forward pass costs little)
    does not. Probes keep the figures current: while drafts do not pay, every
    ``probe_on``-th step drafts; while they do, every ``probe_off``-th step does not (rarer,
    since such a step gives up a pass's worth of accepted tokens in every row). The output
    does not depend on any of it.
    """

    def __init__(self, probe_on: int = 16, probe_off: int = 64, decay: float = 0.99, warmup: int = 32) -> None:
        self.probe_on = probe_on
        self.probe_off = probe_off
        self.decay = decay
        self.warmup = warmup
        self.steps = 0
        self._xx = [[0.0] * 3 for _ in range(3)]  # weighted sums of x xᵀ, x = (1, rows, draft tokens)
        self._xy = [0.0] * 3  # and of x × seconds
        self._accepted = 0.0
        self._drafted = 0.0
        self.cost: tuple[float, float, float] | None = None  # fixed, per row, per draft token (seconds)

    def worth(self, rows: int) -> float | None:
        """What a draft token saves over what it costs, in a step of ``rows`` rows; ``None`` before the first fit."""
        if self.cost is None or not self._drafted:
            return None
        fixed, per_row, per_draft = self.cost
        saves = self._accepted / self._drafted * (fixed / rows + per_row)
        return saves / per_draft if per_draft > 0 else float("inf")

    def drafting(self, worth: float | None) -> bool:
        """Whether the next step drafts, given what a draft token is ``worth`` in it."""
        if worth is None or worth > 1:
            return self.steps % self.probe_off != self.probe_off - 1
        return self.steps % self.probe_on == self.probe_on - 1

    def record(self, rows: int, drafted: int, accepted: int, seconds: float) -> None:
        """A step's rows, draft tokens, accepted draft tokens and time."""
        self.steps += 1
        x = (1.0, float(rows), float(drafted))
        for i in range(3):
            self._xy[i] = self.decay * self._xy[i] + x[i] * seconds
            for j in range(3):
                self._xx[i][j] = self.decay * self._xx[i][j] + x[i] * x[j]
        if drafted:
            self._accepted = self.decay * self._accepted + accepted
            self._drafted = self.decay * self._drafted + drafted
        if self.steps >= self.warmup and self.steps % 16 == 0:  # refitted every 16 steps
            self.cost = _solve3(self._xx, self._xy)


def _solve3(a: list[list[float]], b: list[float]) -> tuple[float, float, float] | None:
    """The solution of the 3×3 system ``a x = b`` by Cramer's rule, or ``None`` where it is (nearly) singular."""

    def det(m: list[list[float]]) -> float:
        return (
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        )

    whole = det(a)
    scale = a[0][0] * a[1][1] * a[2][2]
    if not scale or abs(whole) < 1e-9 * abs(scale):
        return None
    solution = []
    for k in range(3):
        m = [row[:k] + [b[i]] + row[k + 1 :] for i, row in enumerate(a)]
        solution.append(det(m) / whole)
    return solution[0], solution[1], solution[2]


KEEP_DRAFTS = 2.0  # where a draft token saves this many times what it costs, a rejection does not shorten the next draft
DRAFT_BYTES = 32  # the shortest draft text made at once: a few passes' worth at the usual budgets
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


class _Row:
    """One sentence being decoded."""

    __slots__ = ("index", "feed", "grammar", "states", "output", "cap", "done", "passes", "budget", "expect", "at", "whole")

    def __init__(self, index: int, feed: list[int], grammar: InlineGrammar | None, cap: int, budget: int = 0) -> None:
        self.index = index
        self.feed = feed  # chosen tokens not yet fed to the model
        self.grammar = grammar
        self.states: StateSet | None = grammar.start() if grammar is not None else None
        self.output: list[int] = []
        self.cap = cap
        self.done = False
        self.passes = 0
        self.budget = budget  # longest draft for the next pass
        self.expect = b""  # the draft text last made, of which ``at`` bytes have been written since
        self.at = 0
        self.whole = False  # whether ``expect`` runs to where drafts stop (the end, a pause), not to a length limit

    def wrote(self, data: bytes) -> None:
        """Move the draft text's cursor over ``data``, or drop the text where the output left it."""
        if self.expect.startswith(data, self.at):
            self.at += len(data)
        else:
            self.expect, self.at, self.whole = b"", 0, False


class CopyDecoder:
    """Batched greedy decoding with an optional shared-prefix cache, copy constraints and drafts."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        formatter: Any,
        *,
        decoding: Decoding = "constrained",
        prefix_cache: bool = True,
        batch_size: int = 16,
        draft_tokens: int = 16,
        pause_at_names: bool = False,
        end_of_turn: int,
        stop_ids: Sequence[int] = (),
        trie: VocabTrie | None = None,
        adaptive_drafts: bool = True,
        pause_gc: bool = True,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.formatter = formatter
        self.decoding = decoding
        self.prefix_cache = prefix_cache
        self.batch_size = batch_size
        self.draft_tokens = draft_tokens if decoding == "speculative" else 0
        self._typical_budget = float(self.draft_tokens)  # what rows' budgets come to: a new row's first
        self.adaptive = adaptive_drafts
        self.switch = DraftSwitch() if adaptive_drafts and self.draft_tokens else None
        self.pause_gc = pause_gc  # reference counting frees a batch's garbage; only cycles wait for the batch's end
        self.end_of_turn = end_of_turn
        self.stop_ids = frozenset(stop_ids) | {end_of_turn}
        self.constrained = decoding != "plain"
        self.trie = trie if trie is not None or not self.constrained else VocabTrie.from_tokenizer(tokenizer)
        self.allowed = AllowedTokens(self.trie, end_of_turn) if self.constrained else None
        self._backend = getattr(tokenizer, "backend_tokenizer", None)
        self._pieces: dict[bytes, tuple[int, ...]] = {}  # draft text or chunk -> its tokens, shared by rows and sentences
        self._by_chunks = self.constrained and splits_at_spaces(self._encode)
        self.stats = DecodeStats()
        self.token_ids: dict[int, list[int]] = {}  # each output's tokens, by prompt index
        self.memory = EntityMemory(pause_at_names)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_of_turn
        self.head = model.get_output_embeddings()
        self.decoder = model.get_decoder()
        self.cache_arg = cache_argument(self.decoder)
        if getattr(model.config.get_text_config(), "final_logit_softcapping", None):
            raise ValueError("copy decoding reads logits straight from the output embedding: no logit soft-capping")

    # --- public -------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        examples: Sequence[Example],
        caps: Sequence[int],
        on_batch: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[int, str]]:
        """Yield ``(index, output text)`` for each prompt; ``caps`` bound plain decoding's new tokens."""
        import torch

        if not prompts:
            return
        self.stats.row_passes = [0] * len(prompts)
        self.stats.output_tokens = [0] * len(prompts)
        prefix_len = 0
        prefix_kv = None
        if self.prefix_cache:
            prefix_len = max(0, min(longest_common_prefix(prompts), min(len(p) for p in prompts) - 1))
        if prefix_len:
            with torch.inference_mode():
                from transformers import DynamicCache

                ids = torch.tensor([list(prompts[0][:prefix_len])], device=self.model.device)
                cache = DynamicCache(config=self.model.config)
                self.decoder(input_ids=ids, use_cache=True, **{self.cache_arg: cache})
            prefix_kv = [(layer.keys, layer.values) for layer in cache.layers]
            self._count(1, prefix_len)
            self.stats.prefix_tokens = prefix_len
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            rows = [self._row(i, list(prompts[i][prefix_len:]), examples[i], caps[i]) for i in batch]
            self._tokenize_words(rows)
            paused = self.pause_gc and gc.isenabled()
            if paused:
                gc.disable()
            try:
                yield from self._decode(rows, prefix_kv, prefix_len)
            finally:
                if paused:
                    gc.enable()
            if on_batch is not None:
                on_batch(len(batch))

    # --- internals ----------------------------------------------------------------------

    def _row(self, index: int, feed: list[int], example: Example, cap: int) -> _Row:
        if not self.constrained:
            return _Row(index, feed, None, cap)
        grammar = InlineGrammar.for_formatter(self.formatter, example.tokens or tuple(example.input.split()))
        longest = max([len(m) for m, _ in grammar.openers]) + max(len(c) for c in grammar.closers(None))
        bound = sum(len(t) + 1 for t in grammar.tokens) + len(grammar.tokens) * grammar.max_depth * longest + 1
        return _Row(index, feed, grammar, bound, max(1, round(self._typical_budget)) if self.adaptive else self.draft_tokens)

    def _count(self, calls: int, fed: int) -> None:
        self.stats.calls += calls
        self.stats.fed += fed

    def _draft_text(self, row: _Row) -> bytes:
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
            text = row.expect = row.grammar.draft(row.states, self.memory, limit=limit)
            start = row.at = 0
            row.whole = len(text) < limit
        end = text.find(b" ", start + want)  # to the end of a chunk: a cut one would be tokenized as a fragment
        return text[start : end if end >= 0 else len(text)]

    def _draft(self, row: _Row) -> list[int]:
        """The ids of a row's draft text, cut to its budget.

        With a tokenizer that splits at spaces, the text is tokenized chunk by chunk, each
        chunk cached across sentences. The rest of a word the output has begun with a shorter
        token than the tokenizer's is taken as the longest vocabulary entries in turn: those
        rests seldom come back, and a tokenizer call costs more than the rest of the pass.
        """
        text = self._draft_text(row)
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
            found = self._pieces.get(chunk)
            if found is None:
                found = self.trie.greedy(chunk) if start == 0 and row.at and chunk[0] != 0x20 else self._piece(chunk)
            ids += found
            start = end
        return ids[: row.budget]

    def _tokenize_words(self, rows: list[_Row]) -> None:
        """Tokenize the words of a batch's sentences in one call, bare and after a space: most chunks drafts are made of."""
        if not (self._by_chunks and self.draft_tokens and self._backend is not None):
            return
        words = {word for row in rows if row.grammar is not None for word in row.grammar.tokens}
        missing = [chunk for word in words for chunk in (word, b" " + word) if chunk not in self._pieces]
        if missing:
            texts = [chunk.decode("utf-8", errors="ignore") for chunk in missing]
            for chunk, encoding in zip(missing, self._backend.encode_batch(texts, add_special_tokens=False)):
                self._pieces[chunk] = tuple(encoding.ids)

    def _piece(self, text: bytes) -> tuple[int, ...]:
        """The ids of a draft or of one chunk of it, cached (bounded: pieces common to many sentences stay)."""
        found = self._pieces.get(text)
        if found is None:
            if len(self._pieces) >= 1 << 17:
                self._pieces.clear()
            found = self._pieces[text] = tuple(self._encode(text.decode("utf-8", errors="ignore")))
        return found

    def _schedule(self, row: _Row, accepted: int, drafted: int, shrink: bool = True) -> None:
        """The next draft's length: doubled while whole drafts are accepted, else about twice what was.

        A row whose drafts the model keeps leaving (a model that does not copy, or a stretch
        of entities no guess foresaw) stops paying for draft tokens it rejects: positions
        fed, and the host's work to plan and verify them. Where draft tokens are worth far
        more than they cost (``shrink`` false: a model that copies, whose forward pass is
        most of the time), a rejection does not shorten the next draft. A new row starts where
        rows' budgets have been coming to lately (all ``draft_tokens`` at first). The output
        does not depend on it.
        """
        if not self.adaptive:
            return
        if accepted == drafted:
            row.budget = min(self.draft_tokens, max(2 * row.budget, 2))
        elif shrink:
            row.budget = min(self.draft_tokens, max(1, (row.budget + 2 * accepted + 1) // 2))
        self._typical_budget += (row.budget - self._typical_budget) / 256

    def _encode(self, text: str) -> list[int]:
        """The tokenizer's ids for ``text``: straight from its Rust backend where it has one (a third of the call's cost)."""
        if self._backend is not None:
            return self._backend.encode(text, add_special_tokens=False).ids
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _plan(self, row: _Row, draft: list[int]) -> tuple[list[int], list[tuple[int, ...]], list[StateSet]]:
        """The allowed tokens and grammar states at each position of a row's draft to verify.

        Position ``j`` chooses the token after ``draft[:j]``; the draft is cut before its first
        token the grammar forbids (it could never be the constrained choice).
        """
        grammar, states = row.grammar, row.states
        token_bytes = self.trie.bytes
        allowed = [self.allowed(grammar, states)]
        path = [states]
        for j, token in enumerate(draft):
            data = token_bytes.get(token)
            states = grammar.advance(states, data) if data is not None else frozenset()
            if not states:
                draft = draft[:j]
                break
            path.append(states)
            allowed.append(self.allowed(grammar, states))
        return draft, allowed, path

    def _accept(self, row: _Row, draft: list[int], j: int, path: list[StateSet], choice: int) -> int:
        """Take the first ``j`` draft tokens (``path`` holds the states after each) and then ``choice``.

        Returns how many draft tokens count as accepted: ``j``, or where the row reaches its cap
        inside the draft, one fewer than it took there (the token that met the cap is not
        counted, as a choice is not; the row is done).
        """
        token_bytes = self.trie.bytes
        room = row.cap - len(row.output)
        if j >= room:  # the cap is reached inside the accepted draft: its first ``room`` tokens are taken
            row.output += draft[:room]
            row.wrote(b"".join([token_bytes[token] for token in draft[:room]]))
            row.states, row.done = path[room], True
            self.stats.accepted_draft += room - 1
            return room - 1
        if j:
            row.output += draft[:j]
            row.wrote(b"".join([token_bytes[token] for token in draft[:j]]))
        row.states = path[j]
        self.stats.accepted_draft += j
        self._take(row, choice)  # the first token that differs from the draft, or the one after it
        return j

    def _take(self, row: _Row, token: int) -> None:
        """Append a chosen token; mark the row done at the end of turn, a stop token or the cap."""
        if row.grammar is not None:
            if token == self.end_of_turn:
                row.done = True
                return
            data = self.trie.bytes[token]
            row.states = row.grammar.advance(row.states, data)
            row.wrote(data)
        elif token in self.stop_ids:
            row.done = True
            return
        row.output.append(token)
        if len(row.output) >= row.cap:
            row.done = True

    def _text(self, row: _Row) -> str:
        if row.grammar is not None:
            return b"".join(self.trie.bytes[t] for t in row.output).decode("utf-8", errors="replace")
        return self.tokenizer.decode(row.output, skip_special_tokens=True)

    def _decode(self, rows: list[_Row], prefix_kv: Any, prefix_len: int) -> Iterator[tuple[int, str]]:
        """Decode one batch to the end.

        A step packs everything the device needs into one integer buffer and copies it once:
        which rows are left, the mask columns to append (the last step's, as each row kept
        them, and this step's), the ids fed and their first positions, and for every position
        to verify the flat index of its hidden state, its allowed tokens and where they go in
        a padded table; one split gives every part. After the forward pass one gather and
        product give the logits of every allowed token at every position, a scatter into the
        table and one argmax the choices, and one small copy brings them back: one
        host-device synchronisation a step.
        """
        import torch
        from transformers import DynamicCache

        device = self.model.device
        n = len(rows)
        if prefix_kv is not None:
            cache = DynamicCache(
                ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in prefix_kv],
                config=self.model.config,
            )
        else:
            cache = DynamicCache(config=self.model.config)
        weight, bias = self.head.weight, self.head.bias
        mask = torch.ones((n, prefix_len), dtype=torch.long, device=device)
        length = prefix_len  # columns of the cache before the last step: those the mask holds between steps
        ends = [prefix_len] * n  # one past each row's last kept column
        positions = [prefix_len] * n  # each row's next position id
        holes: list[int] = []  # rows that finished in the last step, below the rows left ...
        movers: list[int] = []  # ... and the rows left above them, which move into their places
        kept: list[int] = []  # positions each row kept in the last step
        last_width = 0
        arange = torch.arange(8, device=device)
        runs = array("q")  # ones then as many zeros: mask rows are cut from it
        while rows:
            began = perf_counter()
            n = len(rows)
            worth = self.switch.worth(n) if self.switch is not None else None
            drafting = self.draft_tokens > 0 and (self.switch is None or self.switch.drafting(worth))
            shrink = worth is None or worth < KEEP_DRAFTS  # whether a rejected draft shortens the row's next
            self.stats.draft_steps += drafting
            seqs, anchors, plans = [], [], []
            candidates = array("q")  # every position's allowed tokens, one after another
            sizes = array("q")  # how many each position allows
            for row in rows:
                if self.constrained:
                    draft, allowed, path = self._plan(row, self._draft(row) if drafting else [])
                    plans.append((draft, allowed, path))
                    for ids in allowed:
                        candidates.extend(ids)
                    sizes.extend(map(len, allowed))
                    self.stats.drafted += len(draft)
                    seqs.append(row.feed + draft)
                else:
                    seqs.append(row.feed)
                anchors.append(len(row.feed) - 1)
            width = max(map(len, seqs))
            # where each position's hidden state is in the flattened output
            where = array("q")
            if self.constrained:
                for r, (draft, _, _) in enumerate(plans):
                    at = r * width + anchors[r]
                    where.extend(range(at, at + len(draft) + 1))
            else:
                where.extend(r * width + anchors[r] for r in range(n))
            segments, count = len(where), len(candidates)
            widest = max(sizes) if sizes else 0
            # the last step's columns each row keeps, less the holes every row has at their end (cropped)
            crop = length + last_width - max(ends) if last_width else 0
            fixed = last_width - crop
            if len(runs) < 2 * max(width, fixed):
                runs = array("q", [1]) * (2 * max(width, fixed)) + array("q", [0]) * (2 * max(width, fixed))
            middle = len(runs) // 2  # runs[middle - k : middle - k + w]: k ones, then zeros up to w
            # one buffer: holes, movers | new mask columns | ids | first positions | where | sizes | slot offsets | candidates
            buffer = array("q", holes)
            buffer.extend(movers)
            for r, seq in enumerate(seqs):
                if fixed:
                    buffer += runs[middle - kept[r] : middle - kept[r] + fixed]
                buffer += runs[middle - len(seq) : middle - len(seq) + width]
            for seq in seqs:
                buffer.extend(seq)
                buffer.extend(repeat(self.pad, width - len(seq)))
            buffer.extend(positions)
            buffer.extend(where)
            buffer.extend(sizes)
            # candidate c of position p goes to slot p * widest + (c - p's first candidate): this is p's part of it
            if widest:
                buffer.extend(map(sub, range(0, segments * widest, widest), accumulate(sizes, initial=0)))
            buffer.extend(candidates)
            host = torch.frombuffer(buffer, dtype=torch.long)
            data = host.to(device, non_blocking=True) if device.type == "cuda" else host
            if arange.numel() < max(width, count):
                arange = torch.arange(2 * max(width, count), device=device)
            moved = len(holes)
            block = n * (fixed + width)
            parts = data.split([moved, moved, block, n * width, n, segments, len(sizes), len(sizes), count])
            with torch.inference_mode():
                if mask.shape[0] > n:  # rows that finished leave the cache and the mask
                    mask = _drop_rows(cache, mask, n, parts[0], parts[1])
                if crop:
                    cache.crop(-crop)
                mask = torch.cat([mask, parts[2].view(n, fixed + width)], dim=1)
                out = self.decoder(
                    input_ids=parts[3].view(n, width),
                    attention_mask=mask,
                    position_ids=parts[4][:, None] + arange[:width],
                    use_cache=True,
                    **{self.cache_arg: cache},
                )
                self._count(1, n * width)
                length += fixed
                mask = mask[:, :length]  # this step's columns come again next step, as the ones each row kept
                hidden = out.last_hidden_state.reshape(n * width, -1).index_select(0, parts[5])
                if self.constrained:
                    cand = parts[8]
                    segment = torch.repeat_interleave(parts[6], output_size=count)
                    scores = (weight.index_select(0, cand) * hidden.index_select(0, segment)).sum(-1)
                    if bias is not None:
                        scores = scores + bias.index_select(0, cand)
                    table = torch.full((segments * widest,), float("-inf"), dtype=scores.dtype, device=device)
                    table.index_copy_(0, arange[:count] + parts[7].index_select(0, segment), scores)
                    choice = table.view(segments, widest).argmax(-1).tolist()
                else:
                    choice = self.head(hidden).argmax(-1).tolist()
            # verify on the host: accept each draft token while it is the choice, keep the choice at the first difference
            kept = []
            s = 0
            accepted = drafted = 0  # draft tokens this step
            for r, row in enumerate(rows):
                row.passes += 1
                if self.constrained:
                    draft, allowed, path = plans[r]
                    j = 0
                    while j < len(draft) and allowed[j][choice[s + j]] == draft[j]:
                        j += 1
                    j = self._accept(row, draft, j, path, allowed[j][choice[s + j]])
                    s += len(allowed)
                    if drafting:
                        self._schedule(row, j, len(draft), shrink)
                        accepted += j
                        drafted += len(draft)
                else:
                    j = 0
                    self._take(row, choice[r])
                took = anchors[r] + j + 1
                kept.append(took)
                ends[r] = length + took
                positions[r] += took
                row.feed = [] if row.done else [row.output[-1]]
            if self.switch is not None and last_width:  # a batch's first step, which feeds the prompts, is not compared
                self.switch.record(n, drafted, accepted, perf_counter() - began)
            last_width = width
            live = [r for r, row in enumerate(rows) if not row.done]
            for row in rows:
                if row.done:
                    text = self._text(row)
                    if row.grammar is not None and self.draft_tokens:
                        words = row.grammar.words
                        self.memory.learn(words, self.formatter.parse(text, words).spans)
                    self.token_ids[row.index] = row.output
                    self.stats.row_passes[row.index] = row.passes
                    self.stats.output_tokens[row.index] = len(row.output)
                    yield row.index, text
            holes, movers = [], []
            if len(live) < len(rows):
                if not live:
                    return
                left = len(live)
                holes = [r for r in range(left) if rows[r].done]
                movers = [r for r in live if r >= left]
                for hole, mover in zip(holes, movers):
                    rows[hole], positions[hole], ends[hole], kept[hole] = rows[mover], positions[mover], ends[mover], kept[mover]
                del rows[left:], positions[left:], ends[left:], kept[left:]


def _drop_rows(cache: Any, mask: Any, left: int, holes: Any, movers: Any) -> Any:
    """Keep the first ``left`` rows of the KV cache and the mask, the rows ``movers`` moved into ``holes`` first.

    Finished rows leave the batch by having the last rows left copied into their places and
    the batch cut short: a copy of as many rows as finished, where selecting the rows left
    copies the whole cache. Layer types other than the plain dynamic one are selected whole.
    """
    from transformers.cache_utils import DynamicLayer

    order = None
    for layer in cache.layers:
        if type(layer) is DynamicLayer and layer.is_initialized:
            for name in ("keys", "values"):
                tensor = getattr(layer, name)
                if len(holes):
                    tensor.index_copy_(0, holes, tensor.index_select(0, movers))
                setattr(layer, name, tensor[:left])
        else:
            if order is None:
                import torch

                order = torch.arange(left, device=mask.device)
                order[holes] = movers
            layer.batch_select_indices(order)
    if len(holes):
        mask.index_copy_(0, holes, mask.index_select(0, movers))
    return mask[:left]

