"""Load test of `ner-toolkit serve` on this machine: throughput and latency under concurrency, and a soak.

The server runs the quickstart model in a subprocess on 127.0.0.1; a client sends
eng.testb sentences as raw text (detokenized with sacremoses), one per request, at
concurrency 1, 8 and 32. Beside it, in the same run: offline tagging of the same
sentences (``Tagger.pipe`` in this process) and one offline call for one sentence. Then a
soak of S requests with 10% bad ones (too many texts, unknown fields, malformed JSON):
every good answer is compared with the offline result for its text, and the server's
resident memory is sampled. All traffic goes to 127.0.0.1 and every loop is bounded.

    OMP_NUM_THREADS=2 uv run python benchmarks/bench_serve.py --run runs/quickstart

Before against after (``--before CHECKOUT``, a checkout with its own ``.venv``): for each
concurrency level a fresh server of one side starts, answers one warm-up request, takes the
load and stops; then the other side's does the same; the side that goes first alternates
from level to level, so that the machine's drift reaches both alike. "After" is the
interpreter running this script (or ``--after CHECKOUT``). Each level reports both sides'
sentences/s, p50 and p95, the after/before ratios, and how many texts the two servers
answered with different entities. No offline rows and no soak in this mode.

    OMP_NUM_THREADS=2 uv run python benchmarks/bench_serve.py --run runs/quickstart \\
        --before ../before --requests 16,64,128 --json benchmarks/serve-before-after.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LEVELS = (1, 8, 32)
WARM_UP = "EU rejects German call to boycott British lamb."


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its name and the python of the checkout whose code it runs."""

    name: str
    python: Path

    def serve_command(self) -> list[str]:
        """The ``ner-toolkit`` console script beside the python, else ``python -m ner_toolkit``."""
        script = self.python.parent / "ner-toolkit"
        return [str(script)] if script.exists() else [str(self.python), "-m", "ner_toolkit"]


def side_of(name: str, checkout: str | None) -> Side:
    """The side running ``checkout/.venv/bin/python``, or this interpreter when no checkout is given."""
    if checkout is None:
        return Side(name, Path(sys.executable))
    python = Path(checkout).absolute() / ".venv" / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: run `uv sync` in {checkout} first")
    return Side(name, python)


def describe_side(side: Side) -> dict[str, str]:
    """Where the side's ``ner_toolkit`` is imported from, and its checkout's commit (read only)."""
    found = subprocess.run([str(side.python), "-c", "import ner_toolkit; print(ner_toolkit.__file__)"],
                           capture_output=True, text=True, timeout=120)
    module = found.stdout.strip() or f"(import failed: {found.stderr.strip()[-300:]})"
    checkout = side.python.parents[2]
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
    return {"python": str(side.python), "ner_toolkit": module, "checkout": str(checkout), "commit": commit.stdout.strip()}


def read_texts(path: Path, limit: int) -> list[str]:
    """The first ``limit`` sentences of a CoNLL file (``-DOCSTART-`` skipped), detokenized with sacremoses.

    Reads the token column itself (as ``read_conll`` does), so that no part of ner_toolkit
    beyond ``Tagger`` is needed.
    """
    from sacremoses import MosesDetokenizer

    sentences: list[list[str]] = []
    tokens: list[str] = []
    with path.open(encoding="utf-8-sig") as lines:
        for line in lines:
            if len(sentences) >= limit:
                break
            columns = line.split()
            if columns and columns[0] != "-DOCSTART-":
                tokens.append(columns[0])
            elif tokens:
                sentences.append(tokens)
                tokens = []
    if tokens and len(sentences) < limit:
        sentences.append(tokens)
    detokenizer = MosesDetokenizer(lang="en")
    return [detokenizer.detokenize(s) for s in sentences]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def free_port() -> int:
    """A port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measured_env() -> dict[str, str]:
    """The environment of measured processes: OMP_NUM_THREADS=2 unless set."""
    return {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that the ``finally`` blocks stop the servers and workers started here."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def tail(path: Path, characters: int = 3000) -> str:
    return path.read_text(errors="replace")[-characters:] if path.exists() else ""


@contextmanager
def running_server(side: Side, run: str, log: Path, start_timeout_s: float = 600) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``ner-toolkit serve`` of ``side`` on a free 127.0.0.1 port until the block ends; yield its URL and process.

    Waits until ``/health`` answers (the model loads before the server listens); the
    server's output goes to ``log``; the server is stopped on leaving, also on errors.
    """
    import httpx

    port = free_port()
    command = [*side.serve_command(), "serve", run, "--host", "127.0.0.1", "--port", str(port),
               "--max-batch-size", "32", "--max-wait-ms", "20"]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=measured_env())
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"{side.name} server exited with {server.returncode}:\n{tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{side.name} server did not answer /health in {start_timeout_s:.0f} s:\n{tail(log)}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield url, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


async def load(url: str, texts: list[str], concurrency: int) -> tuple[dict[str, Any], list[list[list[Any]] | None]]:
    """Send each text as one request, ``concurrency`` at a time; the row of timings, and each text's entities
    as ``[start, end, label, text]`` (None where the answer was not 200)."""
    import httpx

    latencies: list[float] = []
    answers: list[list[list[Any]] | None] = [None] * len(texts)
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for k in range(len(texts)):
        queue.put_nowait(k)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            k = queue.get_nowait()
            began = time.perf_counter()
            response = await client.post(f"{url}/v1/tag", json={"text": texts[k]})
            latencies.append(time.perf_counter() - began)
            if response.status_code == 200:
                entities = response.json()["documents"][0]["entities"]
                answers[k] = [[e["start"], e["end"], e["label"], e["text"]] for e in entities]
            else:
                errors.append(f"{response.status_code}: {response.text[:200]}")

    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=600) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    seconds = time.perf_counter() - began
    row = {
        "concurrency": concurrency, "requests": len(texts), "seconds": round(seconds, 2),
        "requests_per_s": round(len(texts) / seconds, 3), "sentences_per_s": round(len(texts) / seconds, 3),
        "p50_s": round(percentile(latencies, 0.5), 3), "p95_s": round(percentile(latencies, 0.95), 3),
        "p99_s": round(percentile(latencies, 0.99), 3),
    }
    if errors:
        row["errors"] = len(errors)
        row["first_error"] = errors[0]
    return row, answers


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


def ratio(after: float, before: float) -> float | None:
    return round(after / before, 3) if before else None


def before_after(before: Side, after: Side, run: str, texts: list[str], counts: list[int], logs: Path) -> list[dict[str, Any]]:
    """Each concurrency level for both sides, one fresh server at a time, the first side alternating; rows with ratios and mismatches."""
    import httpx

    rows: list[dict[str, Any]] = []
    for level, (concurrency, n) in enumerate(zip(LEVELS, counts)):
        order = (before, after) if level % 2 == 0 else (after, before)
        measured: dict[str, tuple[dict[str, Any], list[list[list[Any]] | None]]] = {}
        for side in order:
            with running_server(side, run, logs / f"{side.name}-{concurrency}.log") as (url, _):
                httpx.post(f"{url}/v1/tag", json={"text": WARM_UP}, timeout=600).raise_for_status()
                row, answers = asyncio.run(load(url, texts[:n], concurrency))
            row["machine_load"] = round(os.getloadavg()[0], 2)
            measured[side.name] = (row, answers)
            print(f"{side.name}: {json.dumps(row)}", flush=True)
        (b, before_answers), (a, after_answers) = measured["before"], measured["after"]
        differing = [k for k in range(n) if before_answers[k] is None or before_answers[k] != after_answers[k]]
        rows.append({
            "concurrency": concurrency, "requests": n, "order": [side.name for side in order], "before": b, "after": a,
            "after_over_before": {"sentences_per_s": ratio(a["sentences_per_s"], b["sentences_per_s"]),
                                  "p50_s": ratio(a["p50_s"], b["p50_s"]), "p95_s": ratio(a["p95_s"], b["p95_s"])},
            "differing_answers": len(differing),
            "differing_examples": [{"text": texts[k], "before": before_answers[k], "after": after_answers[k]} for k in differing[:3]],
        })
        print(f"concurrency {concurrency}: {len(differing)} of {n} texts answered differently", flush=True)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| concurrency | requests | first | sentences/s before | after | after/before | p50 before | after | after/before "
          "| p95 before | after | after/before | texts answered differently |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        b, a, r = row["before"], row["after"], row["after_over_before"]
        print(f"| {row['concurrency']} | {row['requests']} | {row['order'][0]} | {b['sentences_per_s']:.3f} | {a['sentences_per_s']:.3f} "
              f"| {r['sentences_per_s']} | {b['p50_s']:.3f} s | {a['p50_s']:.3f} s | {r['p50_s']} | {b['p95_s']:.3f} s "
              f"| {a['p95_s']:.3f} s | {r['p95_s']} | {row['differing_answers']} |")


def one_side(args: argparse.Namespace, texts: list[str], counts: list[int], logs: Path) -> dict[str, Any]:
    """The single-side benchmark: offline rows in this process, the load levels, the soak."""
    from ner_toolkit import Tagger

    results: dict[str, Any] = {"rows": []}
    with running_server(side_of("after", None), args.run, logs / "server.log") as (url, server):
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
        results["offline"] = {"one_sentence_s": round(single, 3), "sentences": largest, "sentences_per_s": round(offline_rate, 3)}
        expected = {d.text: [e.to_json() for e in d.entities] for d in offline}
        for concurrency, n in zip(LEVELS, [] if args.skip_load else counts):
            row, _ = asyncio.run(load(url, texts[:n], concurrency))
            row["of_offline"] = round(row["sentences_per_s"] / offline_rate, 3)
            row["p50_over_single_offline"] = round(row["p50_s"] / single, 3)
            row["machine_load"] = round(os.getloadavg()[0], 2)
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
        soak_texts = sorted(texts, key=len)[: args.soak_shortest] if args.soak_shortest else texts[:largest]
        if args.soak_shortest:
            expected = {d.text: [e.to_json() for e in d.entities] for d in tagger.pipe(soak_texts, batch_size=len(soak_texts))}
        tagger.close()
        if args.soak:
            results["soak"] = asyncio.run(soak(url, soak_texts, expected, args.soak, server.pid, args.soak_group))
            print(json.dumps(results["soak"]), flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/quickstart")
    parser.add_argument("--requests", default="16,64,128", help="requests at concurrency 1, 8, 32")
    parser.add_argument("--soak", type=int, default=2000)
    parser.add_argument("--soak-group", type=int, default=32, help="soak requests sent together")
    parser.add_argument("--soak-shortest", type=int, default=0, help="soak with the N shortest of the texts (0: the load texts)")
    parser.add_argument("--skip-load", action="store_true", help="only the soak")
    parser.add_argument("--before", help="checkout (with its own .venv) to measure against, level by level, alternating")
    parser.add_argument("--after", help="checkout of the 'after' side (default: the interpreter running this script)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    args.run = str(Path(args.run).absolute())
    exit_on_sigterm()

    counts = [int(n) for n in args.requests.split(",")]
    folder = Path(os.environ.get("CONLL2003_DIR", REPO.parent / "shared" / "data" / "conll2003"))
    texts = read_texts(folder / "eng.testb", max(300, *counts))
    results: dict[str, Any] = {
        "command": [sys.executable, *sys.argv], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": args.run, "cpus": os.cpu_count(), "omp_num_threads": measured_env()["OMP_NUM_THREADS"],
    }
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as logs:
        if args.before:
            before, after = side_of("before", args.before), side_of("after", args.after)
            results["sides"] = {side.name: describe_side(side) for side in (before, after)}
            print(json.dumps(results["sides"], indent=1), flush=True)
            results["rows"] = before_after(before, after, args.run, texts, counts, Path(logs))
            print_table(results["rows"])
        else:
            results.update(one_side(args, texts, counts, Path(logs)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"results in {args.json}")


if __name__ == "__main__":
    main()
