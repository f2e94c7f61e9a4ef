"""The ``transformers`` predictor: batched greedy decoding with left padding and the KV cache.

Prompts are sorted by length so that a batch pads little; generation of a sequence stops
at the end-of-turn token or at the first token that contains a newline (the parser
discards everything after the first newline anyway).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ner_toolkit import RUNTIME_ONLY, Example, Generation, Predictor, hookimpl
from ner_toolkit.prompts import end_of_turn_id, prompt_ids

from .models import Device, load_model, load_tokenizer, pick_device

PROBE_INPUT = "\x00"  # an input no sentence has: where a prompt of it leaves the others, their shared prefix ends


class TransformersOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(16, ge=1)
    max_new_tokens: int | None = Field(None, ge=1, description="fixed cap; default: from each input's length")
    new_tokens_per_input_token: float = Field(2.0, gt=0, description="cap = this x input tokens + 16")
    stop_at_newline: bool = True
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: Device = "auto"
    threads: int | None = Field(None, ge=1)
    progress: bool = Field(True, json_schema_extra=RUNTIME_ONLY)
    decoding: Literal["plain", "constrained", "speculative"] = Field(
        "plain",
        description="plain greedy; constrained to valid renderings of the input (inline formats); "
        "constrained with speculative copying of the input (same output, fewer forward passes)",
    )
    prefix_cache: bool = Field(False, description="compute the prompts' common prefix once and reuse its KV cache")
    draft_tokens: int = Field(16, ge=1, description="longest draft per forward pass (speculative decoding)")
    adaptive_drafts: bool = Field(
        True,
        description="each row's drafts grow while accepted whole and shrink when rejected, and a step drafts only where "
        "drafts save more time than they cost, as measured while decoding (the output is the same either way)",
    )
    pause_at_names: bool = Field(False, description="drafts stop before capitalized words not yet seen as entities")
    entity_scores: bool = Field(
        True,
        description="give each entity a score: the probability of its markup tokens (ner_toolkit.confidence); "
        "outputs are the same either way",
    )
    freeze_gc: bool = Field(
        False,
        json_schema_extra=RUNTIME_ONLY,
        description="for a process that does nothing but decode: change its garbage collector. After loading, move what "
        "is alive to the permanent generation (gc.freeze, as vLLM does), so that full collections stop walking the "
        "loaded libraries, and pause the cyclic collector while a batch is copy-decoded (it runs between batches). "
        "Off by default: the host application (a web server, a spaCy pipeline) keeps its collector as it was",
    )


def newline_token_ids(tokenizer: Any) -> list[int]:
    """Every vocabulary entry whose text contains a newline: generation may stop at any of them."""
    ids = []
    for token, index in tokenizer.get_vocab().items():
        if "\n" in tokenizer.convert_tokens_to_string([token]):
            ids.append(index)
    return sorted(ids)


@dataclass
class _Loaded:
    """What ``open`` loads once and every ``generate`` call reuses."""

    model: Any
    tokenizer: Any
    device: str
    end_of_turn: int
    stop_ids: list[int]
    trie: Any
    decoder: Any = None  # the copy decoder, for every mode but plain ``generate``


class TransformersPredictor(Predictor):
    """Batched greedy generation with transformers (left padding, KV cache, length-sorted batches)."""

    name = "transformers"
    Options = TransformersOptions
    options: TransformersOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: _Loaded | None = None
        self.loads = 0  # how many times ``open`` loaded the model: once per run

    @classmethod
    def check_recipe(cls, recipe: Any) -> list[str]:
        """Constrained and speculative decoding need an inline format (one that declares ``inline_markup``)."""
        from ner_toolkit import plugins

        decoding = cls.Options.model_validate(recipe.predictor.options).decoding
        try:
            formatter = plugins.get_formatter(recipe.format.name)(recipe.label_set(), **recipe.format.options)
        except (plugins.PluginError, ValueError):
            return []  # an unknown format or bad options are reported on their own fields
        inline = formatter.inline_markup() is not None
        if decoding == "plain" or inline:
            return []
        return [f"predictor.options.decoding: {decoding} decoding needs an inline format (bracketed, xml), not {recipe.format.name!r}"]

    @classmethod
    def recipe_warnings(cls, recipe: Any) -> list[str]:
        """Options set in the recipe that the chosen decoding mode ignores."""
        given = recipe.predictor.options
        decoding = cls.Options.model_validate(given).decoding
        ignored = {
            "max_new_tokens": decoding != "plain",
            "new_tokens_per_input_token": decoding != "plain",
            "stop_at_newline": decoding != "plain",
            "draft_tokens": decoding != "speculative",
            "pause_at_names": decoding != "speculative",
            "adaptive_drafts": decoding != "speculative",
        }
        why = {"max_new_tokens": "the copy grammar bounds constrained outputs", "new_tokens_per_input_token": "the copy grammar bounds constrained outputs",
               "stop_at_newline": "constrained outputs hold no newline", "draft_tokens": "drafts are made only by speculative decoding",
               "pause_at_names": "drafts are made only by speculative decoding",
               "adaptive_drafts": "drafts are made only by speculative decoding"}
        return [
            f"predictor.options.{name}: has no effect with decoding: {decoding} ({why[name]})"
            for name, unused in ignored.items() if unused and name in given
        ]

    @classmethod
    def tagging_options(cls, options: dict[str, Any], formatter: Any, scored: bool = False) -> dict[str, Any]:
        """The options a Tagger runs this predictor with: quiet, and for a bare model copying where it can.

        ``progress`` is off unless given. Options a run or export was ``scored`` with are kept
        as they are, so it tags as it was scored (on a GPU, plain and speculative decoding can
        differ in the last bits of a logit). Otherwise, where ``decoding`` is not given it is
        ``speculative`` for an inline format (one that declares ``inline_markup``) and ``plain``
        otherwise, with the prefix cache on unless ``prefix_cache`` is given. ``options`` is not changed.
        """
        tagging = dict(options)
        tagging.setdefault("progress", False)
        if not scored and "decoding" not in tagging:
            tagging["decoding"] = "speculative" if formatter.inline_markup() is not None else "plain"
            tagging.setdefault("prefix_cache", True)
        return tagging

    def open(self) -> None:
        """Load the model (merging an adapter), the tokenizer and, once per tokenizer, its vocabulary tables."""
        if self._loaded is not None:
            return
        import torch

        o = self.options
        if o.threads:
            torch.set_num_threads(o.threads)
        device = pick_device(o.device)
        if device == "cuda" and "LOCAL_RANK" in os.environ:  # a data-parallel launch: one GPU per process
            device = f"cuda:{os.environ['LOCAL_RANK']}"
        dtype = o.dtype if o.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")
        adapter = self.adapter
        local = adapter is not None and Path(adapter).is_dir()
        if adapter is not None and (not local or (Path(adapter) / "adapter_config.json").exists()):
            from peft import PeftModel  # a PEFT adapter: a saved folder, or a hub name (then the base's tokenizer)

            tokenizer = load_tokenizer(self.model, adapter if local else None)
            base = load_model(self.model, dtype, device)
            model = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
        elif adapter is not None:
            tokenizer = load_tokenizer(self.model, adapter)
            model = load_model(self.model, dtype, device, path=adapter)
        else:
            tokenizer = load_tokenizer(self.model)
            model = load_model(self.model, dtype, device)
        model.eval()
        tokenizer.padding_side = "left"
        layout = self.model.chat_template
        end_of_turn = end_of_turn_id(tokenizer, layout)
        stop_ids = {end_of_turn, tokenizer.eos_token_id}
        if o.stop_at_newline and o.decoding == "plain":
            stop_ids.update(newline_token_ids(tokenizer))
        trie = None
        if o.decoding != "plain":
            from .decoding.vocabulary import VocabTrie

            trie = VocabTrie.from_tokenizer(tokenizer)
        self.loads += 1
        self._loaded = loaded = _Loaded(model, tokenizer, device, end_of_turn, sorted(i for i in stop_ids if i is not None), trie)
        if o.decoding != "plain" or o.prefix_cache:
            loaded.decoder = self._copy_decoder(loaded)
        if o.freeze_gc:
            gc.collect()
            gc.freeze()

    def close(self) -> None:
        """Drop the model and tables; on a GPU, hand its cached memory back."""
        if self._loaded is None:
            return
        device = self._loaded.device
        self._loaded = None
        if self.options.freeze_gc:
            gc.unfreeze()
        gc.collect()  # the model's memory, now rather than at some later collection
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def generate(self, examples: Sequence[Example]) -> Iterator[tuple[int, str]]:
        import torch

        if not examples:
            return
        self.open()
        assert self._loaded is not None
        o = self.options
        model, tokenizer, device = self._loaded.model, self._loaded.tokenizer, self._loaded.device
        stop = self._loaded.stop_ids
        layout = self.model.chat_template
        prompts = [prompt_ids(tokenizer, example, layout, self.model.system_prompt) for example in examples]
        input_lengths = [len(tokenizer(e.input, add_special_tokens=False)["input_ids"]) for e in examples]
        order = sorted(range(len(examples)), key=lambda i: -len(prompts[i]))
        from tqdm.auto import tqdm

        progress = tqdm(total=len(examples), unit="sent", desc="generate", disable=not o.progress)
        if o.decoding != "plain" or o.prefix_cache:
            yield from self._copy_decode(examples, prompts, input_lengths, progress)
            return
        for start in range(0, len(order), o.batch_size):
            batch = order[start : start + o.batch_size]
            width = max(len(prompts[i]) for i in batch)
            pad = tokenizer.pad_token_id
            input_ids = torch.tensor([[pad] * (width - len(prompts[i])) + prompts[i] for i in batch], device=device)
            attention = torch.tensor([[0] * (width - len(prompts[i])) + [1] * len(prompts[i]) for i in batch], device=device)
            cap = o.max_new_tokens or max(int(o.new_tokens_per_input_token * input_lengths[i]) + 16 for i in batch)
            recorder = _ChosenLogprobs() if o.entity_scores else None
            with torch.inference_mode():
                generated = model.generate(
                    input_ids=input_ids,
                    attention_mask=attention,
                    max_new_tokens=cap,
                    do_sample=False,
                    eos_token_id=stop,
                    pad_token_id=pad,
                    use_cache=True,
                    logits_processor=[recorder] if recorder is not None else None,
                )
            from .decoding.decoder import token_ends

            stopping = set(stop)
            logprobs = recorder.rows() if recorder is not None else None
            for row, index in enumerate(batch):
                ids = generated[row, width:].tolist()
                text = tokenizer.decode(ids, skip_special_tokens=True)
                if logprobs is None:
                    yield index, text
                    continue
                end = next((k for k, token in enumerate(ids) if token in stopping), len(ids))  # padding follows the stop
                yield index, Generation(text, token_ends(tokenizer, ids[:end]), tuple(logprobs[row][:end]))
            progress.update(len(batch))
        progress.close()

    @property
    def decoder(self) -> Any:
        """The copy decoder that every ``generate`` call reuses (``None`` before ``open`` and for plain decoding)."""
        return self._loaded.decoder if self._loaded is not None else None

    def _copy_decoder(self, loaded: _Loaded) -> Any:
        """The copy decoder of the loaded model: built once, so that its caches stay warm across calls."""
        from .decoding.decoder import CopyDecoder

        o = self.options
        probe = Example("probe", self.formatter.instruction(), PROBE_INPUT, "")
        return CopyDecoder(
            loaded.model, loaded.tokenizer, self.formatter, decoding=o.decoding, prefix_cache=o.prefix_cache,
            batch_size=o.batch_size, draft_tokens=o.draft_tokens, pause_at_names=o.pause_at_names,
            adaptive_drafts=o.adaptive_drafts, end_of_turn=loaded.end_of_turn, stop_ids=loaded.stop_ids, trie=loaded.trie,
            pause_gc=o.freeze_gc, scored=o.entity_scores,
            prefix_probe=prompt_ids(loaded.tokenizer, probe, self.model.chat_template, self.model.system_prompt),
        )

    def _copy_decode(
        self, examples: Sequence[Example], prompts: list[list[int]], input_lengths: list[int], progress: Any,
    ) -> Iterator[tuple[int, str]]:
        """Prefix caching, constrained or speculative decoding, by the loaded model's copy decoder (``decoding``)."""
        o = self.options
        caps = [o.max_new_tokens or int(o.new_tokens_per_input_token * n) + 16 for n in input_lengths]
        yield from self.decoder.generate(prompts, examples, caps, on_batch=progress.update)
        progress.close()


class _ChosenLogprobs:
    """A logits processor that changes nothing and keeps, each step, the log-probability of the greedy choice.

    Greedy decoding takes the argmax of the scores this processor sees last, so the argmax's
    log-probability is the chosen token's; one number per row and step is kept, never the logits.
    """

    def __init__(self) -> None:
        self.steps: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        scores32 = scores.float()
        self.steps.append(scores32.max(-1).values - torch.logsumexp(scores32, -1))
        return scores

    def rows(self) -> list[list[float]]:
        """Each row's log-probabilities, step by step."""
        import torch

        return torch.stack(self.steps, dim=1).tolist() if self.steps else []


@hookimpl
def register_predictors(register: Any) -> None:
    register(TransformersPredictor)
