"""The copy decoder's loop: batches of rows decoded step by step, each step planned, fed, chosen and verified.

One loop serves every mode of the ``transformers`` predictor other than its plain
``generate`` path, batched, with the KV cache:

- **prefix cache**: every prompt starts with the same tokens (chat template, instruction,
  label set). Their KV cache is computed once and copied into each batch, so a sentence
  pays only for its own input; it is kept for later calls (``cache.PrefixCache``).
- **constrained**: at each step the argmax is taken over the tokens that keep the output
  a valid rendering of this input (``grammar.InlineGrammar``, ``allowed.AllowedTokens``),
  and the end of turn only once the rendering is complete; outputs parse with no
  diagnostics by construction.
- **speculative**: the text that follows if no entity starts or ends (the rest of the
  input, with the entities already written marked up: ``guesses``; the grammar names them
  as it closes them, so no output is parsed twice) is tokenized as a draft
  (``drafts.Drafter``) and fed with the last chosen token in one forward pass; the draft is
  accepted while it equals the constrained argmax at each position, and the argmax at the
  first difference is kept too. The output is the constrained greedy output, token for
  token (up to floating-point ties), in a fraction of the forward passes.

Rows of a batch advance by different numbers of tokens: rejected draft positions stay in
the cache as holes that the attention mask hides, positions are given explicitly, holes
that every row shares at the end are cropped, and finished rows leave the batch
(``rows.Batch``, ``cache.BatchCache``). Host work per step is kept small and constant in
torch calls (it bounds the loop on a GPU): the grammar states and allowed tokens along
every row's draft are planned before the forward pass, the step's inputs go to the device
in one copy, and one small copy brings the choices back (``step``). A step drafts only
where drafts save more time than they cost (``switch.DraftSwitch``). With ``pause_gc``, the
cyclic garbage collector waits while a batch decodes.

With ``scored``, each output comes as a ``Generation`` with its tokens' log-probabilities,
read from the logits each step computes anyway: over the allowed tokens where the grammar
constrains the choice, over the vocabulary where it does not. An accepted draft token was
the choice at its position, so it has that choice's log-probability.

A decoder lives as long as its model: its prefix caches, allowed sets, entity memory and
draft switch stay warm from one ``generate`` call to the next, each bounded. What it keeps
changes drafts and the work they save, never an output.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Literal

from ner_toolkit import Example, Generation

from ..models import cache_argument
from .allowed import AllowedTokens
from .cache import BatchCache, PrefixCache, PrefixKV, prefix_length
from .drafts import Drafter
from .grammar import InlineGrammar
from .guesses import EntityMemory
from .rows import Batch, Row
from .step import Plan, Step, choose, verified
from .switch import KEEP_DRAFTS, DraftSwitch
from .vocabulary import VocabTrie

Decoding = Literal["plain", "constrained", "speculative"]


@dataclass
class DecodeStats:
    """What the model was asked to do in the last call: forward calls, positions fed (padding included), passes per row."""

    calls: int = 0
    fed: int = 0
    prefix_tokens: int = 0
    row_passes: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)
    accepted_draft: int = 0
    drafted: int = 0
    draft_steps: int = 0  # steps that drafted


class CopyDecoder:
    """Batched greedy decoding with a shared-prefix cache, copy constraints and drafts; one per loaded model."""

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
        pause_gc: bool = False,
        prefix_probe: Sequence[int] = (),
        scored: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.formatter = formatter
        self.decoding = decoding
        self.prefix_cache = prefix_cache
        self.prefix_probe = tuple(prefix_probe)  # a prompt for an input no sentence has: see ``cache.prefix_length``
        self.batch_size = batch_size
        self.scored = scored  # outputs come with their tokens' log-probabilities (``Generation``)
        self.pause_gc = pause_gc  # reference counting frees a batch's garbage; only cycles wait for the batch's end
        self.end_of_turn = end_of_turn
        self.stop_ids = frozenset(stop_ids) | {end_of_turn}
        self.constrained = decoding != "plain"
        self.draft_tokens = draft_tokens if decoding == "speculative" else 0
        self.trie = trie if trie is not None or not self.constrained else VocabTrie.from_tokenizer(tokenizer)
        self.allowed = AllowedTokens(self.trie, end_of_turn) if self.constrained else None
        self.memory = EntityMemory(pause_at_names) if self.draft_tokens else None
        self.drafter = Drafter(tokenizer, self.trie, self.memory, self.draft_tokens, adaptive_drafts) if self.memory is not None else None
        self.switch = DraftSwitch() if adaptive_drafts and self.draft_tokens else None
        self.prefixes = PrefixCache()
        self.stats = DecodeStats()  # of the last call
        self.token_ids: dict[int, list[int]] = {}  # each output's tokens in the last call, by prompt index
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_of_turn
        self.device = model.device
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
    ) -> Iterator[tuple[int, str | Generation]]:
        """Yield ``(index, output)`` for each prompt, a ``Generation`` when ``scored``; ``caps`` bound plain decoding's new tokens."""
        if not prompts:
            return
        self.stats = DecodeStats(row_passes=[0] * len(prompts), output_tokens=[0] * len(prompts))
        self.token_ids = {}
        prefix_len, prefix = self._prefix(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            rows = [self._row(i, list(prompts[i][prefix_len:]), examples[i], caps[i]) for i in batch]
            if self.drafter is not None:
                self.drafter.tokenize_words(rows)
            with self._paused_gc():
                yield from self._decode(rows, prefix, prefix_len)
            if on_batch is not None:
                on_batch(len(batch))

    # --- a call -------------------------------------------------------------------------

    def _prefix(self, prompts: Sequence[Sequence[int]]) -> tuple[int, PrefixKV | None]:
        """The length of the prompts' shared prefix and its KV cache: kept from an earlier call, or computed and kept."""
        length = prefix_length(prompts, self.prefix_probe) if self.prefix_cache else 0
        if not length:
            return 0, None
        key = tuple(prompts[0][:length])
        kv = self.prefixes.get(key)
        if kv is None:
            import torch
            from transformers import DynamicCache

            with torch.inference_mode():
                cache = DynamicCache(config=self.model.config)
                self.decoder(input_ids=torch.tensor([key], device=self.device), use_cache=True, **{self.cache_arg: cache})
            kv = [(layer.keys, layer.values) for layer in cache.layers]
            self.prefixes.put(key, kv)
            self._count(1, length)
        self.stats.prefix_tokens = length
        return length, kv

    def _row(self, index: int, feed: list[int], example: Example, cap: int) -> Row:
        """A row for one prompt; a constrained row's cap is the longest rendering its grammar allows."""
        if not self.constrained:
            return Row(index, feed, None, cap)
        grammar = InlineGrammar.for_formatter(self.formatter, example.tokens or tuple(example.input.split()))
        longest = max([len(m) for m, _ in grammar.openers]) + max(len(c) for c in grammar.closers(None))
        bound = sum(len(t) + 1 for t in grammar.tokens) + len(grammar.tokens) * grammar.max_depth * longest + 1
        return Row(index, feed, grammar, bound, self.drafter.first_budget() if self.drafter is not None else 0)

    @contextmanager
    def _paused_gc(self) -> Iterator[None]:
        """With ``pause_gc``, the cyclic garbage collector waits while a batch decodes; otherwise nothing changes."""
        paused = self.pause_gc and gc.isenabled()
        if paused:
            gc.disable()
        try:
            yield
        finally:
            if paused:
                gc.enable()

    def _count(self, calls: int, fed: int) -> None:
        self.stats.calls += calls
        self.stats.fed += fed

    # --- a batch ------------------------------------------------------------------------

    def _decode(self, rows: list[Row], prefix: PrefixKV | None, prefix_len: int) -> Iterator[tuple[int, str | Generation]]:
        """Decode one batch to the end: plan, forward, verify, finish, a step at a time."""
        batch = Batch(rows, prefix_len)
        cache = BatchCache(self.model.config, self.device, len(rows), prefix, prefix_len)
        while batch.rows:
            began = perf_counter()
            n = len(batch.rows)
            worth = self.switch.worth(n) if self.switch is not None else None
            drafting = self.drafter is not None and (self.switch is None or self.switch.drafting(worth))
            shrink = worth is None or worth < KEEP_DRAFTS  # whether a rejected draft shortens the row's next
            self.stats.draft_steps += drafting
            crop = batch.crop()
            step = self._plan(batch.rows, drafting)
            choices, logprobs = self._forward(batch, cache, step, crop, fixed=batch.width - crop)
            took, accepted, drafted = self._verify(batch.rows, step, choices, logprobs, drafting, shrink)
            if self.switch is not None and batch.width:  # a batch's first step, which feeds the prompts, is not compared
                self.switch.record(n, drafted, accepted, perf_counter() - began)
            batch.stepped(batch.width - crop, step.width, took)
            yield from self._finish(batch)

    def _plan(self, rows: list[Row], drafting: bool) -> Step:
        """What each row feeds: the tokens it chose and, constrained, its draft with the allowed tokens along it."""
        feeds, anchors = [], []
        plans: list[Plan] | None = [] if self.constrained else None
        for row in rows:
            if plans is not None:
                plan = self._plan_row(row, self.drafter.ids(row) if drafting else [])
                plans.append(plan)
                self.stats.drafted += len(plan.draft)
                feeds.append(row.feed + plan.draft)
            else:
                feeds.append(row.feed)
            anchors.append(len(row.feed) - 1)
        return Step(feeds, anchors, plans)

    def _plan_row(self, row: Row, draft: list[int]) -> Plan:
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
        return Plan(draft, allowed, path)

    def _forward(self, batch: Batch, cache: BatchCache, step: Step, crop: int, fixed: int) -> tuple[list[int], list[float]]:
        """Send the step's buffer in one copy, run the decoder stack over the ids fed, and choose at every position.

        Returns the choices and, ``scored``, their log-probabilities (else an empty list).
        """
        import torch

        n, width = len(batch.rows), step.width
        buffer = step.pack(batch, fixed, self.pad)
        host = torch.frombuffer(buffer, dtype=torch.long)
        data = host.to(self.device, non_blocking=True) if self.device.type == "cuda" else host
        tensors = step.split(data, batch, fixed)
        arange = cache.ensure_arange(max(width, len(step.candidates)))
        with torch.inference_mode():
            mask = cache.prepare(n, tensors.holes, tensors.movers, crop, tensors.mask)
            out = self.decoder(
                input_ids=tensors.ids.view(n, width),
                attention_mask=mask,
                position_ids=tensors.positions[:, None] + arange[:width],
                use_cache=True,
                **{self.cache_arg: cache.kv},
            )
            self._count(1, n * width)
            cache.keep(batch.length + fixed)
            hidden = out.last_hidden_state.reshape(n * width, -1).index_select(0, tensors.where)
            return choose(self.head, hidden, step, tensors, arange, self.scored)

    def _verify(
        self, rows: list[Row], step: Step, choices: list[int], logprobs: list[float], drafting: bool, shrink: bool
    ) -> tuple[list[int], int, int]:
        """Take each row's accepted draft and the choice after it; returns the positions each row keeps, draft tokens accepted and drafted.

        An accepted draft token was the choice at its position, so it has that choice's log-probability.
        """
        took = []
        at = accepted = drafted = 0  # ``at``: the row's first position among the choices
        for r, row in enumerate(rows):
            row.passes += 1
            j = 0
            if step.plans is not None:
                plan = step.plans[r]
                j, choice = verified(plan, choices, at)
                j = self._accept(row, plan, j, choice, logprobs[at : at + len(plan.allowed)])
                at += len(plan.allowed)
                if drafting:
                    self.drafter.schedule(row, j, len(plan.draft), shrink)
                    accepted += j
                    drafted += len(plan.draft)
            else:
                self._take(row, choices[r], logprobs[r] if logprobs else None)
            took.append(step.anchors[r] + j + 1)
            row.feed = [] if row.done else [row.output[-1]]
        return took, accepted, drafted

    def _accept(self, row: Row, plan: Plan, j: int, choice: int, logprobs: list[float]) -> int:
        """Take the first ``j`` draft tokens of ``plan`` and then ``choice``.

        Returns how many draft tokens count as accepted: ``j``, or where the row reaches its cap
        inside the draft, one fewer than it took there (the token that met the cap is not
        counted, as a choice is not; the row is done).
        """
        room = row.cap - len(row.output)
        if j >= room:  # the cap is reached inside the accepted draft: its first ``room`` tokens are taken
            self._copy(row, plan, room, logprobs)
            row.done = True
            self.stats.accepted_draft += room - 1
            return room - 1
        if j:
            self._copy(row, plan, j, logprobs)
        self.stats.accepted_draft += j
        self._take(row, choice, logprobs[j] if logprobs else None)  # the first token that differs from the draft, or the one after it
        return j

    def _copy(self, row: Row, plan: Plan, m: int, logprobs: list[float]) -> None:
        """Take the first ``m`` tokens of a row's draft, whose grammar states ``plan`` holds."""
        token_bytes = self.trie.bytes
        tokens = plan.draft[:m]
        data = b"".join([token_bytes[token] for token in tokens])
        row.output += tokens
        row.logprobs += logprobs[:m]
        row.wrote(data)
        if self.memory is not None and row.grammar.may_close(data):
            for states, token in zip(plan.path, tokens):
                row.closes(states, token_bytes[token])
        row.states = plan.path[m]

    def _take(self, row: Row, token: int, logprob: float | None = None) -> None:
        """Append a chosen token; mark the row done at the end of turn, a stop token or the cap."""
        if row.grammar is not None:
            if token == self.end_of_turn:
                row.done = True
                return
            data = self.trie.bytes[token]
            if self.memory is not None:
                row.closes(row.states, data)
            row.states = row.grammar.advance(row.states, data)
            row.wrote(data)
        elif token in self.stop_ids:
            row.done = True
            return
        row.output.append(token)
        if logprob is not None:
            row.logprobs.append(logprob)
        if len(row.output) >= row.cap:
            row.done = True

    def _finish(self, batch: Batch) -> Iterator[tuple[int, str]]:
        """Yield the rows that finished; the entity memory learns the entities their grammars saw them close."""
        for row in batch.finished():
            if self.memory is not None and not row.unsure:
                self.memory.learn(row.grammar.words, sorted(set(row.closed)))  # as a parse gives them: once each, in order
            self.token_ids[row.index] = row.output
            self.stats.row_passes[row.index] = row.passes
            self.stats.output_tokens[row.index] = len(row.output)
            text = self._text(row)
            yield row.index, Generation(text, self._ends(row), tuple(row.logprobs)) if self.scored else text

    def _text(self, row: Row) -> str:
        if row.grammar is not None:
            return b"".join([self.trie.bytes[t] for t in row.output]).decode("utf-8", errors="replace")
        return self.tokenizer.decode(row.output, skip_special_tokens=True)

    def _ends(self, row: Row) -> tuple[int, ...]:
        """The character of the output text where each of its tokens ends."""
        if row.grammar is None:
            return token_ends(self.tokenizer, row.output)
        ends, data = [], b""
        for token in row.output:
            data += self.trie.bytes[token]
            ends.append(len(data.decode("utf-8", errors="ignore")))  # a character split across tokens ends with its last
        return tuple(ends)


def token_ends(tokenizer: Any, ids: Sequence[int]) -> tuple[int, ...]:
    """The character where each token of ``ids`` ends in their decoded text (special tokens decode to nothing)."""
    return tuple(len(tokenizer.decode(ids[: k + 1], skip_special_tokens=True)) for k in range(len(ids)))
