"""A small HTTP proxy in front of a real server that injects the faults a real server will not give on demand.

Requests are forwarded as they are; ``faults`` (consumed one per POST, in order) replace
or delay the answer: ``429`` with a Retry-After, ``500``, ``slow`` (an answer later than
the client's timeout), ``truncated`` (the connection dropped halfway through the body),
``401`` (a refused key) and ``html`` (a page that is not JSON). With ``key`` set, a request
without ``Authorization: Bearer <key>`` gets a 401, as from ``vllm serve --api-key``.
It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class FaultProxy:
    def __init__(self, upstream: str, key: str | None = None, slow_seconds: float = 3.0, retry_after: int = 1) -> None:
        self.upstream = upstream.rstrip("/")
        self.key = key
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.faults: deque[str | None] = deque()
        self.posts = 0
        self.bodies: list[dict] = []
        self.authorized: list[bool] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                answer = httpx.get(proxy.upstream + self.path, timeout=30)
                self._send(answer.status_code, answer.content, answer.headers.get("content-type", "application/json"))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with proxy.lock:
                    proxy.posts += 1
                    proxy.bodies.append(json.loads(body))
                    fault = proxy.faults.popleft() if proxy.faults else None
                    given = self.headers.get("authorization")
                    proxy.authorized.append(proxy.key is not None and given == f"Bearer {proxy.key}")
                if proxy.key is not None and given != f"Bearer {proxy.key}" or fault == "401":
                    self._send(401, json.dumps({"error": {"message": "Incorrect API key provided", "code": 401}}).encode())
                    return
                if fault == "429":
                    self._send(429, b'{"error": {"message": "rate limited"}}', headers={"retry-after": str(proxy.retry_after)})
                    return
                if fault == "500":
                    self._send(500, b'{"detail": "injected failure"}')
                    return
                if fault == "html":
                    self._send(200, b"<html><body>Gateway login</body></html>", "text/html")
                    return
                if fault == "slow":
                    time.sleep(proxy.slow_seconds)
                answer = httpx.post(proxy.upstream + self.path, content=body, headers={"content-type": "application/json"}, timeout=300)
                if fault == "truncated":
                    self.send_response(answer.status_code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content[: len(answer.content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                try:
                    self._send(answer.status_code, answer.content, answer.headers.get("content-type", "application/json"))
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (``slow``)
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
