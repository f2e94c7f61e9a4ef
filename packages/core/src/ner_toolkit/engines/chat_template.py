"""A model's chat template rendered from its own files with jinja2, as transformers renders it, without transformers.

The ``openai`` predictor's completions endpoint takes the training prompt as text; this
lays it out from ``chat_template.jinja`` (or ``tokenizer_config.json``'s ``chat_template``)
of a local folder or, through huggingface_hub, a hub model.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from ..interfaces import ModelSpec


def _model_file(model: ModelSpec, name: str) -> Path | None:
    """``name`` in the model's folder, or downloaded from the hub when the model is a hub name; None when it has none."""
    folder = Path(model.name_or_path)
    if folder.is_dir():
        return folder / name if (folder / name).is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(model.name_or_path, name, revision=model.revision))
    except EntryNotFoundError:
        return None


class ChatTemplate:
    """The chat template of a model, with the special tokens its template reads (``bos_token``, ``eos_token``, ...)."""

    def __init__(self, source: str, special_tokens: dict[str, str]) -> None:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise ValueError(f"the chat template refuses these messages: {message}")

        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        environment.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
        environment.globals.update(raise_exception=raise_exception, strftime_now=lambda f: datetime.now().strftime(f))
        self.template = environment.from_string(source)
        self.special_tokens = special_tokens

    @classmethod
    def of(cls, model: ModelSpec) -> ChatTemplate:
        """The template of ``model``'s tokenizer; an error naming the model when it has none."""
        if model.gguf_file:
            raise ValueError(f"{model.name_or_path}: api: completions cannot read the chat template inside a GGUF file; use api: chat")
        config_path = _model_file(model, "tokenizer_config.json")
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path else {}
        template_path = _model_file(model, "chat_template.jinja")
        source = template_path.read_text(encoding="utf-8") if template_path else config.get("chat_template")
        if not isinstance(source, str):
            raise ValueError(f"{model.name_or_path}: the tokenizer has no chat template; set model.chat_template: alpaca or use api: chat")
        special = {
            key: value["content"] if isinstance(value, dict) else value
            for key, value in config.items()
            if key.endswith("_token") and isinstance(value, (str, dict))
        }
        return cls(source, special)

    def apply_chat_template(self, messages: list[dict[str, str]], add_generation_prompt: bool = True, tokenize: bool = False) -> str:
        """The conversation as text, as ``PreTrainedTokenizer.apply_chat_template(..., tokenize=False)`` gives it."""
        assert not tokenize, "a chat template here renders text only"
        return self.template.render(messages=messages, add_generation_prompt=add_generation_prompt, **self.special_tokens)
