"""``ner-toolkit serve``: a trained model behind HTTP, answering entities with character offsets.

One model in memory. Requests wait in a queue; a batcher gathers them (waiting at most
``max_wait_ms`` after the first, until their texts fill a batch) and tags their texts
together through ``Tagger.pipe`` in a worker thread, ``max_batch_size`` sentences decoded
at a time, so the event loop stays free while a batch decodes and throughput under load
approaches offline ``predict``. Endpoints:

- ``POST /v1/tag`` with ``{"text": "..."}`` or ``{"texts": ["...", ...]}``: ``{"documents":
  [...]}``, each the record ``predict`` writes (text, entities with start, end, label and
  text, per-sentence diagnostics, warnings);
- ``GET /v1/model``: the model, format, labels, limits, package versions and batch counts;
- ``GET /health``; the OpenAPI page at ``/docs``.

Limits: a body over ``max_body_bytes`` is 413; more texts or characters than allowed,
unknown fields or malformed JSON are 422 naming what was wrong. With a token (``--token``
or ``NER_TOOLKIT_TOKEN``; an empty one is an error) every request but ``/health``, which
a load balancer polls, needs ``Authorization: Bearer <token>`` (401 otherwise). A request
only carries text: nothing in it names a path or a model, and no answer shows a path of
this machine or echoes a rejected request back.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tagger import Document, Tagger

TOKEN_ENV = "NER_TOOLKIT_TOKEN"


@dataclass(frozen=True)
class Limits:
    """What one request may ask, and how requests are gathered into decoder batches (``max_batch_size`` sentences)."""

    max_batch_size: int = 32
    max_wait_ms: float = 10.0
    max_texts: int = 64
    max_chars: int = 20_000
    max_body_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if value < (0 if name == "max_wait_ms" else 1):
                raise ValueError(f"{name} must be at least {0 if name == 'max_wait_ms' else 1}, not {value}")


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future[list[Document]]


@dataclass
class Batcher:
    """Gathers the texts of concurrent requests and tags them together in one worker thread, off the event loop.

    ``tag`` is the tagger's ``pipe``: it decodes ``max_batch_size`` sentences at a time, and
    each request is answered as soon as its own documents are done.
    """

    tag: Callable[[list[str]], Iterator[Document]]
    limits: Limits
    queue: asyncio.Queue[_Job] = field(default_factory=asyncio.Queue)
    batches: int = 0
    requests: int = 0
    texts: int = 0
    _worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagger"))

    async def submit(self, texts: list[str]) -> list[Document]:
        if not texts:
            return []
        future: asyncio.Future[list[Document]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(texts, future))
        return await future

    async def run(self) -> None:
        """Take the next request, wait briefly for more (until a batch's worth of texts), tag them together; forever."""
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            size = len(jobs[0].texts)
            deadline = loop.time() + self.limits.max_wait_ms / 1000
            while size < self.limits.max_batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                size += len(job.texts)
            await self._tag(loop, jobs)

    async def _tag(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
        def answer(job: _Job, documents: list[Document]) -> None:
            if not job.future.done():
                job.future.set_result(documents)

        def work() -> None:
            waiting = deque(jobs)
            documents: list[Document] = []
            for document in self.tag([text for job in jobs for text in job.texts]):
                documents.append(document)
                while waiting and len(documents) >= len(waiting[0].texts):
                    job = waiting.popleft()
                    done, documents = documents[: len(job.texts)], documents[len(job.texts) :]
                    loop.call_soon_threadsafe(answer, job, done)

        try:
            await loop.run_in_executor(self._worker, work)
        except Exception:
            left = [job for job in jobs if not job.future.done()]
            if len(left) > 1:  # one request's failure must not fail the others: tag each on its own
                for job in left:
                    await self._tag(loop, [job])
                return
            for job in left:
                job.future.set_exception(RuntimeError("tagging failed"))
            return
        self.batches += 1
        self.requests += len(jobs)
        self.texts += sum(len(job.texts) for job in jobs)

    def close(self) -> None:
        self._worker.shutdown(wait=True)


def public_name(model: str | Path) -> str:
    """A model as a client may see it: a hub name as it is, a local folder by its name alone (never the machine's paths)."""
    return Path(model).name if Path(model).exists() else str(model)


def authorized(header: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` in the Bearer scheme (its name in any case, RFC 7235)."""
    scheme, _, credentials = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


def checked_token(token: str | None) -> str | None:
    """The token to require, or None for none; an empty or blank token is an error, not a server without authentication."""
    if token is not None and not token.strip():
        raise ValueError(f"the token (--token or {TOKEN_ENV}) is empty; give one, or unset it to serve without authentication")
    return token


def describe(tagger: Tagger) -> dict[str, Any]:
    import importlib.metadata

    versions = {}
    for name in ("ner-toolkit-core", "ner-toolkit-formats", "ner-toolkit-trainers", "torch", "transformers", "peft", "fastapi"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    model = tagger.predictor.model
    adapter = tagger.predictor.adapter
    return {
        "model": public_name(model.name_or_path if adapter is None else adapter),
        "base": public_name(model.name_or_path) if adapter is not None else None,
        "predictor": tagger.predictor.name,
        "format": tagger.formatter.name,
        "labels": [label.name for label in tagger.formatter.labels],
        "tokenizer": tagger.tokenizer.name,
        "versions": versions,
    }


def create_app(tagger: Tagger, limits: Limits = Limits(), token: str | None = None) -> Any:
    """The ASGI application serving ``tagger`` (FastAPI); the tagger's model loads at start-up."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    token = checked_token(token)
    batcher = Batcher(tagger.pipe, limits)
    info = describe(tagger)

    class TagRequest(BaseModel):
        """One text, or several: nothing else."""

        model_config = ConfigDict(extra="forbid")
        text: str | None = Field(None, description="a text to tag")
        texts: list[str] | None = Field(None, description=f"texts to tag, at most {limits.max_texts}")

        @model_validator(mode="after")
        def _one_of(self) -> TagRequest:
            if (self.text is None) == (self.texts is None):
                raise ValueError("give either 'text' or 'texts'")
            items = [self.text] if self.text is not None else self.texts or []
            if len(items) > limits.max_texts:
                raise ValueError(f"{len(items)} texts; at most {limits.max_texts} per request")
            longest = max((len(item) for item in items), default=0)
            if longest > limits.max_chars:
                raise ValueError(f"a text of {longest} characters; at most {limits.max_chars} per text")
            return self

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        await asyncio.get_running_loop().run_in_executor(None, tagger.open)
        runner = asyncio.create_task(batcher.run())
        yield
        runner.cancel()
        batcher.close()
        tagger.close()

    app = FastAPI(title="ner-toolkit", description="Named entities with character offsets from a fine-tuned model.",
                  lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        """422 naming each field and what is wrong with it, without echoing the request back."""
        detail = [{"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]} for item in error.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        if token is not None and request.url.path != "/health":
            if not authorized(request.headers.get("authorization", ""), token):
                return JSONResponse({"detail": "missing or wrong 'Authorization: Bearer <token>'"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            return JSONResponse({"detail": f"request body of {declared} bytes; at most {limits.max_body_bytes}"}, status_code=413)
        if request.method == "POST":
            body = await request.body()
            if len(body) > limits.max_body_bytes:
                return JSONResponse({"detail": f"request body of {len(body)} bytes; at most {limits.max_body_bytes}"}, status_code=413)
        return await call_next(request)

    async def tag_texts(request: TagRequest) -> dict[str, Any]:
        """Tag one text or several; each comes back as the record `ner-toolkit predict` writes."""
        texts = [request.text] if request.text is not None else list(request.texts or [])
        began = time.perf_counter()
        documents = await batcher.submit(texts)
        return {"documents": [document.to_json() for document in documents], "seconds": round(time.perf_counter() - began, 4)}

    # the request model is made here, with the limits in it: give FastAPI the class, not its name
    tag_texts.__annotations__["request"] = TagRequest
    app.post("/v1/tag")(tag_texts)

    @app.get("/v1/model")
    async def model() -> dict[str, Any]:
        """The model, its format and labels, the limits, package versions, and how requests were batched so far."""
        served = {"requests": batcher.requests, "texts": batcher.texts, "batches": batcher.batches}
        return {**info, "limits": limits.__dict__, "served": served}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(tagger: Tagger, host: str = "127.0.0.1", port: int = 8000, limits: Limits = Limits(), token: str | None = None) -> None:
    """Run the server until interrupted; requests in flight finish at shutdown."""
    import uvicorn

    uvicorn.run(create_app(tagger, limits, token), host=host, port=port, log_level="info", timeout_graceful_shutdown=60)
