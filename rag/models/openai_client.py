"""The HTTP side of an OpenAI-compatible server: its reference, headers, timeouts and bounded retries.

    >>> parse_reference("openai:http://127.0.0.1:8000/v1#qwen")
    ('http://127.0.0.1:8000/v1', 'qwen')
    >>> parse_reference("openai:http://gpu:8000/v1/")
    ('http://gpu:8000/v1', '')

Every request has a connect timeout of a few seconds and a read timeout; a refused connection, a
timeout, 429 or a 5xx is retried a bounded number of times with exponential backoff (`attempts()`;
a stream retries only before its first piece is out). Whatever is left is a `ModelError` naming
the URL and the fix, within seconds: never a hang. The generator and the embedder on top are in
rag/models/openai_compat.py.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Iterator

from ..errors import ConfigError, ModelError

PREFIX = "openai:"


def parse_reference(ref: str) -> tuple[str, str]:
    """("openai:URL#model") -> (URL without a trailing slash, model or "")."""
    if not ref.startswith(PREFIX):
        raise ConfigError(f"{ref!r} is not an OpenAI-compatible server reference. "
                          f"Fix: write it as \"openai:http://host:port/v1#model\"")
    url, _, model = ref[len(PREFIX):].partition("#")
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{ref!r}: the server URL must start with http:// or https://. "
                          f"Fix: \"openai:http://127.0.0.1:8000/v1\"")
    return url, model.strip()


class OpenAIClient:
    """The HTTP part shared by the generator and the embedder: headers, timeouts, retries."""

    def __init__(self, ref: str, *, connect_timeout: float = 3.0, read_timeout: float = 120.0,
                 retries: int = 2, backoff: float = 0.5):
        self.ref = ref
        self.url, self._model = parse_reference(ref)
        self.retries, self.backoff = retries, backoff
        self._timeout = (connect_timeout, read_timeout)
        self._lock = threading.Lock()

    @property
    def headers(self) -> dict:
        key = os.environ.get("OPENAI_API_KEY", "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def timeout(self):
        import httpx

        connect, read = self._timeout
        return httpx.Timeout(read, connect=connect)

    def fix(self) -> str:
        return (f"Fix: start the server (for example `python -m llama_cpp.server --model MODEL.gguf "
                f"--port PORT`, or vLLM), check the URL, or set generator/embedder to a local model "
                f"(\"quality\", \"minilm\").")

    def error(self, what: str) -> ModelError:
        return ModelError(f"the model server at {self.url} {what}. {self.fix()}")

    @property
    def model(self) -> str:
        """The `#model` of the reference, else the first model the server lists (asked once)."""
        with self._lock:
            if not self._model:
                listed = self.request("GET", "/models").get("data") or []
                if not listed:
                    raise self.error("lists no model under /models; name one with \"#model\" in the reference")
                self._model = str(listed[0]["id"])
            return self._model

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """One JSON request, retried; returns the decoded JSON body."""
        import httpx

        for attempt in self.attempts():
            try:
                r = httpx.request(method, self.url + path, json=body, headers=self.headers, timeout=self.timeout())
            except httpx.HTTPError as exc:
                attempt.failed(f"could not be reached ({type(exc).__name__}: {exc})")
                continue
            if self.retryable(r.status_code):
                attempt.failed(f"answered {r.status_code}: {r.text[:200]}")
                continue
            self.check(r.status_code, r.text)
            try:
                return r.json()
            except ValueError:
                raise self.error(f"answered {path} with something that is not JSON: {r.text[:200]!r}") from None
        raise AssertionError("unreachable")  # attempts() raises after the last one

    @staticmethod
    def retryable(status: int) -> bool:
        return status == 429 or status >= 500

    def check(self, status: int, text: str) -> None:
        if status >= 400:
            raise self.error(f"answered {status}: {text[:300]}")

    def attempts(self) -> Iterator["_Attempt"]:
        """retries + 1 attempts with exponential backoff between them; the last failure raises."""
        attempt = _Attempt()
        for i in range(self.retries + 1):
            if i:
                time.sleep(self.backoff * 2 ** (i - 1))
            attempt.reason = ""
            yield attempt
            if not attempt.reason:
                return
        raise self.error(f"{attempt.reason} (after {self.retries + 1} attempts)")


class _Attempt:
    reason = ""

    def failed(self, reason: str) -> None:
        self.reason = reason
