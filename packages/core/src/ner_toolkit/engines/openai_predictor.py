"""The ``openai`` predictor: asks any OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp's server, ``transformers serve``).

Each sentence is one request, prompted exactly as in training: as chat messages (the
server applies the model's chat template), or on the completions endpoint as the prompt
text the trainer tokenized. Up to ``concurrency`` requests are in flight; each answer is
yielded as it arrives, so the run appends it at once and a killed run resumes where it
stopped. With ``constrain: grammar`` each request carries the sentence's copy grammar
(``ner_toolkit.grammars``) in the field and dialect of the named ``engine``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from .. import RUNTIME_ONLY, hookimpl
from ..interfaces import Example, Predictor
from ..prompts import chat_messages, prompt_text
from .endpoint import Endpoint, EndpointError

Engine = Literal["vllm", "sglang", "llama.cpp", "none"]

GRAMMAR_FIELDS: dict[str, tuple[str, Any]] = {
    "vllm": ("structured_outputs", "ebnf"),  # {"structured_outputs": {"grammar": ...}}, vLLM 0.12 and later
    "sglang": ("ebnf", "ebnf"),
    "llama.cpp": ("grammar", "gbnf"),
}
"""Where each engine reads a per-request grammar, and in which dialect."""


class OpenAIOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="the API root, e.g. http://127.0.0.1:8000/v1")
    model: str = Field(description="the model name the endpoint serves (an id of its /v1/models), e.g. a LoRA adapter's name")
    api_key_env: str | None = Field(
        None, json_schema_extra=RUNTIME_ONLY,
        description="the environment variable that holds the API key; the key is read at run time and never written anywhere",
    )
    api: Literal["chat", "completions"] = Field(
        "chat", description="chat: messages, laid out by the server's chat template; completions: the training prompt as text"
    )
    constrain: Literal["none", "grammar"] = Field("none", description="grammar: send each sentence's copy grammar (inline formats)")
    engine: Engine = Field("none", description="the engine behind the endpoint, which says how a grammar is sent")
    max_tokens: int | None = Field(None, ge=1, description="longest answer in tokens; default: twice the sentence's characters + 32")
    stop_at_newline: bool = Field(True, description="ask the engine to stop at a newline (the parser reads the first line)")
    temperature: float = Field(0.0, ge=0, description="0: greedy")
    seed: int | None = Field(None, description="sent to engines that sample")
    concurrency: int = Field(8, ge=1, le=1024, json_schema_extra=RUNTIME_ONLY, description="requests in flight at once")
    timeout: float = Field(120.0, gt=0, json_schema_extra=RUNTIME_ONLY, description="seconds to wait for one answer")
    retries: int = Field(6, ge=0, json_schema_extra=RUNTIME_ONLY, description="times a request is sent again after a 429, 5xx, timeout or dropped connection")
    backoff: float = Field(1.0, ge=0, json_schema_extra=RUNTIME_ONLY, description="seconds before the first retry, doubled for each next one")
    max_wait: float = Field(60.0, ge=0, json_schema_extra=RUNTIME_ONLY, description="longest wait before a retry, Retry-After included")


def endpoint_host(base_url: str) -> str:
    """The scheme, host and port of ``base_url``: what reports name (a path or query may hold a key; they are left out)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class OpenAIPredictor(Predictor):
    """Asks an OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp, transformers serve), with retries and bounded concurrency."""

    name = "openai"
    Options = OpenAIOptions
    options: OpenAIOptions
    needs_model = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._endpoint: Endpoint | None = None
        self._tokenizer: Any = None  # the chat template that lays out a completions prompt

    @classmethod
    def check_recipe(cls, recipe: Any) -> list[str]:
        """httpx is installed; a grammar needs an inline format and a named engine; completions need the recipe's model; the key's variable is set."""
        from .. import plugins

        o = cls.Options.model_validate(recipe.predictor.options)
        problems = []
        if any(importlib.util.find_spec(name) is None for name in ("httpx", "jinja2", "huggingface_hub")):
            problems.append("predictor.name: the openai predictor needs httpx, jinja2 and huggingface_hub: pip install 'ner-toolkit[openai]'")
        if o.constrain == "grammar":
            if o.engine == "none":
                problems.append("predictor.options.engine: constrain: grammar needs the engine that reads it (vllm, sglang or llama.cpp)")
            try:
                formatter = plugins.get_formatter(recipe.format.name)(recipe.label_set(), **recipe.format.options)
            except (plugins.PluginError, ValueError):
                formatter = None
            markup = formatter.inline_markup() if formatter is not None else None
            if formatter is not None and (markup is None or markup.max_depth != 1):
                problems.append(f"predictor.options.constrain: the copy grammar needs a flat inline format (bracketed, xml), not {recipe.format.name!r}")
        if o.api == "completions" and recipe.model is None:
            problems.append("model: api: completions lays out the prompt with the model's chat template; name the model (its tokenizer) or use api: chat")
        if o.api_key_env and not os.environ.get(o.api_key_env):
            problems.append(f"predictor.options.api_key_env: environment variable {o.api_key_env} is not set")
        if recipe.trainer is not None:
            problems.append("trainer: the openai predictor asks a served model and never the one this recipe trains; "
                            "train with the transformers predictor, serve the model, then predict in a recipe without a trainer")
        return problems

    @classmethod
    def describe(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The served model, the endpoint's host (never its key) and how it is asked: for the manifest and reports."""
        o = cls.Options.model_validate(options)
        return {"model": o.model, "endpoint": endpoint_host(o.base_url), "api": o.api, "engine": o.engine, "constrain": o.constrain}

    def open(self) -> None:
        """Connect (lazily: the first request connects) and, for completions with a chat template, read the template."""
        if self._endpoint is not None:
            return
        o = self.options
        key = None
        if o.api_key_env:
            key = os.environ.get(o.api_key_env)
            if not key:
                raise EndpointError(f"{o.base_url}: environment variable {o.api_key_env} (api_key_env) is not set")
        if o.api == "completions" and (self.model is None or self.model.chat_template == "model"):
            if self.model is None:
                raise ValueError("api: completions needs the recipe's model (its tokenizer lays out the prompt)")
            from .chat_template import ChatTemplate

            self._tokenizer = ChatTemplate.of(self.model)
        self._endpoint = Endpoint(o.base_url, key, o.timeout, o.retries, o.backoff, o.max_wait, o.concurrency)

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None

    @property
    def retried(self) -> int:
        """Requests sent again so far, after a 429, a 5xx, a timeout or a dropped connection."""
        return self._endpoint.retried if self._endpoint is not None else 0

    def request(self, example: Example) -> tuple[str, dict[str, Any]]:
        """The path and JSON body that ask for ``example``'s answer."""
        o = self.options
        body: dict[str, Any] = {"model": o.model, "temperature": o.temperature,
                                "max_tokens": o.max_tokens or 2 * len(example.input) + 32}
        if o.seed is not None:
            body["seed"] = o.seed
        if o.stop_at_newline and o.constrain == "none":
            body["stop"] = ["\n"]
        if o.constrain == "grammar":
            body.update(self.grammar_field(example))
        system = self.model.system_prompt if self.model is not None else None
        if o.api == "chat":
            return "/chat/completions", {**body, "messages": chat_messages(example, system)}
        layout = self.model.chat_template if self.model is not None else "model"
        return "/completions", {**body, "prompt": prompt_text(self._tokenizer, example, layout, system)}

    def grammar_field(self, example: Example) -> dict[str, Any]:
        """The request field that carries ``example``'s copy grammar, as ``engine`` reads it."""
        from ..grammars import copy_grammar

        markup = self.formatter.inline_markup()
        assert markup is not None and self.options.engine != "none"
        field, dialect = GRAMMAR_FIELDS[self.options.engine]
        grammar = copy_grammar(markup, [label.name for label in self.formatter.labels], example.tokens, dialect)
        return {field: {"grammar": grammar}} if field == "structured_outputs" else {field: grammar}

    def ask(self, example: Example) -> str:
        """The endpoint's answer for one example: its first choice's text."""
        assert self._endpoint is not None
        path, body = self.request(example)
        try:
            answer = self._endpoint.post(path, body)
        except EndpointError as error:
            if error.status in (400, 404):
                served = self.served_models()
                if served and self.options.model not in served:
                    raise EndpointError(f"{error} (predictor.options.model is {self.options.model!r}; "
                                        f"the endpoint serves {', '.join(served)})", error.status) from None
            raise
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] if path == "/chat/completions" else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise EndpointError(f"{self._endpoint.base_url}{path}: the answer has no choices[0] text: {str(answer)[:120]}") from None
        return text or ""

    def served_models(self) -> list[str]:
        """The model names the endpoint's ``/models`` lists; empty when it lists none."""
        assert self._endpoint is not None
        listed = self._endpoint.get("/models")
        data = listed.get("data") if isinstance(listed, dict) else None
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m] if isinstance(data, list) else []

    def generate(self, examples: Sequence[Example]) -> Iterator[tuple[int, str]]:
        """Ask for every example, ``concurrency`` at once, yielding each answer as it arrives.

        After a request fails for good, no new one is sent; those in flight are awaited and
        yielded (so the run writes them), then the first error is raised.
        """
        if not examples:
            return
        self.open()
        pending: dict[Future[str], int] = {}
        waiting = iter(range(len(examples)))
        failure: BaseException | None = None
        pool = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="openai")

        def send_next() -> None:
            index = next(waiting, None)
            if index is not None:
                pending[pool.submit(self.ask, examples[index])] = index

        try:
            for _ in range(self.options.concurrency):
                send_next()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    try:
                        text = future.result()
                    except Exception as error:  # noqa: BLE001 - raised once the requests in flight are in
                        failure = failure or error
                        continue
                    if failure is None:
                        send_next()
                    yield index, text
            if failure is not None:
                raise failure
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


@hookimpl
def register_predictors(register: Any) -> None:
    register(OpenAIPredictor)
