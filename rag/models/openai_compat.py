"""A model behind an OpenAI-compatible HTTP server: vLLM or TGI on GPUs, the llama.cpp server on CPU.

    generator = "openai:http://127.0.0.1:8000/v1#qwen2.5-1.5b-instruct"   # in rag.toml
    embedder  = "openai:http://gpu-box:8001/v1#bge-small"

The part after `openai:` is the server's base URL; `#model` names the model (without it, the
first one the server lists under /models). `OPENAI_API_KEY`, when set, is sent as the bearer token.

Every request has a connect timeout of a few seconds and a read timeout; a refused connection, a
timeout, 429 or a 5xx is retried a bounded number of times with exponential backoff, but only
before the first piece of an answer has been yielded. Whatever is left is a `ModelError` naming the
URL and the fix, within seconds: never a hang (the client: rag/models/openai_client.py).

The refusal gate (LlamaCppGenerator._reader, rag/models/llama.py) is rebuilt from what such servers
offer: the first token's `top_logprobs` (a one-token request) give P(refusal marker), and when that
is below the threshold the marker's token id (from the server's tokenize endpoint) gets a logit bias
of -100. Two differences: the bias holds for every token of the answer, not only the first; and a
server without logprobs or a tokenize endpoint runs with no gate (`Usage.refusal_prob` stays -1), so
the model's own "NOT FOUND" is taken as it comes. Verification judges every answer as usual.
"""

from __future__ import annotations

import json
from typing import Iterator, Sequence

import numpy as np

from ..prompt import REFUSAL_MARKER, STOP
from .base import Embedder, Generator, normalize_rows
from .openai_client import PREFIX, OpenAIClient, parse_reference  # PREFIX, parse_reference: for rag.models


class OpenAIGenerator(Generator):
    """Chat completions, streamed. Stateless on our side: many questions may be in flight at once,
    and the server batches them (vLLM) or queues them (llama.cpp server)."""

    def __init__(self, ref: str, temperature: float = 0.0, refusal_threshold: float = 0.0, **client_options):
        self.client = OpenAIClient(ref, **client_options)
        self.temperature = temperature
        self.refusal_threshold = refusal_threshold  # as in LlamaCppGenerator; 0: no gate
        self._marker: list[int] | None = None

    def identity(self) -> dict:
        return {"runtime": "openai-compatible", "url": self.client.url, "model": self.client.model}

    def warm_up(self) -> None:
        """Check the server answers (and learn its model name) before the first question."""
        _ = self.client.model

    def stream(self, messages: list[dict], max_tokens: int, usage) -> Iterator[str]:
        """Stream the answer's pieces; fill `usage` from the server's usage report when it sends one.

        Stopping early (closing the generator) closes the HTTP stream, which the server reads
        as a cancelled request."""
        import httpx


        c = self.client
        body = {"model": c.model, "messages": messages, "max_tokens": max_tokens,
                "temperature": self.temperature, "stream": True, "stop": STOP, "seed": 0,
                "stream_options": {"include_usage": True}, **self._gate(messages, usage)}
        n = 0
        for attempt in c.attempts():
            try:
                with httpx.stream("POST", c.url + "/chat/completions", json=body, headers=c.headers,
                                  timeout=c.timeout()) as r:
                    if c.retryable(r.status_code):
                        attempt.failed(f"answered {r.status_code}: {r.read().decode(errors='replace')[:200]}")
                        continue
                    c.check(r.status_code, r.read().decode(errors="replace") if r.status_code >= 400 else "")
                    finished = False
                    for event in _events(r.iter_lines()):
                        if event is DONE:
                            finished = True
                            continue
                        if event.get("usage"):
                            usage.prompt_tokens = int(event["usage"].get("prompt_tokens") or 0)
                            usage.completion_tokens = int(event["usage"].get("completion_tokens") or 0)
                        for choice in event.get("choices") or []:
                            finished = finished or bool(choice.get("finish_reason"))
                            piece = (choice.get("delta") or {}).get("content")
                            if piece:
                                n += 1
                                yield piece
                    if not finished:  # the connection closed before the answer's end
                        raise httpx.RemoteProtocolError("the stream ended without [DONE] or a finish_reason")
            except httpx.HTTPError as exc:
                if n:  # part of the answer is out: a retry would repeat it
                    raise c.error(f"broke off the answer after {n} pieces ({type(exc).__name__}: {exc})") from None
                attempt.failed(f"could not be reached ({type(exc).__name__}: {exc})")
                continue
        usage.completion_tokens = usage.completion_tokens or n
        usage.prompt_evaluated = usage.prompt_tokens  # the server's prefix cache is not reported


    def _gate(self, messages: list[dict], usage) -> dict:
        """Request fields that keep the model from opening with the refusal marker when it is not
        likely enough (a threshold of 1 or more forbids it outright, with no probe)."""
        t = self.refusal_threshold
        if t <= 0:
            return {}
        if t < 1:
            probe = self.client.request("POST", "/chat/completions", {
                "model": self.client.model, "messages": messages, "max_tokens": 1, "temperature": 0.0,
                "logprobs": True, "top_logprobs": 20, "seed": 0})
            try:
                top = probe["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            except (KeyError, IndexError, TypeError):
                return {}  # no logprobs from this server: no gate

            usage.refusal_prob = float(sum(np.exp(x["logprob"]) for x in top
                                           if x.get("token", "").strip() == REFUSAL_MARKER))
            if usage.refusal_prob >= t:
                return {}
        ids = self._marker_ids()
        return {"logit_bias": {str(i): -100 for i in ids}} if ids else {}

    def _marker_ids(self) -> list[int]:
        """The refusal marker's first token id, from llama-cpp-python's /extras/tokenize or the
        /tokenize of vLLM and the llama.cpp server ([] when the server has neither)."""
        if self._marker is None:

            import httpx

            root = self.client.url.removesuffix("/v1")
            tries = ((root + "/extras/tokenize", {"input": REFUSAL_MARKER, "model": self.client.model}),
                     (root + "/tokenize", {"model": self.client.model, "prompt": REFUSAL_MARKER,
                                           "content": REFUSAL_MARKER, "add_special_tokens": False}))
            self._marker = []
            for url, body in tries:
                try:
                    r = httpx.post(url, json=body, headers=self.client.headers, timeout=self.client.timeout())
                    tokens = r.json().get("tokens") if r.status_code == 200 else None
                except (httpx.HTTPError, ValueError, AttributeError):
                    tokens = None
                if tokens:
                    self._marker = [int(tokens[0])]
                    break
        return self._marker


DONE: dict = {}  # what _events yields for `data: [DONE]`


def _events(lines: Iterator[str]) -> Iterator[dict]:
    """Server-sent events: `data: {...}` lines, then DONE for `data: [DONE]`.

    >>> list(_events(iter(['data: {"a": 1}', '', ': ping', 'data: [DONE]', 'data: {"b": 2}'])))
    [{'a': 1}, {}]
    """
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            yield DONE
            return
        try:
            yield json.loads(data)
        except ValueError:
            continue


class OpenAIEmbedder(Embedder):
    """/v1/embeddings, in batches; rows come back normalised to unit length.

    The identity is the model name (not the URL), so moving the server keeps the index valid,
    while a different model makes the index refuse to load until it is rebuilt."""

    def __init__(self, ref: str, batch_size: int = 64, **client_options):
        self.client = OpenAIClient(ref, **client_options)
        self.batch_size = batch_size
        self._dim = 0

    def identity(self) -> dict:
        model = self.client.model
        return {"name": f"openai:{model}", "model_id": model, "sha256": f"remote:{model}"}

    @property
    def dim(self) -> int:
        if not self._dim:
            self._dim = int(self.embed(["dimension"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:

        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            part = list(texts[i:i + self.batch_size])
            data = self.client.request("POST", "/embeddings", {"model": self.client.model, "input": part})
            rows = sorted(data.get("data") or [], key=lambda d: d.get("index", 0))
            if len(rows) != len(part):
                raise self.client.error(f"returned {len(rows)} embeddings for {len(part)} texts")
            out.extend(_flat(r["embedding"]) for r in rows)
        vectors = normalize_rows(np.asarray(out, dtype=np.float32))
        self._dim = self._dim or int(vectors.shape[1])
        return vectors


def _flat(embedding) -> list[float]:
    """One vector per text (a server that returns one vector per token is pooled by the mean)."""
    if embedding and isinstance(embedding[0], list):
        return np.asarray(embedding, dtype=np.float32).mean(axis=0).tolist()
    return embedding
