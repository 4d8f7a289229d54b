"""An OpenAI-compatible API: POST /v1/chat/completions (streamed or not) and GET /v1/models.

    rag serve [--host 127.0.0.1] [--port 7860]     # the API alone
    python app.py                                  # the API beside the chat, on the same port

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="x")   # RAG_API_KEY, when it is set
    client.chat.completions.create(model="rag-news", messages=[{"role": "user", "content": "..."}])

The last user message is the question and the earlier user/assistant turns are the history; a system
message is ignored (the bot answers from the articles, under its own instructions), with a note. The
reply is the answer with its [n] marks and a short list of sources; the citations also come as data in
the extra field "rag" ({"declined", "citations", "standalone_question", "verdict", "notes"}). A decline
is a normal reply (finish_reason "stop") with "declined": true. A stream carries only checked text: the
answer is sent once it has been verified against its passages (the chat page can replace a draft; a
stream can only add to it). Errors are OpenAI's error object, {"error": {"message", "type", "param", "code"}}.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
import uuid
from typing import TYPE_CHECKING, AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Mount, Route

from .errors import Busy, InputError, RagError
from .openai_format import (MAX_BODY, MODELS, ApiError, ChatRequest, completion, event, extra, failure, parse,
                            reply_text, usage)
from .slots import Slots, Ticket
from .types import Answer

if TYPE_CHECKING:
    from .pipeline import RAG


def respond(exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


class _Guarded(StreamingResponse):
    """A stream that always ends its work: the body closed and the slot given back, even when the
    client goes away before the first byte."""

    def __init__(self, content, ticket: Ticket, **kwargs):
        super().__init__(content, **kwargs)
        self.ticket = ticket

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self.body_iterator.aclose()
            finally:
                self.ticket.close()


def create_app(bot: "RAG", slots: Slots | None = None, api_key: str | None = None,
               login_required: bool = False) -> Starlette:
    """The API as an ASGI app with routes /chat/completions and /models (mount it at /v1).

    `slots` are shared with the chat when both run (app.py); with `api_key`, every request needs it as a
    bearer token; `login_required` (the chat has RAG_AUTH) and no key: every request is refused, since the
    API has no login page."""
    api = _Api(bot, slots or Slots(), api_key, login_required)
    return Starlette(routes=[Route("/chat/completions", api.chat_completions, methods=["POST"]),
                             Route("/models", api.models, methods=["GET"]),
                             Route("/models/{name:path}", api.model, methods=["GET"])],
                     exception_handlers={HTTPException: http_error})


def check_key(request: Request, api_key: str | None, login_required: bool) -> None:
    """ApiError 401 unless the request carries `api_key` as its bearer token (nothing to check
    without a key, unless a login is required: then every request is refused)."""
    if login_required and not api_key:
        raise ApiError(401, "This app asks for a login (RAG_AUTH) and its API has none: start it with "
                            "RAG_API_KEY=<key> and send that key as the bearer token (api_key=...).",
                       None, "invalid_api_key")
    if not api_key:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), api_key.encode()):
        what = "Incorrect API key provided" if given else "No API key provided"
        raise ApiError(401, f"{what}: send the key set in RAG_API_KEY as the bearer token "
                            f"(Authorization: Bearer <key>; api_key=... in OpenAI clients).", None, "invalid_api_key")


async def read_body(request: Request) -> bytes:
    """The request's body, refused (413) past MAX_BODY bytes, whether or not it says its length."""
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise ApiError(413, f"the request is {int(size):,} bytes; the limit is {MAX_BODY:,}. Send fewer or "
                            f"shorter messages.", None, "request_too_large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"the request is over the limit of {MAX_BODY:,} bytes. Send fewer or "
                                f"shorter messages.", None, "request_too_large")
    return body


async def http_error(request: Request, exc: HTTPException):
    word = {404: "no such endpoint: use POST /v1/chat/completions or GET /v1/models",
            405: f"{request.method} is not allowed here"}.get(exc.status_code, exc.detail)
    return respond(ApiError(exc.status_code, word, None, "not_found" if exc.status_code == 404 else None))


class _Api:
    """The routes of one app: the bot, the answer slots it shares, its key, and when it started."""

    def __init__(self, bot: "RAG", slots: Slots, api_key: str | None, login_required: bool):
        self.bot, self.slots = bot, slots
        self.api_key, self.login_required = api_key, login_required
        self.created = int(time.time())

    def generator(self, req: ChatRequest) -> str:
        return MODELS[req.model] or self.bot.config.generator

    async def chat_completions(self, request: Request):
        try:
            req, ticket = await self.admit(request)
        except ApiError as exc:
            return respond(exc)
        ident, now = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if req.stream:
            return _Guarded(self.sse(req, ticket, ident, now), ticket, media_type="text/event-stream",
                            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return await self.reply(req, ticket, ident, now)

    async def admit(self, request: Request) -> tuple[ChatRequest, Ticket]:
        """The request read and checked (key, body, question), and a slot taken; ApiError if not."""
        check_key(request, self.api_key, self.login_required)
        req = parse(await read_body(request))
        try:
            self.bot.check_question(req.question)
        except InputError as exc:
            raise ApiError(400, str(exc), "messages", "invalid_question") from None
        try:
            ticket = self.slots.admit()
        except Busy as exc:
            raise ApiError(503, str(exc), None, "busy", "server_error") from None
        return req, ticket

    async def reply(self, req: ChatRequest, ticket: Ticket, ident: str, now: int) -> JSONResponse:
        """The whole answer as one chat.completion, once its slot comes up."""
        try:
            await ticket.wait()
            answer = await run_in_threadpool(self.bot.ask, req.question, req.history, generator=self.generator(req))
        except RagError as exc:
            return respond(failure(exc))
        finally:
            ticket.close()
        return JSONResponse(completion(answer, req, ident, now))

    async def sse(self, req: ChatRequest, ticket: Ticket, ident: str, now: int) -> AsyncIterator[str]:
        """Role first, then the checked answer in pieces, the final chunk (finish_reason, "rag"), [DONE]."""
        head = {"id": ident, "object": "chat.completion.chunk", "created": now, "model": req.model}
        if req.include_usage:
            head["usage"] = None

        def chunk(delta: dict, finish: str | None = None, **more) -> str:
            return event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                               "logprobs": None}], **more})

        await ticket.wait()
        yield chunk({"role": "assistant", "content": ""})
        stream = self.bot.stream(req.question, req.history, generator=self.generator(req))
        answer = None
        try:
            async for item in iterate_in_threadpool(stream):
                if isinstance(item, Answer):
                    answer = item
        except RagError as exc:
            yield event(failure(exc).body())
            return
        finally:
            stream.close()  # hands the model back at once if the client went away
        for piece in re.findall(r"\s*\S+", reply_text(answer)):
            yield chunk({"content": piece})
        yield chunk({}, "stop", rag=extra(answer, req))
        if req.include_usage:
            yield event({**head, "choices": [], "usage": usage(answer)})
        yield event("[DONE]")

    async def models(self, request: Request):
        try:
            check_key(request, self.api_key, self.login_required)
        except ApiError as exc:
            return respond(exc)
        return JSONResponse({"object": "list", "data": [self.model_card(m) for m in MODELS]})

    async def model(self, request: Request):
        try:
            check_key(request, self.api_key, self.login_required)
            name = request.path_params["name"]
            if name not in MODELS:
                raise ApiError(404, f"The model {name!r} does not exist: use one of {', '.join(MODELS)}",
                               "model", "model_not_found")
        except ApiError as exc:
            return respond(exc)
        return JSONResponse(self.model_card(name))

    def model_card(self, name: str) -> dict:
        return {"id": name, "object": "model", "created": self.created, "owned_by": "rag-news"}


def is_loopback(host: str) -> bool:
    """
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def make_server(bot: "RAG", host: str = "127.0.0.1", port: int = 7860, api_key: str | None = None,
                slots: Slots | None = None):
    """A uvicorn server for the API alone, at /v1 (`rag serve`); call .run() to serve."""
    import uvicorn

    app = Starlette(routes=[Mount("/v1", app=create_app(bot, slots, api_key))])
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))


def serve(bot: "RAG", host: str = "127.0.0.1", port: int = 7860, api_key: str | None = None) -> None:
    """Serve the API until interrupted (`rag serve`)."""
    make_server(bot, host, port, api_key).run()
