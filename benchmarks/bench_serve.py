"""Load test of `ner-toolkit serve` on this machine: throughput and latency under concurrency, and a soak.

The server runs the quickstart model in a subprocess on 127.0.0.1; a client sends
eng.testb sentences as raw text (detokenized with sacremoses), one per request, at
concurrency 1, 8 and 32. Beside it, in the same run: offline tagging of the same
sentences (``Tagger.pipe`` in this process) and one offline call for one sentence. Then a
soak of S requests with 10% bad ones (too many texts, unknown fields, malformed JSON):
every good answer is compared with the offline result for its text, and the server's
resident memory is sampled. All traffic goes to 127.0.0.1 and every loop is bounded.

    OMP_NUM_THREADS=2 uv run python benchmarks/bench_serve.py --run runs/quickstart
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def load(url: str, texts: list[str], concurrency: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for text in texts:
        queue.put_nowait(text)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            text = queue.get_nowait()
            began = time.perf_counter()
            response = await client.post(f"{url}/v1/tag", json={"text": text})
            latencies.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=600) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    seconds = time.perf_counter() - began
    return {
        "concurrency": concurrency, "requests": len(texts), "seconds": round(seconds, 2),
        "requests_per_s": round(len(texts) / seconds, 3), "sentences_per_s": round(len(texts) / seconds, 3),
        "p50_s": round(percentile(latencies, 0.5), 3), "p95_s": round(percentile(latencies, 0.95), 3),
        "p99_s": round(percentile(latencies, 0.99), 3),
    }


async def soak(url: str, texts: list[str], expected: dict[str, list], count: int, pid: int, group: int) -> dict[str, object]:
    import httpx
    import psutil

    server = psutil.Process(pid)
    bad_bodies = ['{"texts": ' + json.dumps(["x"] * 100) + "}", '{"text": "x", "model": "/etc/passwd"}', '{"text": "unclosed']
    statuses: dict[int, int] = {}
    wrong = 0
    memory: list[int] = []
    async with httpx.AsyncClient(timeout=600) as client:
        for start in range(0, count, group):
            batch = []
            for k in range(start, min(count, start + group)):
                if k % 10 == 9:
                    batch.append((None, client.post(f"{url}/v1/tag", content=bad_bodies[k % 3], headers={"content-type": "application/json"})))
                else:
                    text = texts[k % len(texts)]
                    batch.append((text, client.post(f"{url}/v1/tag", json={"text": text})))
            responses = await asyncio.gather(*(request for _, request in batch))
            for (text, _), response in zip(batch, responses):
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if text is not None and (response.status_code != 200 or response.json()["documents"][0]["entities"] != expected[text]):
                    wrong += 1
            memory.append(server.memory_info().rss)
    quarter = max(1, len(memory) // 4)
    first, last = statistics.mean(memory[:quarter]), statistics.mean(memory[-quarter:])
    return {"requests": count, "statuses": statuses, "wrong_answers": wrong,
            "rss_first_quarter_mb": round(first / 2**20, 1), "rss_last_quarter_mb": round(last / 2**20, 1),
            "rss_growth": round(last / first - 1, 4)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/quickstart")
    parser.add_argument("--requests", default="16,64,128", help="requests at concurrency 1, 8, 32")
    parser.add_argument("--soak", type=int, default=2000)
    parser.add_argument("--soak-group", type=int, default=32, help="soak requests sent together")
    parser.add_argument("--soak-shortest", type=int, default=0, help="soak with the N shortest of the texts (0: the load texts)")
    parser.add_argument("--skip-load", action="store_true", help="only the soak")
    args = parser.parse_args(argv)
    from sacremoses import MosesDetokenizer

    from ner_toolkit import Tagger, read_conll

    folder = Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))
    detokenizer = MosesDetokenizer(lang="en")
    texts = [detokenizer.detokenize(list(s.tokens)) for s in read_conll(folder / "eng.testb")[:300]]
    counts = [int(n) for n in args.requests.split(",")]

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "ner_toolkit", "serve", args.run, "--port", str(port), "--max-batch-size", "32",
                               "--max-wait-ms", "20"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(600):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        tagger = Tagger.load(args.run, batch_size=32)
        tagger.open()
        began = time.perf_counter()
        tagger(texts[0])
        single = time.perf_counter() - began
        largest = max(counts) if not args.skip_load else 1
        began = time.perf_counter()
        offline = list(tagger.pipe(texts[:largest], batch_size=largest))
        offline_rate = largest / (time.perf_counter() - began)
        print(f"offline: one sentence {single:.3f} s; {largest} sentences at {offline_rate:.3f} sentences/s; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        expected = {d.text: [e.to_json() for e in d.entities] for d in offline}
        for concurrency, n in zip((1, 8, 32), [] if args.skip_load else counts):
            row = asyncio.run(load(url, texts[:n], concurrency))
            row["of_offline"] = round(row["sentences_per_s"] / offline_rate, 3)
            row["p50_over_single_offline"] = round(row["p50_s"] / single, 3)
            print(json.dumps(row), f"load {os.getloadavg()[0]:.2f}", flush=True)
        soak_texts = sorted(texts, key=len)[: args.soak_shortest] if args.soak_shortest else texts[:largest]
        if args.soak_shortest:
            expected = {d.text: [e.to_json() for e in d.entities] for d in tagger.pipe(soak_texts, batch_size=len(soak_texts))}
        tagger.close()
        if args.soak:
            print(json.dumps(asyncio.run(soak(url, soak_texts, expected, args.soak, server.pid, args.soak_group))), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
