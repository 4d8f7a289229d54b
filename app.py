"""The chat: streamed, cited answers with source previews, follow-ups and a documents tab.

    python app.py [--host 127.0.0.1] [--port 7860] [--config rag.toml]
    RAG_AUTH=user:password python app.py      # optional basic auth (several: "a:1,b:2")

`/ask` is also a named API endpoint for gradio_client:
    Client("http://127.0.0.1:7860").predict("Who is Kirill Dmitriev?", [], "", api_name="/ask")
and /v1 is an OpenAI-compatible API (rag/server.py, docs/api.md), sharing the chat's answer slots:
    OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="x").chat.completions.create(model="rag-news", ...)
    RAG_API_KEY=secret python app.py          # the API then needs that bearer key
"""

from __future__ import annotations

import argparse
import html
import inspect
import ipaddress
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
from starlette.routing import Mount

from rag import RAG, feeds
from rag.config import Config
from rag.errors import InputError, RagError
from rag.ingest import SUPPORTED
from rag.server import create_app
from rag.slots import Slots
from rag.prompt import CITE
from rag.retrieve import Retrieval
from rag.types import Answer, Citation, Passage
from rag.web import add_pages, is_url

EXAMPLES = [
    "What cap on Ukraine's military did the first US draft propose?",
    "Where did Kirill Dmitriev travel in late October?",
    "What range do the Tomahawk missiles have?",
    "What did Trump say after meeting Zelenskyy?",
    "What is the population of Kryvyi Rih?",
]
PROFILES = ["fast", "quality"]

CSS = """
#sources .src {border-left: 3px solid #6366f1; padding: 6px 10px; margin: 8px 0; background: rgba(99,102,241,.05)}
#sources .src:target {background: rgba(250,204,21,.25)}
#sources mark {background: #fde68a; padding: 0 2px}
#sources .meta {font-size: .85em; opacity: .8}
#sources .ctx {font-size: .92em; line-height: 1.45}
#sources h4 {margin: 14px 0 4px}
#sources .src.cited {border-left-color: #16a34a; background: rgba(22,163,74,.07)}
#sources .src.uncited {border-left-color: #9ca3af; opacity: .85}
#sources .badge {font-size: .75em; padding: 0 6px; border-radius: 8px; background: #e5e7eb}
#sources .cited .badge {background: #bbf7d0}
"""


# --- rendering: every document field is untrusted and escaped; only http(s) URLs become links ----

def esc(value) -> str:
    """Text made safe to put inside HTML (tags, quotes and entities all escaped)."""
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url) -> str:
    """The URL if it is an absolute http(s) link with a host, else "" (checked again at render time,
    whatever ingest kept).

    >>> safe_url("https://example.org/a"), safe_url("javascript:alert(1)"), safe_url("//example.org")
    ('https://example.org/a', '', '')
    """
    if not isinstance(url, str):
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c in url for c in "\r\n\t\0"):
        return ""
    return url


def linkify(text: str, turn: int) -> str:
    """Answer text with each cited number ([4], [1, 2]) turned into a link to its source card.
    Everything else is escaped, brackets included, so model text can never form a Markdown link."""
    out, last = [], 0
    for m in CITE.finditer(text):
        out.append(plain(text[last:m.start()]) + m.group()[:len(m.group()) - len(m.group().lstrip())])
        out.append("".join(f'<a href="#src-{turn}-{n}" class="cite">[{n}]</a>'
                           for n in re.split(r"\s*[,;]\s*", m.group(1))))
        last = m.end()
    return "".join(out) + plain(text[last:])


def plain(text: str) -> str:
    """User or model text for the chat (rendered as Markdown): escaped, brackets too."""
    return html.escape(text, quote=False).replace("[", "&#91;").replace("]", "&#93;")


def context_html(doc_text: str, start: int, end: int, chars: int = 260) -> str:
    """The quoted span highlighted inside the text around it."""
    a = max(0, doc_text.rfind(" ", 0, max(0, start - chars)) + 1 if start > chars else 0)
    b = doc_text.find(" ", min(len(doc_text), end + chars))
    b = len(doc_text) if b == -1 else b
    before, quote, after = doc_text[a:start], doc_text[start:end], doc_text[end:b]
    clean = lambda s: html.escape(" ".join(s.replace("*", "").replace("#", "").split()))
    return (("… " if a > 0 else "") + clean(before) + " <mark>" + clean(quote) + "</mark> " + clean(after)
            + (" …" if b < len(doc_text) else ""))


def source_card(turn: int, n: int, title: str, outlet: str, published: str, url: str, ctx: str,
                state: str = "") -> str:
    """One passage's card; `state` is "cited", "not cited" or "" (answer still being written)."""
    href = safe_url(url)
    link = f'<a href="{esc(href)}" target="_blank" rel="noopener noreferrer">{esc(title)}</a>' if href \
        else f'<span class="title">{esc(title)}</span>'
    meta = " · ".join(esc(x) for x in (outlet, published) if x)
    badge = f' <span class="badge">{esc(state)}</span>' if state else ""
    cls = "src" + {"cited": " cited", "not cited": " uncited"}.get(state, "")
    return (f'<div class="{cls}" id="src-{turn}-{int(n)}" data-n="{int(n)}"><b>[{int(n)}]</b>{badge} {link}'
            f'<div class="meta">{meta}</div><div class="ctx">{ctx}</div></div>')


def passage_card(turn: int, p: Passage, state: str = "") -> str:
    return source_card(turn, p.n, p.doc.title, p.doc.outlet, p.doc.published, p.doc.url,
                       context_html(p.doc.text, p.start, p.end), state)


def panel(turn: int, stage: str, head: str, body: str) -> str:
    return f'<div class="panel" data-turn="{turn}" data-stage="{stage}"><h4>{head}</h4>{body}</div>'


def evidence_html(passages: list[Passage], turn: int) -> str:
    """The passages found, shown as soon as retrieval is done, while the answer is being written."""
    if not passages:
        return panel(turn, "retrieved", f"Question {turn + 1}: nothing in the articles matched.", "")
    return panel(turn, "retrieved", f"Passages found for question {turn + 1} (the answer is being written)",
                 "".join(passage_card(turn, p) for p in passages))


def sources_html(answer: Answer, turn: int, docs: dict | None = None) -> str:
    """The final panel: the cited passages marked, then the other passages that were retrieved."""
    by_n = {p.n: p for p in answer.passages}
    if answer.citations:
        cited = []
        for c in answer.citations:
            text = by_n[c.n].doc.text if c.n in by_n else (docs[c.doc_id].text if docs and c.doc_id in docs else "")
            cited.append(source_card(turn, c.n, c.title, c.outlet, c.published, c.url,
                                     context_html(text, c.start, c.end), "cited"))
        numbers = {c.n for c in answer.citations}
        rest = [passage_card(turn, p, "not cited") for p in answer.passages if p.n not in numbers]
        more = f"<details><summary>Other passages retrieved ({len(rest)})</summary>{''.join(rest)}</details>" \
            if rest else ""
        return panel(turn, "answered", f"Sources for answer {turn + 1}", "".join(cited) + more)
    if answer.passages:
        return panel(turn, "answered", f"Answer {turn + 1}: no supporting passage. The closest passages found:",
                     "".join(passage_card(turn, p, "not cited") for p in answer.passages[:3]))
    return panel(turn, "answered", f"Answer {turn + 1}: nothing in the articles matched.", "")


def debug_html(answer: Answer) -> str:
    gate = answer.signals.get("gate") or []
    rows = "".join(
        f"<tr><td>[{int(p.n)}]</td><td>{p.score:.2f}</td><td>{gate[i]:.2f}</td><td>{esc(p.doc.id)}</td>"
        f"<td>{esc(' '.join(p.text.split()))}</td></tr>" if i < len(gate) else
        f"<tr><td>[{int(p.n)}]</td><td>{p.score:.2f}</td><td>–</td><td>{esc(p.doc.id)}</td>"
        f"<td>{esc(' '.join(p.text.split()))}</td></tr>" for i, p in enumerate(answer.passages))
    t = answer.timings
    return (f"<p><b>Standalone question:</b> <span class='standalone'>{esc(answer.standalone_question)}</span><br>"
            f"<b>Confidence:</b> P(right) {answer.confidence:.2f}, threshold {answer.threshold:.2f}<br>"
            f"<b>Verdict:</b> {esc(answer.verdict)}<br><b>Model said:</b> {esc(answer.raw)}<br>"
            f"<b>Timings:</b> first token {t.first_token:.2f}s, total {t.total:.2f}s (retrieve {t.retrieve * 1000:.0f} ms, "
            f"prompt {t.prompt_eval:.2f}s, writing {t.generate:.2f}s); {answer.prompt_tokens} prompt tokens</p>"
            f"<table><tr><th>n</th><th>score</th><th>gate</th><th>article</th><th>passage</th></tr>{rows}</table>")


def citation_dict(c: Citation) -> dict:
    return {"n": c.n, "doc_id": c.doc_id, "title": c.title, "outlet": c.outlet, "published": c.published,
            "url": safe_url(c.url), "chunk_id": c.chunk_id, "quote": c.quote, "start": c.start, "end": c.end}


def documents_rows(bot: RAG) -> list[list]:
    """The Documents table. Cells are plain text (datatype "str"), which gradio renders as text, never HTML."""
    docs = bot.documents()  # the latest commit, another process's included; bot.index is now that one
    counts: dict[str, int] = {}
    for c in bot.index.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    return [[d.id, d.title, d.outlet, d.published, counts.get(d.id, 0)] for d in docs]


def add_warnings(bot: RAG, result) -> list[str]:
    """What ingest dropped or changed in an added file (a non-http URL, say), from the result or the document."""
    found = list(getattr(result, "warnings", ()) or ())
    doc = bot.index.documents.get(result.doc_id) if result.status in ("added", "replaced") else None
    return found or list(getattr(doc, "warnings", ()) or ())


def feed_rows(bot: RAG) -> list[list]:
    """The Feeds table: plain text cells, like the Documents table (a feed's title is untrusted)."""
    return [[r["url"], r["title"], r["last refresh"], r["articles"], r["last counts"], r["last error"]]
            for r in map(feeds.describe, feeds.feeds(bot))]


def result_rows(bot: RAG, results) -> list[list]:
    return [[r.path, r.status, r.doc_id, "; ".join(filter(None, [r.reason, *add_warnings(bot, r)]))] for r in results]


# The Documents tab's web actions: (result rows, status line); RagError with the reason. `progress` is
# called with (done, total, what) while a feed's articles are fetched.

def add_page_action(bot: RAG, url: str) -> tuple[list[list], str]:
    url = (url or "").strip()
    if not is_url(url):  # never a path on the server's disk
        raise InputError("Type the page's full address, starting with https:// (or http://).")
    [result] = add_pages(bot, [url])
    return result_rows(bot, [result]), f"{url}: {result.status}" + (f" as {result.doc_id}" if result.doc_id else "")


def subscribe_action(bot: RAG, url: str, progress=None) -> tuple[list[list], str]:
    url = (url or "").strip()
    if not url:
        raise InputError("Type the feed's address (https://…/feed.xml) first.")
    done = feeds.subscribe(bot, url, progress)
    return result_rows(bot, done.results), f"Subscribed to {done.title or done.url}: {done.summary()}"


def unsubscribe_action(bot: RAG, url: str) -> tuple[list[list], str]:
    if not url:
        raise InputError("Choose the feed to unsubscribe from.")
    state = feeds.unsubscribe(bot, url)
    return [], f"Unsubscribed from {state.title or state.url}; its {state.articles} articles stay indexed."


def refresh_action(bot: RAG, progress=None) -> tuple[list[list], str]:
    done = feeds.refresh_all(bot, progress)
    if not done:
        raise InputError("No feeds yet: subscribe to one first.")
    rows = [row for r in done for row in result_rows(bot, r.results)]
    return rows, " | ".join(f"{r.title or r.url}: {r.summary()}" for r in done)


def error(message) -> gr.Error:
    """A message for gradio's toast, which renders HTML: escaped, since it may quote a file name."""
    return gr.Error(html.escape(str(message), quote=False))


# --- the app -----------------------------------------------------------------------------------

CONCURRENCY = 4  # questions in flight at once (all answer events share this limit)
MAX_QUEUE = 64  # questions waiting beyond this are turned away at once with "busy, please try again"


def held(slots: Slots, items):
    """Iterate `items` holding one answer slot (shared with the API at /v1) for as long as it runs."""
    with slots.hold():
        yield from items


def make_respond(bot: RAG, slots: Slots | None = None):
    """The chat handler. Yields (chat, sources, box, pairs, cards, debug) updates: the passages as soon
    as retrieval is done (when the pipeline's stream yields its `Retrieval`), then the answer as it
    is written, then the final panel with the cited passages marked."""

    # a pipeline that can yield its Retrieval first is asked to; any stream that yields one is shown
    evidence_first = "evidence" in inspect.signature(bot.stream).parameters
    slots = slots or Slots(CONCURRENCY, MAX_QUEUE)

    def respond(message, chat, pairs, cards, profile, n_passages, show_debug):
        message = (message or "").strip()
        try:
            bot.check_question(message)
        except RagError as exc:
            raise error(exc) from None
        turn = len(pairs)
        chat = list(chat or []) + [{"role": "user", "content": plain(message)}, {"role": "assistant", "content": "…"}]
        keep = gr.update()
        yield chat, keep, "", keep, keep, keep
        text, answer = "", None
        options = dict(generator=profile or None, passages=int(n_passages))
        if evidence_first:
            options["evidence"] = True
        try:
            for item in held(slots, bot.stream(message, pairs, **options)):
                if isinstance(item, str):
                    text += item
                    chat[-1] = {"role": "assistant", "content": plain(text) + " ▌"}
                    yield chat, keep, "", keep, keep, keep
                elif isinstance(item, Answer):
                    answer = item
                elif isinstance(item, Retrieval):  # evidence first: show the passages now
                    yield chat, evidence_html(item.passages, turn) + "".join(cards), "", keep, keep, keep
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": f"⚠️ {plain(str(exc))}"}
            yield chat, "".join(cards), "", pairs, cards, keep
            return
        chat[-1] = {"role": "assistant", "content": linkify(answer.text, turn)}
        cards = [sources_html(answer, turn)] + list(cards)
        yield (chat, "".join(cards), "", list(pairs) + [(message, answer.text)], cards,
               debug_html(answer) if show_debug else "")

    return respond


def build_app(bot: RAG, slots: Slots | None = None) -> gr.Blocks:
    """The page. `slots`: the answer slots every way to ask shares (the API's too, when launch() serves it)."""
    profile_default = bot.config.generator if bot.config.generator in PROFILES else PROFILES[0]
    profiles = PROFILES if bot.config.generator in PROFILES else [bot.config.generator]
    slots = slots or Slots(CONCURRENCY, MAX_QUEUE)
    respond = make_respond(bot, slots)

    def clear():
        return [], "", "", [], [], ""

    def ask_api(question: str, history: list | None = None, generator: str = "") -> dict:
        """Answer a question about the indexed articles; returns the answer and its citations."""
        try:
            if any(isinstance(turn, (dict, str)) for turn in history or []):  # two keys or letters would unpack
                raise TypeError
            pairs = [(str(q), str(a)) for q, a in (history or [])]
        except (TypeError, ValueError):
            raise error("history must be a list of [question, answer] pairs") from None
        try:
            with slots.hold():
                answer = bot.ask(question, pairs, generator=generator or None)
        except RagError as exc:
            raise error(exc) from None
        return {"answer": answer.text, "abstained": answer.abstained,
                "citations": [citation_dict(c) for c in answer.citations],
                "standalone_question": answer.standalone_question, "confidence": round(answer.confidence, 4),
                "seconds": round(answer.timings.total, 3)}

    def add_files(files, progress=gr.Progress()):
        files = files or []
        if not files:
            raise error("Choose one or more .md, .txt, .html or .pdf files first.")
        rows = []
        for path in progress.tqdm(files, desc="Indexing"):
            path = Path(path)
            name = re.sub(r"^[0-9a-f]{8,}_", "", path.name)
            try:
                added = bot.add_documents([path])  # type and size are checked there, with the reason
            except RagError as exc:  # the index could not be written: nothing was added
                raise error(exc) from None
            for r in added:
                rows.append([name, r.status, r.doc_id, "; ".join(filter(None, [r.reason, *add_warnings(bot, r)]))])
        skipped = sum(1 for r in rows if r[1] == "skipped")
        if skipped:
            gr.Warning(f"{skipped} file(s) skipped: see the reasons in the table.")
        ids = [d.id for d in bot.documents()]
        return rows, documents_rows(bot), gr.update(choices=ids, value=None), None

    def remove(doc_id):
        if not doc_id:
            raise error("Choose the document to remove.")
        try:
            doc = bot.remove_document(doc_id)
        except RagError as exc:
            raise error(exc) from None
        ids = [d.id for d in bot.documents()]
        return documents_rows(bot), gr.update(choices=ids, value=None), f"Removed: {esc(doc.title)}"

    def web_view(action, *args, progress=None):
        """Run a web action; the updated tables, or its error as a message."""
        tick = (lambda done, total, what: progress((done, total), desc=what[:80])) if progress else None
        try:
            rows, status = action(bot, *args, **({"progress": tick} if tick else {}))
        except RagError as exc:
            raise error(exc) from None
        return (rows, documents_rows(bot), gr.update(choices=[d.id for d in bot.documents()], value=None),
                feed_rows(bot), gr.update(choices=[s.url for s in feeds.feeds(bot)], value=None), status)

    def add_page(url):
        return web_view(add_page_action, url)

    def subscribe(url, progress=gr.Progress()):
        return web_view(subscribe_action, url, progress=progress)

    def unsubscribe(url):
        return web_view(unsubscribe_action, url)

    def refresh_feeds(progress=gr.Progress()):
        return web_view(refresh_action, progress=progress)

    def reload():
        return (documents_rows(bot), gr.update(choices=[d.id for d in bot.documents()]), feed_rows(bot),
                gr.update(choices=[s.url for s in feeds.feeds(bot)]))

    with gr.Blocks(title="News Q&A: cited answers from your articles") as demo:
        gr.Markdown("## Ask the articles\nShort answers, each claim linked to the passage it came from. "
                    "When the articles don't say, the bot says so.")
        pairs = gr.State([])  # (question, answer) turns of this user, for follow-up questions
        cards = gr.State([])  # this user's source panels, newest first
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", height=460, elem_id="chat", sanitize_html=True,
                                      placeholder="Ask about the Ukraine peace talks, e.g. the cap on Ukraine's army.")
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False,
                                         scale=8, elem_id="question", max_lines=4, autofocus=True)
                        send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    with gr.Row():
                        clear_btn = gr.Button("Clear chat", elem_id="clear", size="sm")
                    gr.Examples(EXAMPLES, inputs=box, label="Examples")
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        profile = gr.Radio(profiles, value=profile_default, label="Generator",
                                           info="fast: Qwen2.5-Coder 0.5B; quality: 1.5B (see README for measured accuracy)")
                        n_passages = gr.Slider(2, 8, value=bot.config.passages, step=1, label="Passages given to the model")
                        show_debug = gr.Checkbox(False, label="Show retrieved passages (debug)", elem_id="show-debug")
                with gr.Column(scale=2):
                    sources = gr.HTML("<h4>Sources</h4><p>Citations of each answer appear here.</p>", elem_id="sources")
                    debug = gr.HTML("", elem_id="debug")
        with gr.Tab("Documents") as docs_tab:
            docs_table = gr.Dataframe(documents_rows(bot), headers=["id", "title", "outlet", "published", "chunks"],
                                      datatype=["str", "str", "str", "str", "number"],
                                      interactive=False, label="Indexed articles", elem_id="docs")
            with gr.Row():
                with gr.Column():
                    upload = gr.File(file_count="multiple", file_types=list(SUPPORTED), label="Add articles",
                                     elem_id="upload")
                    add_btn = gr.Button("Add to index", variant="primary", elem_id="add")
                    results = gr.Dataframe(headers=["file or address", "result", "id", "detail"], datatype=["str"] * 4,
                                           interactive=False, label="Results (uploads, pages, feeds)",
                                           elem_id="results")
                with gr.Column():
                    remove_id = gr.Dropdown([d.id for d in bot.documents()], label="Remove an article",
                                            elem_id="remove-id")
                    remove_btn = gr.Button("Remove", variant="stop", elem_id="remove")
                    removed = gr.HTML(elem_id="removed")
            with gr.Row():
                with gr.Column():
                    page_url = gr.Textbox(label="Add a web page by its address", placeholder="https://…",
                                          elem_id="page-url", max_lines=1)
                    page_btn = gr.Button("Add page", elem_id="add-page")
                with gr.Column():
                    feed_url = gr.Textbox(label="Subscribe to a news feed (RSS or Atom)", elem_id="feed-url",
                                          placeholder="https://…/feed.xml", max_lines=1)
                    subscribe_btn = gr.Button("Subscribe", elem_id="subscribe")
            feeds_table = gr.Dataframe(feed_rows(bot), headers=["feed", "title", "last refresh", "articles",
                                                                "last refresh found", "last error"],
                                       datatype=["str", "str", "str", "number", "str", "str"], interactive=False,
                                       label=f"Feeds (refreshed every {bot.config.feed_refresh_minutes} minutes "
                                             f"while the app runs; 0 = only by hand)", elem_id="feeds")
            with gr.Row():
                feed_choice = gr.Dropdown([s.url for s in feeds.feeds(bot)], label="Unsubscribe from a feed",
                                          elem_id="feed-choice")
                unsubscribe_btn = gr.Button("Unsubscribe", variant="stop", elem_id="unsubscribe")
                refresh_btn = gr.Button("Refresh feeds now", elem_id="refresh-feeds")
            web_status = gr.Textbox(label="Web pages and feeds", interactive=False, elem_id="web-status")

        outputs = [chat, sources, box, pairs, cards, debug]
        inputs = [box, chat, pairs, cards, profile, n_passages, show_debug]
        answering = dict(concurrency_id="answer", api_visibility="private")  # one limit for every way to ask
        box.submit(respond, inputs, outputs, **answering)
        send.click(respond, inputs, outputs, **answering)
        clear_btn.click(clear, None, outputs, api_visibility="private")
        add_btn.click(add_files, upload, [results, docs_table, remove_id, upload], api_visibility="private")
        remove_btn.click(remove, remove_id, [docs_table, remove_id, removed], api_visibility="private")
        web_outputs = [results, docs_table, remove_id, feeds_table, feed_choice, web_status]
        page_btn.click(add_page, page_url, web_outputs, api_visibility="private")
        subscribe_btn.click(subscribe, feed_url, web_outputs, api_visibility="private")
        unsubscribe_btn.click(unsubscribe, feed_choice, web_outputs, api_visibility="private")
        refresh_btn.click(refresh_feeds, None, web_outputs, api_visibility="private")
        docs_tab.select(reload, None, [docs_table, remove_id, feeds_table, feed_choice], api_visibility="private")
        gr.api(ask_api, api_name="ask", concurrency_id="answer")
    return demo


def parse_auth(value: str | None):
    if not value:
        return None
    pairs = []
    for item in value.split(","):
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            raise SystemExit("RAG_AUTH must look like user:password (several separated by commas)")
        pairs.append((user, password))
    return pairs


def exposure_warning(host: str, auth) -> str | None:
    """A warning when the app listens beyond this machine with no password; None when it does not."""
    if auth:
        return None
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return None
    try:
        if ipaddress.ip_address(name).is_loopback:
            return None
    except ValueError:
        pass
    return (f"WARNING: serving on {host} with no password. Anyone who can reach this machine can read every "
            f"indexed article, ask questions (here and through the API at /v1, unless RAG_API_KEY is set), "
            f"and upload or remove articles. Set RAG_AUTH=user:password to "
            f"require a login (and put it behind HTTPS: gradio's login is sent in the clear over plain HTTP), "
            f"or serve on --host 127.0.0.1.")


def launch(bot: RAG, host: str = "127.0.0.1", port: int = 7860, auth=None, *, concurrency: int = CONCURRENCY,
           max_queue: int = MAX_QUEUE, api_key: str | None = None, **options) -> gr.Blocks:
    """Build the app, set up its queue and serve it, with the OpenAI-compatible API at /v1 on the same
    port; returns the running Blocks (options go to launch()). `api_key`: default RAG_API_KEY."""
    api_key = api_key if api_key is not None else os.environ.get("RAG_API_KEY") or None
    # one set of answer slots for the page, /ask and /v1; users waiting in gradio's queue count as waiting
    slots = Slots(concurrency, max_queue, queued_elsewhere=lambda: len(getattr(demo, "_queue", None) or ()))
    demo = build_app(bot, slots)
    # a full queue answers at once: gradio's page says "This application is currently busy. Please try
    # again.", gradio_client raises QueueError("Queue is full! Please try again."), raw HTTP gets a 503,
    # and so does /v1/chat/completions (OpenAI's error object, code "busy")
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    api = create_app(bot, slots, api_key, login_required=bool(auth))
    demo.launch(server_name=host, server_port=port, auth=auth, max_file_size=f"{int(bot.config.max_file_mb)}mb",
                css=CSS, show_error=True, app_kwargs={"routes": [Mount("/v1", app=api)]}, **options)
    return demo


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Chat with cited answers from news articles.")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--config", help="TOML config file")
    args = ap.parse_args(argv)
    auth = parse_auth(os.environ.get("RAG_AUTH"))
    warning = exposure_warning(args.host, auth)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    config = Config.from_toml(args.config) if args.config else Config()
    bot = RAG.load(config, progress=True)
    bot.warm_up()
    feeds.Refresher(bot, config.feed_refresh_minutes).start()  # a daemon thread; 0 minutes: off
    launch(bot, args.host, args.port, auth)


if __name__ == "__main__":
    main()
