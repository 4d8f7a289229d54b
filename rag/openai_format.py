"""OpenAI's chat-completions format, in and out: a request checked and read as (question, history),
an Answer written as a reply, a stream chunk or an error object. No I/O here (rag/server.py serves it).

    req = parse(b'{"model": "rag-news", "messages": [{"role": "user", "content": "Who is Ada Brin?"}]}')
    completion(answer, req, "chatcmpl-1", 0)   # {"choices": [...], "usage": {...}, "rag": {...}}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import InputError, RagError
from .prompt import CITE
from .types import Answer, Citation

MODELS = {"rag-news": "", "rag-news-fast": "fast"}  # model id -> generator ("": the configured one)
MAX_BODY = 1 << 20  # bytes of one request: far more than any conversation the rewriter reads
SOURCES = "\n\nSources:\n"  # opens the sources list in a reply (and is cut from a reply sent back as history)
IGNORED_ROLES = ("system", "developer", "tool", "function")


class ApiError(Exception):
    """An error sent as OpenAI's error object with an HTTP status."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class ChatRequest:
    model: str
    question: str
    history: list[tuple[str, str]]
    stream: bool = False
    include_usage: bool = False
    notes: list[str] = field(default_factory=list)


# --- requests ----------------------------------------------------------------------------------------

def text_of(content, i: int) -> str:
    """A message's text: a string, or the text parts of a list of parts; ApiError for anything else."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ApiError(400, f"messages[{i}]: only text content is supported, not {kind!r}",
                               f"messages[{i}].content", "unsupported_content")
            texts.append(part["text"])
        return "\n".join(texts)
    raise ApiError(400, f"messages[{i}].content must be a string or a list of text parts",
                   f"messages[{i}].content", "invalid_type")


def turns(messages) -> tuple[str, list[tuple[str, str]], list[str]]:
    """(question, history as (question, answer) pairs, notes) from OpenAI chat messages.

    >>> turns([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who is Ada Brin?"},
    ...        {"role": "assistant", "content": "She runs the mill [1].\\n\\nSources:\\n- [1] ..."},
    ...        {"role": "user", "content": "When did she buy it?"}])[:2]
    ('When did she buy it?', [('Who is Ada Brin?', 'She runs the mill [1].')])
    """
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list of {role, content} objects, the last one the "
                            "user's question", "messages", "invalid_value")
    history: list[tuple[str, str]] = []
    asked: str | None = None
    ignored: set[str] = set()
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ApiError(400, f"messages[{i}] must be an object with a string role", f"messages[{i}]", "invalid_type")
        role, text = m["role"], text_of(m.get("content"), i)
        if role in IGNORED_ROLES:
            ignored.add(role)
        elif role == "user":
            if asked is not None:
                history.append((asked, ""))
            asked = text
        elif role == "assistant":
            history.append((asked or "", text.split(SOURCES)[0].strip()))
            asked = None
        else:
            raise ApiError(400, f"messages[{i}].role {role!r} is not one of user, assistant, system",
                           f"messages[{i}].role", "invalid_value")
    last = messages[-1]["role"]
    if last != "user" or asked is None:
        raise ApiError(400, f"the last message must be the user's question (role \"user\"), not {last!r}",
                       "messages", "invalid_value")
    notes = [f"{role} message ignored: answers come only from the indexed articles, under the bot's own "
             f"instructions" for role in sorted(ignored)]
    return asked, history, notes


def parse(body: bytes) -> ChatRequest:
    """A chat completion request, checked; ApiError naming the field for anything we cannot serve."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, f"the request body is not valid JSON ({exc}); send a JSON object with "
                            f"\"model\" and \"messages\"", None, "invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object with \"model\" and \"messages\"", None, "invalid_json")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, f"model is required: one of {', '.join(MODELS)}", "model", "invalid_value")
    if model not in MODELS:
        raise ApiError(404, f"The model {model!r} does not exist: use one of {', '.join(MODELS)}", "model",
                       "model_not_found")
    if data.get("n") not in (None, 1):
        raise ApiError(400, "n must be 1: one answer per question", "n", "invalid_value")
    stream = data.get("stream") or False
    if not isinstance(stream, bool):
        raise ApiError(400, "stream must be true or false", "stream", "invalid_type")
    options = data.get("stream_options") or {}
    question, history, notes = turns(data.get("messages"))
    unused = sorted(set(data) - {"model", "messages", "stream", "stream_options", "n", "user"})
    if unused:
        notes.append(f"not used: {', '.join(unused)}")
    return ChatRequest(model, question, history, stream, bool(isinstance(options, dict) and options.get("include_usage")),
                       notes)


# --- replies -----------------------------------------------------------------------------------------

_MARKDOWN = re.compile(r"[\\`*_\[\]<>]")


def md(text: str) -> str:
    """Text that Markdown shows as it is (no link, image, emphasis or HTML can form).

    >>> md("![x](http://e/t.png) <b>")
    '!\\\\[x\\\\](http://e/t.png) \\\\<b\\\\>'
    """
    return _MARKDOWN.sub(lambda m: "\\" + m.group(), text)


def answer_md(text: str) -> str:
    """The answer with its [n] marks kept and everything else made plain for Markdown."""
    out, last = [], 0
    for m in CITE.finditer(text):
        out += [md(text[last:m.start()]), m.group()]
        last = m.end()
    return "".join(out) + md(text[last:])


def web_url(url: str) -> str:
    """The URL when it is an absolute http(s) address with a host and nothing that breaks a line, else ""."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return ""
    ok = parts.scheme.lower() in ("http", "https") and parts.netloc and not re.search(r"[\s<>\0]", url)
    return url if ok else ""


def reply_text(answer: Answer) -> str:
    """The reply: the answer, then one line per cited article (outlet, date, title, URL)."""
    text = answer_md(answer.text)
    if not answer.citations:
        return text
    lines = []
    for c in answer.citations:
        where = ", ".join(md(x) for x in (c.outlet, c.published) if x)
        url = web_url(c.url)
        lines.append(f"- [{c.n}] {where + ': ' if where else ''}{md(c.title)}{' ' + url if url else ''}")
    return text + SOURCES + "\n".join(lines)


def citation_json(c: Citation) -> dict:
    return {"n": c.n, "doc_id": c.doc_id, "title": c.title, "outlet": c.outlet, "published": c.published,
            "url": web_url(c.url), "chunk_id": c.chunk_id, "quote": c.quote, "start": c.start, "end": c.end}


def extra(answer: Answer, req: ChatRequest) -> dict:
    """The "rag" field: the citations as data, the decline flag, and how the question was read."""
    return {"declined": answer.abstained, "citations": [citation_json(c) for c in answer.citations],
            "standalone_question": answer.standalone_question, "verdict": answer.verdict,
            "confidence": round(answer.confidence, 4), "threshold": round(answer.threshold, 4), "notes": req.notes}


def usage(answer: Answer) -> dict:
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens}


def completion(answer: Answer, req: ChatRequest, ident: str, created: int) -> dict:
    return {"id": ident, "object": "chat.completion", "created": created, "model": req.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply_text(answer)},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": usage(answer), "rag": extra(answer, req)}


def event(payload: dict | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)}\n\n"


def failure(exc: RagError) -> ApiError:
    """A pipeline error as the API's: the question's fault is a 400, anything else a 500; both keep the
    message, which says what to do."""
    if isinstance(exc, InputError):
        return ApiError(400, str(exc), "messages", "invalid_question")
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
    return ApiError(500, str(exc), None, code, "server_error")
