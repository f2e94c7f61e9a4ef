"""A real ``transformers serve`` (an OpenAI-compatible server) on 127.0.0.1, started in a subprocess for a test or benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TransformersServe:
    """``transformers serve MODEL`` pinned to one local model folder; ``url`` is its ``/v1`` root."""

    def __init__(self, model: Path, port: int | None = None, *flags: str, threads: int = 1, log: Path | None = None) -> None:
        self.model, self.port, self.flags, self.threads, self.log = model, port or free_port(), flags, threads, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, within: float = 180.0) -> TransformersServe:
        """Start the server and wait (bounded) until ``/health`` answers."""
        command = [sys.executable, "-c", "from transformers.cli.transformers import main; main()", "serve", str(self.model),
                   "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", *self.flags]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(self.threads), "TRANSFORMERS_VERBOSITY": "error"}
        output = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with status {self.process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer within {within:.0f} s")

    def kill(self) -> None:
        """SIGKILL, as a crashed server: nothing is finished."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def __enter__(self) -> TransformersServe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
