"""The KV caches copy decoding keeps: each prompt prefix's, across calls, and each batch's, with its attention mask."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ner_toolkit.prompts import longest_common_prefix

PrefixKV = list[tuple[Any, Any]]  # each layer's keys and values of a prompt prefix, batch 1

MAX_PREFIXES = 4  # prefixes kept: one per instruction or system prompt in use, and room for a few one-off ones


class PrefixCache:
    """The KV caches of prompt prefixes already computed, by their tokens; the least recently used goes first."""

    def __init__(self, limit: int = MAX_PREFIXES) -> None:
        self.limit = limit
        self._kv: OrderedDict[tuple[int, ...], PrefixKV] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kv)

    def __contains__(self, prefix: tuple[int, ...]) -> bool:
        return prefix in self._kv

    def get(self, prefix: tuple[int, ...]) -> PrefixKV | None:
        found = self._kv.get(prefix)
        if found is not None:
            self._kv.move_to_end(prefix)
        return found

    def put(self, prefix: tuple[int, ...], kv: PrefixKV) -> None:
        self._kv[prefix] = kv
        self._kv.move_to_end(prefix)
        while len(self._kv) > self.limit:
            self._kv.popitem(last=False)


class BatchCache:
    """One batch's KV cache and attention mask: started from a prefix; finished rows leave it, shared holes are cropped.

    Rows advance by different numbers of tokens: rejected draft positions stay in the cache
    as holes that the mask hides. The mask holds, between steps, the columns before the last
    step; each step appends the last step's columns as each row kept them, and its own.
    """

    def __init__(self, config: Any, device: Any, rows: int, prefix: PrefixKV | None, prefix_len: int) -> None:
        import torch
        from transformers import DynamicCache

        if prefix is not None:
            self.kv = DynamicCache(
                ddp_cache_data=[(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in prefix], config=config
            )
        else:
            self.kv = DynamicCache(config=config)
        self.mask = torch.ones((rows, prefix_len), dtype=torch.long, device=device)
        self.arange = torch.arange(8, device=device)  # position offsets and table slots are cut from it

    def ensure_arange(self, size: int) -> Any:
        """``arange`` at least ``size`` long."""
        if self.arange.numel() < size:
            import torch

            self.arange = torch.arange(2 * size, device=self.arange.device)
        return self.arange

    def prepare(self, rows: int, holes: Any, movers: Any, crop: int, columns: Any) -> Any:
        """The mask of the next forward pass: finished rows gone, ``crop`` columns cropped, ``columns`` appended."""
        import torch

        if self.mask.shape[0] > rows:
            self._drop_rows(rows, holes, movers)
        if crop:
            self.kv.crop(-crop)
        self.mask = torch.cat([self.mask, columns.view(rows, -1)], dim=1)
        return self.mask

    def keep(self, length: int) -> None:
        """Keep the mask's first ``length`` columns: this step's come again next step, as the ones each row kept."""
        self.mask = self.mask[:, :length]

    def _drop_rows(self, left: int, holes: Any, movers: Any) -> None:
        """Keep the first ``left`` rows of the KV cache and the mask, the rows ``movers`` moved into ``holes`` first.

        Finished rows leave the batch by having the last rows left copied into their places and
        the batch cut short: a copy of as many rows as finished, where selecting the rows left
        copies the whole cache. Layer types other than the plain dynamic one are selected whole.
        """
        from transformers.cache_utils import DynamicLayer

        order = None
        for layer in self.kv.layers:
            if type(layer) is DynamicLayer and layer.is_initialized:
                for name in ("keys", "values"):
                    tensor = getattr(layer, name)
                    if len(holes):
                        tensor.index_copy_(0, holes, tensor.index_select(0, movers))
                    setattr(layer, name, tensor[:left])
            else:
                if order is None:
                    import torch

                    order = torch.arange(left, device=self.mask.device)
                    order[holes] = movers
                layer.batch_select_indices(order)
        if len(holes):
            self.mask.index_copy_(0, holes, self.mask.index_select(0, movers))
        self.mask = self.mask[:left]


def prefix_length(prompts: Sequence[Sequence[int]], probe: Sequence[int] = ()) -> int:
    """The tokens every prompt starts with, leaving each its last token (whose output chooses the first answer token).

    With a ``probe`` (a prompt built as the others are, for an input no sentence has), the
    prefix ends where the probe leaves the prompts: every call, of one sentence or many,
    then shares one prefix, and one cached KV cache.
    """
    shared = min(longest_common_prefix(prompts), min(len(p) for p in prompts) - 1)
    if probe:
        shared = min(shared, longest_common_prefix([prompts[0], probe]))
    return max(0, shared)
