"""Our OpenAI-compatible API (rag/server.py) through the official `openai` client and raw HTTP, against the
real server on 127.0.0.1: beside the chat (app.launch, what `python app.py` serves) and alone (what
`rag serve` serves).

Fast tier: the fake embedder and scripted generators over the bundled articles. Real tier (marker
`real`): the real models, a cited answer and a stream through the client.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import httpx
import openai
import pytest
from openai import OpenAI

from rag import RAG, server
from rag.config import Config
from rag.slots import Slots

from .conftest import CORPUS, HashEmbedder, ScriptedGenerator, extractive
from .test_app import serve_app
from .test_app_load import GatedGenerator, wait_for

WITKOFF = "rferl-witkoff-moscow-peace-plan"
QUESTION = "What would the initial US draft cap the military at?"
KEY = "s3cret-key"


def fake_bot(tmp_path, generator=None) -> RAG:
    config = Config(gate="", corpus_dir=CORPUS, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", min_relevance=0.0)
    return RAG.load(config, embedder=HashEmbedder(), generator=generator or ScriptedGenerator(extractive))


def client(url: str, key: str = "x") -> OpenAI:
    return OpenAI(base_url=url + "v1", api_key=key, max_retries=0, timeout=60)


def user(question: str = QUESTION) -> list[dict]:
    return [{"role": "user", "content": question}]


@contextlib.contextmanager
def serve_api(bot, slots=None, api_key=None):
    """The API alone, as `rag serve` runs it (server.make_server), on a free port; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = server.make_server(bot, "127.0.0.1", port, api_key, slots)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The chat with the API beside it (app.launch) over the fakes: (url, bot)."""
    bot = fake_bot(tmp_path_factory.mktemp("api"))
    with serve_app(bot) as url:
        yield url, bot


# --- answers through the official client -------------------------------------------------------------

def test_a_cited_answer_through_the_openai_client(app):
    url, bot = app
    reply = client(url).chat.completions.create(model="rag-news", messages=user())
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and reply.model == "rag-news" and reply.id.startswith("chatcmpl-")
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    text = choice.message.content
    answer, _, sources = text.partition("\n\nSources:\n")
    assert "600,000" in answer.replace(", 000", ",000") and "[" in answer, text
    extra = reply.model_extra["rag"]
    assert extra["declined"] is False and extra["citations"], extra
    for c in extra["citations"]:
        assert f"[{c['n']}]" in answer and f"- [{c['n']}] RFE/RL, " in sources
        assert bot.index.documents[c["doc_id"]].text[c["start"]:c["end"]] == c["quote"]
        assert set(c) == {"n", "doc_id", "title", "outlet", "published", "url", "chunk_id", "quote", "start", "end"}
    assert any(c["doc_id"] == WITKOFF and c["url"].startswith("https://www.rferl.org/") for c in extra["citations"])
    assert reply.usage.completion_tokens > 0 and reply.usage.total_tokens > reply.usage.prompt_tokens


def test_streaming_sends_pieces_then_the_citations_then_usage(app):
    url, _ = app
    whole = client(url).chat.completions.create(model="rag-news", messages=user()).choices[0].message.content
    chunks = list(client(url).chat.completions.create(model="rag-news", messages=user(), stream=True,
                                                      stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 5 and "".join(pieces) == whole  # the stream and the reply say the same
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert final.choices[0].finish_reason == "stop" and final.model_extra["rag"]["citations"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1


def test_a_follow_up_reads_the_earlier_turns_and_a_system_message_is_noted(app):
    url, _ = app
    first = client(url).chat.completions.create(model="rag-news", messages=user("Who is Kirill Dmitriev?"))
    assert "Dmitriev" in first.choices[0].message.content
    messages = [{"role": "system", "content": "Answer in French."}, *user("Who is Kirill Dmitriev?"),
                {"role": "assistant", "content": first.choices[0].message.content},  # with its sources list
                {"role": "user", "content": [{"type": "text", "text": "When was he blacklisted?"}]}]
    reply = client(url).chat.completions.create(model="rag-news", messages=messages, temperature=0.2)
    extra = reply.model_extra["rag"]
    assert "Dmitriev" in extra["standalone_question"] and "blacklisted" in extra["standalone_question"], extra
    assert any(n.startswith("system message ignored") for n in extra["notes"])
    assert "not used: temperature" in extra["notes"]


def test_a_decline_is_a_normal_reply_with_its_flag(app):
    url, _ = app
    reply = client(url).chat.completions.create(model="rag-news", messages=user("What happened in Kyiv in 1850?"))
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content.startswith("The articles don't say.")
    assert "Sources:" not in reply.choices[0].message.content
    assert reply.model_extra["rag"]["declined"] is True and reply.model_extra["rag"]["citations"] == []
    assert reply.model_extra["rag"]["verdict"].startswith("declined")


def test_the_model_name_picks_the_generator(tmp_path):
    quality, fast = ScriptedGenerator(extractive), ScriptedGenerator(extractive)
    bot = fake_bot(tmp_path, quality)
    bot.set_generator(fast, "fast")
    with serve_api(bot) as url:
        api = client(url)
        assert [m.id for m in api.models.list().data] == ["rag-news", "rag-news-fast"]
        assert api.models.retrieve("rag-news-fast").owned_by == "rag-news"
        api.chat.completions.create(model="rag-news-fast", messages=user())
        assert fast.calls and not quality.calls
        api.chat.completions.create(model="rag-news", messages=user())
        assert quality.calls


# --- the wire: SSE framing and the error object -------------------------------------------------------

def test_raw_sse_framing(app):
    """Server-sent events: `data: <json>` events separated by a blank line, each a chunk of one id, the
    role first, finish_reason "stop" last, then `data: [DONE]` and nothing after it."""
    url, _ = app
    body = {"model": "rag-news", "messages": user(), "stream": True}
    with httpx.stream("POST", url + "v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(r.iter_raw()).decode()
    assert raw.endswith("\n\ndata: [DONE]\n\n")
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    chunks = []
    for e in events[:-2]:
        assert e.startswith("data: ") and "\n" not in e, e
        chunks.append(json.loads(e[len("data: "):]))
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert chunks[-1]["choices"][0]["delta"] == {} and "citations" in chunks[-1]["rag"]


@pytest.mark.parametrize("body, status, param, code", [
    (b"{not json", 400, None, "invalid_json"),
    (b"[1, 2]", 400, None, "invalid_json"),
    (json.dumps({"model": "gpt-4o", "messages": user()}).encode(), 404, "model", "model_not_found"),
    (json.dumps({"messages": user()}).encode(), 400, "model", "invalid_value"),
    (json.dumps({"model": "rag-news", "messages": []}).encode(), 400, "messages", "invalid_value"),
    (json.dumps({"model": "rag-news"}).encode(), 400, "messages", "invalid_value"),
    (json.dumps({"model": "rag-news", "messages": [*user(), {"role": "assistant", "content": "x"}]}).encode(),
     400, "messages", "invalid_value"),
    (json.dumps({"model": "rag-news", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://e/x.png"}}]}]}).encode(), 400, "messages[0].content",
     "unsupported_content"),
    (json.dumps({"model": "rag-news", "messages": user("   ")}).encode(), 400, "messages", "invalid_question"),
    (json.dumps({"model": "rag-news", "messages": user("why " * 400)}).encode(), 400, "messages", "invalid_question"),
    (json.dumps({"model": "rag-news", "messages": user(), "n": 3}).encode(), 400, "n", "invalid_value"),
    (json.dumps({"model": "rag-news", "messages": user("x" * server.MAX_BODY)}).encode(), 413, None,
     "request_too_large"),
])
def test_bad_requests_get_the_openai_error_object(app, body, status, param, code):
    url, _ = app
    r = httpx.post(url + "v1/chat/completions", content=body, headers={"Content-Type": "application/json"},
                   timeout=30)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code) and len(error["message"]) > 20, error


def test_the_client_raises_the_matching_errors(app):
    url, _ = app
    with pytest.raises(openai.NotFoundError, match="does not exist: use one of rag-news, rag-news-fast"):
        client(url).chat.completions.create(model="gpt-4o", messages=user())
    with pytest.raises(openai.BadRequestError, match="the last message must be the user's question"):
        client(url).chat.completions.create(model="rag-news", messages=[{"role": "assistant", "content": "hi"}])
    r = httpx.get(url + "v1/nothing-here", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = httpx.get(url + "v1/chat/completions", timeout=10)
    assert r.status_code == 405 and "error" in r.json()


# --- keys, and the queue shared with the chat ---------------------------------------------------------

def test_with_a_key_set_a_missing_or_wrong_bearer_key_gets_401(tmp_path):
    bot = fake_bot(tmp_path)
    with serve_app(bot, api_key=KEY) as url:
        for key in ("wrong", ""):
            with pytest.raises(openai.AuthenticationError, match="RAG_API_KEY") as caught:
                client(url, key or "-").chat.completions.create(model="rag-news", messages=user())
            assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
        for path, method in (("v1/models", "GET"), ("v1/chat/completions", "POST")):
            r = httpx.request(method, url + path, json={"model": "rag-news", "messages": user()}, timeout=30)
            assert r.status_code == 401 and r.json()["error"]["message"].startswith("No API key provided"), r.text
            assert r.headers["www-authenticate"] == "Bearer"
        reply = client(url, KEY).chat.completions.create(model="rag-news", messages=user())
        assert reply.model_extra["rag"]["citations"]
        assert httpx.get(url, timeout=10).status_code == 200  # the chat page is not behind the API's key


def test_a_chat_behind_a_login_refuses_the_api_until_it_has_a_key(tmp_path):
    bot = fake_bot(tmp_path)
    with serve_app(bot, auth=[("reader", "pw")], api_key="") as url:
        with pytest.raises(openai.AuthenticationError, match="RAG_AUTH.*RAG_API_KEY"):
            client(url).chat.completions.create(model="rag-news", messages=user())


def test_a_full_queue_answers_503_at_once_and_the_chat_shares_the_slots(tmp_path):
    """One slot, two places in line. The API's question holds the slot, so the chat's first /ask waits for
    it (the model is never called twice at once) and its second waits in gradio's queue; that fills the
    line, so the next API request is told "busy" at once, as a 503 with OpenAI's error object."""
    from gradio_client import Client
    from gradio_client.utils import Status

    gen = GatedGenerator()
    with serve_app(fake_bot(tmp_path, gen), concurrency=1, max_queue=2) as url:
        got = {}
        first = threading.Thread(target=lambda: got.update(api=client(url).chat.completions.create(
            model="rag-news", messages=user())))
        first.start()
        wait_for(lambda: gen.started == 1)  # the API's answer holds the one slot, at the gate
        chats = [Client(url, verbose=False).submit(QUESTION, [], "", api_name="/ask")]
        wait_for(lambda: chats[0].status().code == Status.PROCESSING)  # in the handler, waiting for the slot
        chats.append(Client(url, verbose=False).submit(QUESTION, [], "", api_name="/ask"))
        wait_for(lambda: chats[1].status().code == Status.IN_QUEUE)  # in gradio's queue
        assert gen.started == 1  # neither chat question reached the model: the API holds the slot

        t = time.perf_counter()
        with pytest.raises(openai.InternalServerError, match="busy") as caught:
            client(url).chat.completions.create(model="rag-news", messages=user())
        assert time.perf_counter() - t < 5 and caught.value.status_code == 503
        assert caught.value.body["code"] == "busy" and "try again" in caught.value.body["message"].lower()
        r = httpx.post(url + "v1/chat/completions", json={"model": "rag-news", "messages": user(), "stream": True},
                       timeout=10)
        assert r.status_code == 503 and r.json()["error"]["type"] == "server_error"

        gen.gate.set()
        first.join(timeout=60)
        assert all("600,000" in job.result(timeout=60)["answer"] for job in chats)
        assert got["api"].model_extra["rag"]["citations"]
        assert gen.started == 3


def test_a_client_that_goes_away_gives_its_slot_back(tmp_path):
    gen = GatedGenerator()
    slots = Slots(1, 4)
    with serve_api(fake_bot(tmp_path, gen), slots) as url:
        body = {"model": "rag-news", "messages": user(), "stream": True}
        with httpx.stream("POST", url + "v1/chat/completions", json=body, timeout=30) as r:
            assert next(r.iter_lines()).startswith("data: ")  # the role chunk: it holds the slot now
            assert slots.running == 1
        # the client is gone; the answer it left finishes and the slot comes back
        gen.gate.set()
        wait_for(lambda: slots.running == 0 and slots.waiting == 0)
        reply = client(url).chat.completions.create(model="rag-news", messages=user())
        assert reply.model_extra["rag"]["citations"]


# --- rag serve -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, host, warns", [(["serve"], "127.0.0.1", False),
                                               (["serve", "--host", "0.0.0.0", "--port", "8123"], "0.0.0.0", True)])
def test_rag_serve_listens_on_this_machine_by_default(bot, monkeypatch, capsys, argv, host, warns):
    from rag import cli

    served = {}
    monkeypatch.delenv("RAG_API_KEY", raising=False)
    monkeypatch.setattr(RAG, "load", classmethod(lambda cls, *a, **k: bot))
    monkeypatch.setattr(bot, "warm_up", lambda: None)
    monkeypatch.setattr(server, "serve", lambda b, h, p, key: served.update(bot=b, host=h, port=p, key=key))
    assert cli.main(argv) == 0
    assert served == {"bot": bot, "host": host, "port": 8123 if warns else 7860, "key": None}
    assert ("WARNING: serving on 0.0.0.0 with no key" in capsys.readouterr().err) is warns


def test_the_api_alone_answers_like_the_one_beside_the_chat(tmp_path):
    with serve_api(fake_bot(tmp_path), api_key=KEY) as url:
        reply = client(url, KEY).chat.completions.create(model="rag-news", messages=user())
        assert reply.model_extra["rag"]["citations"] and "600,000" in reply.choices[0].message.content
        assert httpx.get(url + "v1/models", timeout=10).status_code == 401


# --- the real models ----------------------------------------------------------------------------------

@pytest.mark.real
def test_real_models_give_a_cited_answer_and_a_stream_through_the_openai_client(real_bot):
    """The issue's "done": OpenAI(base_url=.../v1).chat.completions.create(model="rag-news") returns a cited
    answer, and with stream=True it streams, from the app as `python app.py` serves it."""
    question = "What cap on Ukraine's military did the first US draft propose?"
    with serve_app(real_bot) as url:
        api = OpenAI(base_url=url + "v1", api_key="x", max_retries=0, timeout=600)
        reply = api.chat.completions.create(model="rag-news", messages=user(question))
        extra = reply.model_extra["rag"]
        assert not extra["declined"], (reply.choices[0].message.content, extra["verdict"])
        assert "600,000" in reply.choices[0].message.content.replace(", 000", ",000")
        assert any(c["doc_id"] == WITKOFF and "600, 000" in c["quote"] for c in extra["citations"]), extra
        chunks = list(api.chat.completions.create(model="rag-news", messages=user(question), stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(chunks) > 5 and "600,000" in text.replace(", 000", ",000") and "Sources:" in text
        assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["rag"]["citations"]
