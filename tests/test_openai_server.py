"""The OpenAI-compatible generator (rag/openai_compat.py) against real HTTP servers.

Fast tier: a few lines of stdlib HTTP server on 127.0.0.1 that fail on purpose (500s, a stream
cut off after one piece, nothing listening), to pin down retries, timeouts and error messages.
Real tier: `python -m llama_cpp.server` with the 0.5B GGUF, started here on a free port, answering
through the whole pipeline: a cited answer, streaming, a follow-up, then the server killed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval.scale import stop
from rag.errors import ModelError
from rag.models import Usage, make_generator
from rag.models.openai_compat import OpenAIEmbedder, OpenAIGenerator

from .conftest import SHARED_CACHE

WITKOFF = "rferl-witkoff-moscow-peace-plan"
QUESTION = "What cap on Ukraine's military did the first US draft propose?"
MESSAGES = [{"role": "user", "content": "hi"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- fast tier: servers that misbehave on purpose ------------------------------------------------

class Misbehaving(BaseHTTPRequestHandler):
    """/v1/chat/completions answers per `self.server.mode`: "500", "cut" (one piece, then the
    connection drops), "ok" (two pieces and [DONE]); /v1/embeddings returns fixed vectors."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.server.calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        if self.path.endswith("/embeddings"):
            data = [{"index": i, "embedding": [3.0, 4.0]} for i, _ in enumerate(body["input"])]
            return self._json(200, {"data": data})
        if self.server.mode == "500":
            return self._json(500, {"error": "overloaded"})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in ("Six", " hundred") if self.server.mode == "ok" else ("Six",):
            event = {"choices": [{"delta": {"content": word}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        if self.server.mode == "ok":
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            self.connection.shutdown(socket.SHUT_RDWR)  # the server dies mid-answer

    def _json(self, status, payload):
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def fake_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    server.mode, server.calls, server.bodies = "ok", 0, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"openai:http://127.0.0.1:{server.server_address[1]}/v1#m"
    server.shutdown()
    server.server_close()


def test_pieces_stream_and_the_api_key_is_sent(fake_server, monkeypatch):
    server, ref = fake_server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    gen = OpenAIGenerator(ref)
    usage = Usage()
    assert list(gen.stream(MESSAGES, 8, usage)) == ["Six", " hundred"]
    assert usage.completion_tokens == 2 and usage.refusal_prob == -1
    assert server.bodies[0]["stream"] is True and server.bodies[0]["model"] == "m"


def test_server_errors_are_retried_then_named_with_the_url_and_fix(fake_server):
    server, ref = fake_server
    server.mode = "500"
    gen = OpenAIGenerator(ref, retries=2, backoff=0.05)
    with pytest.raises(ModelError, match=r"127\.0\.0\.1.*answered 500.*3 attempts.*Fix:"):
        list(gen.stream(MESSAGES, 8, Usage()))
    assert server.calls == 3


def test_a_stream_cut_off_mid_answer_is_an_error_not_a_retry(fake_server):
    server, ref = fake_server
    server.mode = "cut"
    pieces = []
    with pytest.raises(ModelError, match="broke off the answer after 1 pieces"):
        for piece in OpenAIGenerator(ref, backoff=0.05).stream(MESSAGES, 8, Usage()):
            pieces.append(piece)
    assert pieces == ["Six"] and server.calls == 1  # a retry would have repeated "Six"


def test_nothing_listening_fails_within_seconds():
    ref = f"openai:http://127.0.0.1:{free_port()}/v1#m"
    t = time.perf_counter()
    with pytest.raises(ModelError, match=r"could not be reached.*Fix: start the server"):
        list(make_generator(name=ref).stream(MESSAGES, 8, Usage()))
    assert time.perf_counter() - t < 10


def test_embeddings_come_back_unit_length_with_a_url_free_identity(fake_server):
    _, ref = fake_server
    emb = OpenAIEmbedder(ref, batch_size=2)
    vectors = emb.embed(["a", "b", "c"])
    assert vectors.shape == (3, 2) and abs(float(vectors[0] @ vectors[0]) - 1) < 1e-6
    assert emb.identity() == {"name": "openai:m", "model_id": "m", "sha256": "remote:m"}


# --- real tier: python -m llama_cpp.server --------------------------------------------------------

MODEL = SHARED_CACHE / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
START_TIMEOUT = 180  # seconds for the server to load the model and answer /v1/models


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """A real llama.cpp server (one thread) on a free port; yields (process, base URL)."""
    import httpx

    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing. Fix: make models (or rag models fetch --only fast)")
    port = free_port()
    log = open(tmp_path_factory.mktemp("llama-server") / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(MODEL), "--model_alias", "fast",
         "--n_threads", "1", "--n_ctx", "2048", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OPENAI_API_KEY": ""})
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"the llama.cpp server exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the llama.cpp server did not answer within {START_TIMEOUT} s; see {log.name}")
        time.sleep(0.5)
    yield proc, url
    stop(proc, timeout=10)
    log.close()


@pytest.fixture(scope="module")
def server_bot(llama_server, real_embedder, tmp_path_factory):
    from rag import RAG
    from rag.config import Config

    _, url = llama_server
    config = Config(index_dir=tmp_path_factory.mktemp("openai") / "index", cache_dir=SHARED_CACHE,
                    generator=f"openai:{url}#fast")
    return RAG.load(config, embedder=real_embedder)


FIRST: dict = {}


@pytest.mark.real
def test_the_answer_streams_then_comes_back_cited(server_bot):
    from rag.types import Answer

    items = list(server_bot.stream(QUESTION))
    pieces, final = items[:-1], items[-1]
    assert isinstance(final, Answer) and len(pieces) >= 2 and all(isinstance(p, str) for p in pieces)
    assert not final.abstained and "600" in final.text, (final.raw, final.verdict)
    assert any(c.doc_id == WITKOFF and "600, 000" in c.quote for c in final.citations), final.citations
    assert 0 < final.timings.first_token < final.timings.total
    FIRST["answer"] = final


@pytest.mark.real
def test_a_follow_up_is_rewritten_by_the_server_and_answered(server_bot):
    first = FIRST.get("answer") or server_bot.ask(QUESTION)
    answer = server_bot.ask("Which outlet reported it?", [(first.question, first.text)])
    assert answer.standalone_question != "Which outlet reported it?"  # rewritten by the model
    for c in answer.citations:
        assert server_bot.index.documents[c.doc_id].text[c.start:c.end] == c.quote


@pytest.mark.real
def test_a_killed_server_is_a_clear_error_within_seconds(server_bot, llama_server):
    proc, url = llama_server
    proc.kill()
    proc.wait(timeout=10)
    t = time.perf_counter()
    with pytest.raises(ModelError) as err:
        server_bot.ask("Who is Kirill Dmitriev?")
    assert time.perf_counter() - t < 60
    assert url in str(err.value) and "Fix: start the server" in str(err.value)
