"""`ner-toolkit serve`: the real server in a subprocess on a free localhost port, called with a real HTTP client.

The run folder predicts with the example plugin's gazetteer (no model), so responses can be
compared with the Tagger's own output exactly. Every request goes to 127.0.0.1 and every
loop here is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ner_toolkit import Document, Tagger
from ner_toolkit.run.pipeline import run
from ner_toolkit.run.recipe import load_recipe
from ner_toolkit.tagging.serve import Batcher, Limits, describe

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "recipes" / "qwen2.5-7b-conll2003.yaml"
TEXT = "Hussain, considered surplus to England's one-day requirements, struck 158."
TEXTS = [TEXT, "", "Essex beat Kent.  Nasser Hussain scored 58 runs."]


@pytest.fixture(scope="module")
def gazetteer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve")
    entries = folder / "names.json"
    entries.write_text(json.dumps({"Hussain": "PER", "England": "LOC", "Essex": "ORG", "Nasser Hussain": "PER"}), encoding="utf-8")
    recipe = load_recipe(REFERENCE, ["data.train=null", "data.dev=null", "data.test=null", "trainer=null",
                                     f"predictor={{name: gazetteer, options: {{entries: {entries}}}}}", f"output_dir={folder / 'run'}"])
    run(recipe, log=lambda message: None)
    return folder / "run"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(run_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ner_toolkit", "serve", str(run_dir), "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            httpx.get(f"{url}/health", timeout=1, headers={"authorization": "Bearer s3cret"})
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not start within 60 s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def server(gazetteer_run: Path) -> Iterator[str]:
    process, url = start(gazetteer_run, "--max-wait-ms", "100", "--max-texts", "4", "--max-chars", "300",
                         "--max-body-bytes", "2000")
    yield url
    stop(process)


def test_responses_equal_the_taggers_own_output(server: str, gazetteer_run: Path) -> None:
    tagger = Tagger.load(gazetteer_run)
    one = httpx.post(f"{server}/v1/tag", json={"text": TEXT}, timeout=30)
    assert one.status_code == 200, one.text
    assert one.json()["documents"] == [tagger(TEXT).to_json()]
    many = httpx.post(f"{server}/v1/tag", json={"texts": TEXTS}, timeout=30)
    assert many.json()["documents"] == [document.to_json() for document in tagger.pipe(TEXTS)]
    assert many.json()["documents"][1]["entities"] == []  # an empty text has no entities
    model = httpx.get(f"{server}/v1/model", timeout=10).json()
    assert (model["predictor"], model["format"], model["labels"]) == ("gazetteer", "bracketed", ["ORG", "PER", "LOC", "MISC"])
    assert "ner-toolkit-core" in model["versions"] and model["limits"]["max_texts"] == 4
    assert httpx.get(f"{server}/openapi.json", timeout=10).json()["paths"]["/v1/tag"]


def test_concurrent_requests_are_gathered_into_batches(server: str) -> None:
    before = httpx.get(f"{server}/v1/model", timeout=10).json()["served"]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(client.post(f"{server}/v1/tag", json={"text": f"{TEXT} {k}"}) for k in range(16)))

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 16
    assert [r.json()["documents"][0]["text"] for r in responses] == [f"{TEXT} {k}" for k in range(16)]
    after = httpx.get(f"{server}/v1/model", timeout=10).json()["served"]
    requests, batches = after["requests"] - before["requests"], after["batches"] - before["batches"]
    assert requests == 16 and batches < requests


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"texts": ["a"] * 5}, 422, "5 texts; at most 4 per request"),
        ({"text": "x" * 301}, 422, "a text of 301 characters; at most 300 per text"),
        ({"text": "x", "model": "/etc/passwd"}, 422, "Extra inputs are not permitted"),
        ({}, 422, "give either 'text' or 'texts'"),
        ({"text": 7}, 422, "Input should be a valid string"),
        ({"texts": ["y" * 250] * 4 + ["z" * 250] * 4}, 413, "at most 2000"),
        ('{"text": "unclosed', 422, "JSON decode error"),
    ],
)
def test_bad_requests_get_their_status_and_leave_the_server_up(server: str, body: object, status: int, message: str) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(f"{server}/v1/tag", content=content, headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == status and message in response.text, response.text
    assert httpx.post(f"{server}/v1/tag", json={"text": TEXT}, timeout=30).status_code == 200


def test_a_token_is_required_on_every_request_but_health(gazetteer_run: Path) -> None:
    """Item 13: /health answers a load balancer without the token; the Bearer scheme's name is case-insensitive."""
    process, url = start(gazetteer_run, env={"NER_TOOLKIT_TOKEN": "s3cret"})
    try:
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        for path in ("/v1/model", "/docs", "/openapi.json"):
            assert httpx.get(f"{url}{path}", timeout=10).status_code == 401
        assert httpx.post(f"{url}/v1/tag", json={"text": TEXT}, headers={"authorization": "Bearer wrong"}, timeout=10).status_code == 401
        assert httpx.post(f"{url}/v1/tag", json={"text": TEXT}, headers={"authorization": "s3cret"}, timeout=10).status_code == 401
        for scheme in ("Bearer", "bearer", "BEARER"):
            good = httpx.post(f"{url}/v1/tag", json={"text": TEXT}, headers={"authorization": f"{scheme} s3cret"}, timeout=10)
            assert good.status_code == 200 and good.json()["documents"][0]["entities"][0]["text"] == "Hussain"
    finally:
        stop(process)


@pytest.mark.parametrize("how", [["--token", ""], ["--token", "  "], "env"])
def test_an_empty_token_is_an_error_at_start_not_a_server_without_authentication(gazetteer_run: Path, how: object) -> None:
    """Item 13: --token "" or NER_TOOLKIT_TOKEN= would otherwise serve everyone."""
    args = how if isinstance(how, list) else []
    env = {**os.environ, "NER_TOOLKIT_TOKEN": ""} if how == "env" else dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "ner_toolkit", "serve", str(gazetteer_run), "--port", str(free_port()), *args],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and "the token (--token or NER_TOOLKIT_TOKEN) is empty" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_the_model_is_described_by_name_not_by_where_it_lies(tiny_qwen2_dir: Path) -> None:
    """Item 13: /v1/model shows a local model folder by its name, a hub model by its hub name."""
    local = describe(Tagger.load(tiny_qwen2_dir, format="bracketed", labels="conll2003"))
    assert local["model"] == tiny_qwen2_dir.name and str(tiny_qwen2_dir.parent) not in json.dumps(local)
    adapter = describe(Tagger.load("stefan-it/Qwen2.5-7B-CoNLL-2003", base="Qwen/Qwen2.5-7B", format="bracketed", labels="conll2003"))
    assert (adapter["model"], adapter["base"]) == ("stefan-it/Qwen2.5-7B-CoNLL-2003", "Qwen/Qwen2.5-7B")


def test_a_rejected_request_is_not_echoed_back(server: str) -> None:
    """Item 13: a 422 names the field and what is wrong, without the request's texts."""
    secret = "confidential patient note " * 5
    response = httpx.post(f"{server}/v1/tag", json={"texts": [secret] * 5}, timeout=30)
    assert response.status_code == 422 and "5 texts; at most 4 per request" in response.text
    assert "confidential" not in response.text


def test_shutdown_finishes_the_requests_in_flight(gazetteer_run: Path) -> None:
    process, url = start(gazetteer_run, "--max-wait-ms", "1500")  # a request waits 1.5 s in the batcher

    async def request_then_stop() -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            pending = asyncio.create_task(client.post(f"{url}/v1/tag", json={"text": TEXT}))
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            return await pending

    response = asyncio.run(request_then_stop())
    assert response.status_code == 200 and response.json()["documents"][0]["entities"][1]["text"] == "England"
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained


def test_the_batcher_decodes_max_batch_size_sentences_through_the_taggers_pipe(gazetteer_run: Path) -> None:
    """--max-batch-size counts sentences: the texts of concurrent requests are decoded that many sentences at a time."""
    tagger = Tagger.load(gazetteer_run, batch_size=2)
    calls: list[int] = []
    original = tagger.predictor.predict

    def predict(sentences, examples=None):  # type: ignore[no-untyped-def]
        calls.append(len(sentences))
        return original(sentences, examples)

    tagger.predictor.predict = predict  # type: ignore[method-assign]
    batcher = Batcher(tagger.pipe, Limits(max_batch_size=2, max_wait_ms=50))
    requests = [["Essex won. Japan lost. Then it rained."], ["Nasser Hussain scored."], [], ["Hussain and Essex.", "England."]]

    async def gathered() -> list[list[Document]]:
        submitted = [asyncio.create_task(batcher.submit(texts)) for texts in requests]
        await asyncio.sleep(0)  # every request waits in the queue before the batcher starts: the batches do not depend on timing
        runner = asyncio.create_task(batcher.run())
        try:
            return await asyncio.gather(*submitted)
        finally:
            runner.cancel()

    answers = asyncio.run(gathered())
    batcher.close()
    # gathering stops once a batch's worth of texts waits: requests 1 and 2 (4 sentences), then 4 (2 sentences);
    # the empty one needs no model
    assert calls == [2, 2, 2]
    assert [[d.to_json() for d in documents] for documents in answers] == [
        [d.to_json() for d in tagger.pipe(texts)] for texts in requests]
