"""``ner-toolkit serve``: a trained model behind HTTP, answering entities with character offsets.

One model in memory. Requests wait in a queue; a batcher takes up to ``max_batch_size``
texts (waiting at most ``max_wait_ms`` for more after the first) and tags them together
in a worker thread, so the event loop stays free while a batch decodes and throughput
under load approaches offline ``predict``. Endpoints:

- ``POST /v1/tag`` with ``{"text": "..."}`` or ``{"texts": ["...", ...]}``: ``{"documents":
  [...]}``, each the record ``predict`` writes (text, entities with start, end, label and
  text, per-sentence diagnostics, warnings);
- ``GET /v1/model``: the model, format, labels, limits, package versions and batch counts;
- ``GET /health``; the OpenAPI page at ``/docs``.

Limits: a body over ``max_body_bytes`` is 413; more texts or characters than allowed,
unknown fields or malformed JSON are 422 naming what was wrong. With a token (``--token``
or ``NER_TOOLKIT_TOKEN``) every request needs ``Authorization: Bearer <token>`` (401
otherwise). A request only carries text: nothing in it names a path or a model.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .tagger import Document, Tagger

TOKEN_ENV = "NER_TOOLKIT_TOKEN"


@dataclass(frozen=True)
class Limits:
    """What one request may ask, and how requests are gathered into decoder batches."""

    max_batch_size: int = 32
    max_wait_ms: float = 10.0
    max_texts: int = 64
    max_chars: int = 20_000
    max_body_bytes: int = 1_000_000


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future[list[Document]]


@dataclass
class Batcher:
    """Gathers the texts of concurrent requests into batches, tagged one batch at a time off the event loop."""

    tag: Callable[[list[str]], list[Document]]
    limits: Limits
    queue: asyncio.Queue[_Job] = field(default_factory=asyncio.Queue)
    batches: int = 0
    requests: int = 0
    texts: int = 0
    _worker: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagger"))

    async def submit(self, texts: list[str]) -> list[Document]:
        future: asyncio.Future[list[Document]] = asyncio.get_running_loop().create_future()
        await self.queue.put(_Job(texts, future))
        return await future

    async def run(self) -> None:
        """Take the next job, wait briefly for more, tag them together; forever (cancelled at shutdown)."""
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
        texts = [text for job in jobs for text in job.texts]
        try:
            documents = await loop.run_in_executor(self._worker, self.tag, texts)
        except Exception:
            if len(jobs) > 1:  # one request's failure must not fail the others: tag each on its own
                for job in jobs:
                    await self._tag(loop, [job])
                return
            jobs[0].future.set_exception(RuntimeError("tagging failed"))
            return
        self.batches += 1
        self.requests += len(jobs)
        self.texts += len(texts)
        at = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(documents[at : at + len(job.texts)])
            at += len(job.texts)

    def close(self) -> None:
        self._worker.shutdown(wait=True)


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
        "model": model.name_or_path if adapter is None else str(adapter),
        "base": model.name_or_path if adapter is not None else None,
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
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, model_validator

    lock = threading.Lock()

    def tag(texts: list[str]) -> list[Document]:
        with lock:
            return list(tagger.pipe(texts, batch_size=max(1, len(texts))))

    batcher = Batcher(tag, limits)
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

    @app.middleware("http")
    async def guard(request: Request, call_next):  # type: ignore[no-untyped-def]
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
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
