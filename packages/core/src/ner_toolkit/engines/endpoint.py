"""An HTTP endpoint asked with JSON: timeouts, and retries with backoff on 429, 5xx and dropped connections.

Every error names the endpoint's URL and what went wrong, in one line; the API key is
sent in a header and never appears in a message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)


class EndpointError(RuntimeError):
    """A request the endpoint refused, answered with something unreadable, or never answered within its retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of a refusal; None when there was no answer or it was not JSON."""


def retry_after(value: str | None) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait (a number of seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _detail(response: Any) -> str:
    """The reason an error answer gives: OpenAI's ``error.message``, FastAPI's ``detail``, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for key in ("detail", "message", "error"):
            if body.get(key):
                return str(body[key])
    return str(body)[:200]


class Endpoint:
    """Posts JSON to ``base_url`` + a path from any number of threads at once, retrying what may pass."""

    RETRIED_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))

    def __init__(
        self, base_url: str, api_key: str | None = None, timeout: float = 120.0, retries: int = 6,
        backoff: float = 1.0, max_wait: float = 60.0, connections: int = 8,
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.Client(timeout=timeout, headers=headers, limits=limits)
        self._closed = threading.Event()
        self.retried = 0
        """Requests sent again so far (after a 429, a 5xx, a timeout or a dropped connection)."""

    def close(self) -> None:
        """Close the connections; a request waiting to be retried gives up at once."""
        self._closed.set()
        self._client.close()

    def get(self, path: str) -> Any:
        """The JSON answer to one GET, without retries (``/models``); None when there is none."""
        import httpx

        try:
            response = self._client.get(self.base_url + path)
            return response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """The JSON answer to ``body`` posted to ``path``; an ``EndpointError`` naming the URL when there is none."""
        import httpx

        url = self.base_url + path
        for attempt in range(self.retries + 1):
            wait: float | None = None
            try:
                response = self._client.post(url, json=body)
            except httpx.TimeoutException as error:
                problem = f"no answer within the timeout ({type(error).__name__})"
            except httpx.TransportError as error:  # cannot connect, or the connection dropped mid-answer
                problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise EndpointError(f"{url}: the answer is not JSON: {response.text.strip()[:80]!r}") from None
                problem = f"{response.status_code} {response.reason_phrase}: {_detail(response)}"
                if response.status_code not in self.RETRIED_STATUS:
                    raise EndpointError(f"{url}: {problem}", response.status_code)
                wait = retry_after(response.headers.get("retry-after"))
            if attempt == self.retries:
                tries = f"{attempt + 1} tries" if attempt else "1 try"
                raise EndpointError(f"{url}: {problem} ({tries})")
            if wait is None:
                wait = self.backoff * 2**attempt * random.uniform(0.9, 1.1)
            wait = min(wait, self.max_wait)
            self.retried += 1
            logger.warning("%s: %s; trying again in %.1f s", url, problem, wait)
            if self._closed.wait(wait):
                raise EndpointError(f"{url}: {problem} (closed while waiting to try again)")
        raise AssertionError("unreachable")
