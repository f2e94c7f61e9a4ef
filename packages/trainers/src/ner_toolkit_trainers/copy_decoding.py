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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from typing import Counter as CounterType

from ner_toolkit import Example
from ner_toolkit.prompts import longest_common_prefix

from .constrained import Guess, InlineGrammar, StateSet, VocabTrie, allowed_tokens
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
        self.starting: dict[str, list[tuple[str, ...]]] = {}
        self.words: dict[str, CounterType[str]] = {}
        self.labels: CounterType[str] = Counter()

    def learn(self, tokens: Sequence[str], spans: Sequence[Any]) -> None:
        for span in spans:
            key = tuple(tokens[span.start : span.end])
            if key not in self.entities:
                self.entities[key] = Counter()
                keys = self.starting.setdefault(key[0], [])
                keys.append(key)
                keys.sort(key=len, reverse=True)
            self.entities[key][span.label] += 1
            for word in key:
                self.words.setdefault(word, Counter())[span.label] += 1
            self.labels[span.label] += 1

    def _known(self, words: tuple[str, ...], start: int, longer_than: int = 0) -> tuple[int, str] | None:
        for key in self.starting.get(words[start], ()):
            if len(key) > longer_than and words[start : start + len(key)] == key:
                return start + len(key), self.entities[key].most_common(1)[0][0]
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

    def label_for(self, grammar: InlineGrammar, start: int, end: int) -> str:
        allowed = grammar.labels
        votes = self.entities.get(tuple(grammar.words[start:end]))
        if not votes:
            votes = Counter()
            for word in grammar.words[start:end]:
                votes.update(self.words.get(word, {}))
        for counts in (votes, self.labels):
            for label, _ in counts.most_common():
                if label in allowed:
                    return label
        return allowed[0] if allowed else ""


class _Row:
    """One sentence being decoded."""

    __slots__ = ("index", "feed", "grammar", "states", "output", "cap", "done", "passes", "drafts")

    def __init__(self, index: int, feed: list[int], grammar: InlineGrammar | None, cap: int) -> None:
        self.index = index
        self.feed = feed  # chosen tokens not yet fed to the model
        self.grammar = grammar
        self.states: StateSet | None = grammar.start() if grammar is not None else None
        self.output: list[int] = []
        self.cap = cap
        self.done = False
        self.passes = 0
        self.drafts: dict[bytes, list[int]] = {}


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
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.formatter = formatter
        self.decoding = decoding
        self.prefix_cache = prefix_cache
        self.batch_size = batch_size
        self.draft_tokens = draft_tokens if decoding == "speculative" else 0
        self.end_of_turn = end_of_turn
        self.stop_ids = frozenset(stop_ids) | {end_of_turn}
        self.constrained = decoding != "plain"
        self.trie = trie if trie is not None or not self.constrained else VocabTrie.from_tokenizer(tokenizer)
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
            yield from self._decode(rows, prefix_kv, prefix_len)
            if on_batch is not None:
                on_batch(len(batch))

    # --- internals ----------------------------------------------------------------------

    def _row(self, index: int, feed: list[int], example: Example, cap: int) -> _Row:
        if not self.constrained:
            return _Row(index, feed, None, cap)
        grammar = InlineGrammar.for_formatter(self.formatter, example.tokens or tuple(example.input.split()))
        longest = max([len(m) for m, _ in grammar.openers]) + max(len(c) for c in grammar.closers(None))
        bound = sum(len(t) + 1 for t in grammar.tokens) + len(grammar.tokens) * grammar.max_depth * longest + 1
        return _Row(index, feed, grammar, bound)

    def _count(self, calls: int, fed: int) -> None:
        self.stats.calls += calls
        self.stats.fed += fed

    def _draft(self, row: _Row) -> list[int]:
        if not self.draft_tokens or row.grammar is None:
            return []
        text = row.grammar.draft(row.states, self.memory, limit=8 * self.draft_tokens)
        if not text:
            return []
        found = row.drafts.get(text)
        if found is None:
            ids = self.tokenizer(text.decode("utf-8", errors="ignore"), add_special_tokens=False)["input_ids"]
            found = row.drafts[text] = ids[: self.draft_tokens]
        return found

    def _choose(self, row: _Row, hidden: Any) -> int:
        """The constrained greedy choice at one position, from its last hidden state.

        Only the allowed tokens' logits are computed: a few rows of the output embedding
        instead of the whole vocabulary.
        """
        import torch

        allowed = allowed_tokens(self.trie, row.grammar, row.states)
        if row.grammar.accepting(row.states):
            allowed.append(self.end_of_turn)
        if len(allowed) == 1:
            return allowed[0]
        ids = torch.tensor(allowed, device=hidden.device)
        logits = self.head.weight.index_select(0, ids) @ hidden
        if self.head.bias is not None:
            logits = logits + self.head.bias.index_select(0, ids)
        return allowed[int(logits.argmax())]

    def _take(self, row: _Row, token: int) -> None:
        """Append a chosen token; mark the row done at the end of turn, a stop token or the cap."""
        if row.grammar is not None:
            if token == self.end_of_turn:
                row.done = True
                return
            row.states = row.grammar.advance(row.states, self.trie.bytes[token])
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

    def _verify(
        self, rows: list[_Row], seqs: list[list[int]], anchors: list[int], hidden: Any, keep_from: int,
        positions: list[int], kept: Any,
    ) -> None:
        """Accept each row's draft while it is the greedy choice; keep the choice at the first difference."""
        plain = None
        if not self.constrained:  # one position a row: the whole vocabulary's logits in one product
            import torch

            at = torch.tensor(anchors, device=hidden.device) - keep_from
            plain = self.head(hidden[torch.arange(len(rows), device=hidden.device), at]).argmax(-1).tolist()
        for r, row in enumerate(rows):
            row.passes += 1
            at = anchors[r]
            seq = seqs[r]
            while True:
                token = plain[r] if plain is not None else self._choose(row, hidden[r, at - keep_from])
                self._take(row, token)
                if row.done or at + 1 >= len(seq) or seq[at + 1] != token:
                    break
                self.stats.accepted_draft += 1
                at += 1
            kept[r, : at + 1] = 1
            positions[r] += at + 1
            row.feed = [] if row.done else [row.output[-1]]

    def _decode(self, rows: list[_Row], prefix_kv: Any, prefix_len: int) -> Iterator[tuple[int, str]]:
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
        mask = torch.ones((n, prefix_len), dtype=torch.long, device=device)
        positions = [prefix_len] * n
        while rows:
            seqs, anchors = [], []
            for row in rows:
                draft = self._draft(row)
                self.stats.drafted += len(draft)
                anchors.append(len(row.feed) - 1)
                seqs.append(row.feed + draft)
            width = max(len(s) for s in seqs)
            ids = torch.full((len(rows), width), self.pad, dtype=torch.long, device=device)
            valid = torch.zeros((len(rows), width), dtype=torch.long, device=device)
            pos = torch.zeros((len(rows), width), dtype=torch.long, device=device)
            for r, seq in enumerate(seqs):
                ids[r, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                valid[r, : len(seq)] = 1
                pos[r] = torch.arange(positions[r], positions[r] + width)
            keep_from = min(anchors)
            with torch.inference_mode():
                out = self.decoder(
                    input_ids=ids,
                    attention_mask=torch.cat([mask, valid], dim=1),
                    position_ids=pos,
                    use_cache=True,
                    **{self.cache_arg: cache},
                )
                self._count(1, ids.numel())
                kept = torch.zeros_like(valid)
                self._verify(rows, seqs, anchors, out.last_hidden_state[:, keep_from:], keep_from, positions, kept)
            mask = torch.cat([mask, kept], dim=1)
            live = [r for r, row in enumerate(rows) if not row.done]
            for row in rows:
                if row.done:
                    if row.grammar is not None and self.draft_tokens:
                        words = row.grammar.words
                        self.memory.learn(words, self.formatter.parse(self._text(row), words).spans)
                    self.token_ids[row.index] = row.output
                    self.stats.row_passes[row.index] = row.passes
                    self.stats.output_tokens[row.index] = len(row.output)
                    yield row.index, self._text(row)
            if len(live) < len(rows):
                if not live:
                    return
                index = torch.tensor(live, device=device)
                cache.batch_select_indices(index)
                mask = mask.index_select(0, index)
                rows = [rows[r] for r in live]
                positions = [positions[r] for r in live]
            trailing = _common_trailing_zeros(mask)
            if trailing:
                cache.crop(-trailing)
                mask = mask[:, :-trailing]


def _common_trailing_zeros(mask: Any) -> int:
    """How many last columns of ``mask`` are zero in every row (holes the cache can drop)."""
    columns = mask.any(dim=0).flip(0)
    nonzero = columns.nonzero()
    return int(nonzero[0]) if len(nonzero) else 0
