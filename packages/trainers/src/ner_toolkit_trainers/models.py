"""Loading tokenizers and models from a hub name, a local folder, or a GGUF file in a folder."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from ner_toolkit import ModelSpec

DEVICE = re.compile(r"auto|cpu|mps|(cuda|xpu|npu)(:\d+)?")


def _device_name(value: str) -> str:
    if not DEVICE.fullmatch(value):
        raise ValueError(f"{value!r} is not a device; expected auto, cpu, mps, cuda or cuda:N")
    return value


Device = Annotated[str, AfterValidator(_device_name)]
"""A device option, checked when the recipe or command line is read, not when the model loads."""


def _source(spec: ModelSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    if spec.revision:
        kwargs["revision"] = spec.revision
    return kwargs


def load_tokenizer(spec: ModelSpec, path: str | Path | None = None) -> Any:
    """The tokenizer of ``spec`` (or of a saved folder ``path``), with a pad token."""
    from transformers import AutoTokenizer

    if path is not None:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    else:
        tokenizer = AutoTokenizer.from_pretrained(spec.name_or_path, **_source(spec))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(spec: ModelSpec, dtype: str = "float32", device: str = "cpu", path: str | Path | None = None) -> Any:
    """The causal LM of ``spec`` (or of a saved folder ``path``), in ``dtype``, on ``device``.

    A GGUF checkpoint is dequantized on load; its quantization config is dropped so that
    the model trains and saves as an ordinary one.
    """
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = getattr(torch, dtype) if dtype != "auto" else "auto"
    if path is not None:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(spec.name_or_path, dtype=torch_dtype, **_source(spec))
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None and spec.gguf_file:
        quantizer.remove_quantization_config(model)
    return model.to(device)


def pick_device(requested: str) -> str:
    """``auto`` means CUDA when it is there, else the CPU."""
    if requested != "auto":
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cache_argument(module: Any) -> str:
    """The keyword a model's forward takes its KV cache by: transformers 5.x renamed ``past_key_values`` to ``cache``."""
    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"
