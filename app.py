"""The chat: streamed, cited answers with source previews, follow-ups and a documents tab.

    python app.py [--host 127.0.0.1] [--port 7860] [--config rag.toml]
    RAG_AUTH=user:password python app.py      # optional basic auth (several: "a:1,b:2")

`/ask` is also a named API endpoint for gradio_client:
    Client("http://127.0.0.1:7860").predict("Who is Kirill Dmitriev?", [], "", api_name="/ask")
"""

from __future__ import annotations

import argparse
import html
import os
import re
from pathlib import Path

import gradio as gr

from rag import RAG
from rag.config import Config
from rag.errors import RagError
from rag.ingest import SUPPORTED
from rag.types import Answer, Citation, Passage

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
"""


# --- rendering -------------------------------------------------------------------------------

def linkify(text: str, turn: int) -> str:
    """Answer text with each [n] turned into a link to its source card."""
    safe = html.escape(text, quote=False)
    return re.sub(r"\[(\d+)\]", lambda m: f'<a href="#src-{turn}-{m.group(1)}" class="cite">[{m.group(1)}]</a>', safe)


def context_html(doc_text: str, start: int, end: int, chars: int = 260) -> str:
    """The quoted span highlighted inside the text around it."""
    a = max(0, doc_text.rfind(" ", 0, max(0, start - chars)) + 1 if start > chars else 0)
    b = doc_text.find(" ", min(len(doc_text), end + chars))
    b = len(doc_text) if b == -1 else b
    before, quote, after = doc_text[a:start], doc_text[start:end], doc_text[end:b]
    clean = lambda s: html.escape(" ".join(s.replace("*", "").replace("#", "").split()))
    return (("… " if a > 0 else "") + clean(before) + " <mark>" + clean(quote) + "</mark> " + clean(after)
            + (" …" if b < len(doc_text) else ""))


def source_card(turn: int, n: int, title: str, outlet: str, published: str, url: str, ctx: str) -> str:
    link = f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{html.escape(title)}</a>' if url \
        else html.escape(title)
    meta = " · ".join(html.escape(x) for x in (outlet, published) if x)
    return (f'<div class="src" id="src-{turn}-{n}"><b>[{n}]</b> {link}<div class="meta">{meta}</div>'
            f'<div class="ctx">{ctx}</div></div>')


def sources_html(answer: Answer, turn: int, docs: dict) -> str:
    def doc_text(doc_id):
        return docs[doc_id].text if doc_id in docs else ""

    if answer.citations:
        cards = [source_card(turn, c.n, c.title, c.outlet, c.published, c.url,
                             context_html(doc_text(c.doc_id), c.start, c.end)) for c in answer.citations]
        head = f"<h4>Sources for answer {turn + 1}</h4>"
    elif answer.passages:
        cards = [source_card(turn, p.n, p.doc.title, p.doc.outlet, p.doc.published, p.doc.url,
                             context_html(p.doc.text, p.start, p.end)) for p in answer.passages[:3]]
        head = f"<h4>Answer {turn + 1}: no supporting passage. The closest passages found:</h4>"
    else:
        return f"<h4>Answer {turn + 1}: nothing in the articles matched.</h4>"
    return head + "".join(cards)


def debug_html(answer: Answer) -> str:
    rows = "".join(
        f"<tr><td>[{p.n}]</td><td>{p.score:.2f}</td><td>{html.escape(p.doc.id)}</td>"
        f"<td>{html.escape(' '.join(p.text.split()))}</td></tr>" for p in answer.passages)
    t = answer.timings
    return (f"<p><b>Standalone question:</b> {html.escape(answer.standalone_question)}<br>"
            f"<b>Verdict:</b> {html.escape(answer.verdict)}<br><b>Model said:</b> {html.escape(answer.raw)}<br>"
            f"<b>Timings:</b> first token {t.first_token:.2f}s, total {t.total:.2f}s (retrieve {t.retrieve * 1000:.0f} ms, "
            f"prompt {t.prompt_eval:.2f}s, writing {t.generate:.2f}s); {answer.prompt_tokens} prompt tokens</p>"
            f"<table><tr><th>n</th><th>score</th><th>article</th><th>passage</th></tr>{rows}</table>")


def citation_dict(c: Citation) -> dict:
    return {"n": c.n, "doc_id": c.doc_id, "title": c.title, "outlet": c.outlet, "published": c.published,
            "url": c.url, "chunk_id": c.chunk_id, "quote": c.quote, "start": c.start, "end": c.end}


def documents_rows(bot: RAG) -> list[list]:
    counts: dict[str, int] = {}
    for c in bot.index.chunks:
        counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
    return [[d.id, d.title, d.outlet, d.published, counts.get(d.id, 0)] for d in bot.documents()]


# --- the app -----------------------------------------------------------------------------------

def build_app(bot: RAG) -> gr.Blocks:
    profile_default = bot.config.generator if bot.config.generator in PROFILES else PROFILES[0]
    profiles = PROFILES if bot.config.generator in PROFILES else [bot.config.generator]

    def respond(message, chat, pairs, cards, profile, n_passages, show_debug):
        message = (message or "").strip()
        try:
            bot.check_question(message)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        turn = len(pairs)
        chat = list(chat or []) + [{"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
        yield chat, gr.update(), "", gr.update(), gr.update(), gr.update()
        text = ""
        try:
            for item in bot.stream(message, pairs, generator=profile or None, passages=int(n_passages)):
                if isinstance(item, str):
                    text += item
                    chat[-1] = {"role": "assistant", "content": html.escape(text, quote=False) + " ▌"}
                    yield chat, gr.update(), "", gr.update(), gr.update(), gr.update()
                else:
                    answer = item
        except RagError as exc:
            chat[-1] = {"role": "assistant", "content": f"⚠️ {html.escape(str(exc))}"}
            yield chat, gr.update(), "", pairs, cards, gr.update()
            return
        chat[-1] = {"role": "assistant", "content": linkify(answer.text, turn)}
        cards = [sources_html(answer, turn, bot.index.documents)] + list(cards)
        yield (chat, "".join(cards), "", pairs + [(message, answer.text)], cards,
               debug_html(answer) if show_debug else "")

    def clear():
        return [], "", "", [], [], ""

    def ask_api(question: str, history: list | None = None, generator: str = "") -> dict:
        """Answer a question about the indexed articles; returns the answer and its citations."""
        try:
            pairs = [(str(q), str(a)) for q, a in (history or [])]
            answer = bot.ask(question, pairs, generator=generator or None)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        return {"answer": answer.text, "abstained": answer.abstained,
                "citations": [citation_dict(c) for c in answer.citations],
                "standalone_question": answer.standalone_question, "seconds": round(answer.timings.total, 3)}

    def add_files(files, progress=gr.Progress()):
        files = files or []
        if not files:
            raise gr.Error("Choose one or more .md, .txt, .html or .pdf files first.")
        rows = []
        for path in progress.tqdm(files, desc="Indexing"):
            path = Path(path)
            name = re.sub(r"^[0-9a-f]{8,}_", "", path.name)
            for r in bot.add_documents([path]):  # type and size are checked there, with the reason
                rows.append([name, r.status, r.doc_id, r.reason])
        skipped = sum(1 for r in rows if r[1] == "skipped")
        if skipped:
            gr.Warning(f"{skipped} file(s) skipped: see the reasons in the table.")
        ids = [d.id for d in bot.documents()]
        return rows, documents_rows(bot), gr.update(choices=ids, value=None), None

    def remove(doc_id):
        if not doc_id:
            raise gr.Error("Choose the document to remove.")
        try:
            doc = bot.remove_document(doc_id)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        ids = [d.id for d in bot.documents()]
        return documents_rows(bot), gr.update(choices=ids, value=None), f"Removed **{html.escape(doc.title)}**."

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
                    with gr.Accordion("Settings", open=False):
                        profile = gr.Radio(profiles, value=profile_default, label="Generator",
                                           info="fast: Qwen2.5-Coder 0.5B; quality: 1.5B (see README for measured accuracy)")
                        n_passages = gr.Slider(2, 8, value=bot.config.passages, step=1, label="Passages given to the model")
                        show_debug = gr.Checkbox(False, label="Show retrieved passages (debug)")
                with gr.Column(scale=2):
                    sources = gr.HTML("<h4>Sources</h4><p>Citations of each answer appear here.</p>", elem_id="sources")
                    debug = gr.HTML("", elem_id="debug")
        with gr.Tab("Documents"):
            docs_table = gr.Dataframe(documents_rows(bot), headers=["id", "title", "outlet", "published", "chunks"],
                                      interactive=False, label="Indexed articles", elem_id="docs")
            with gr.Row():
                with gr.Column():
                    upload = gr.File(file_count="multiple", file_types=list(SUPPORTED), label="Add articles",
                                     elem_id="upload")
                    add_btn = gr.Button("Add to index", variant="primary", elem_id="add")
                    results = gr.Dataframe(headers=["file", "result", "id", "detail"], interactive=False,
                                           label="Upload results", elem_id="results")
                with gr.Column():
                    remove_id = gr.Dropdown([d.id for d in bot.documents()], label="Remove an article",
                                            elem_id="remove-id")
                    remove_btn = gr.Button("Remove", variant="stop", elem_id="remove")
                    removed = gr.Markdown()

        outputs = [chat, sources, box, pairs, cards, debug]
        inputs = [box, chat, pairs, cards, profile, n_passages, show_debug]
        box.submit(respond, inputs, outputs, api_visibility="private")
        send.click(respond, inputs, outputs, api_visibility="private")
        clear_btn.click(clear, None, outputs, api_visibility="private")
        add_btn.click(add_files, upload, [results, docs_table, remove_id, upload], api_visibility="private")
        remove_btn.click(remove, remove_id, [docs_table, remove_id, removed], api_visibility="private")
        gr.api(ask_api, api_name="ask")
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Chat with cited answers from news articles.")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--config", help="TOML config file")
    args = ap.parse_args(argv)
    config = Config.from_toml(args.config) if args.config else Config()
    bot = RAG.load(config, progress=True)
    bot.warm_up()
    demo = build_app(bot)
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(server_name=args.host, server_port=args.port, auth=parse_auth(os.environ.get("RAG_AUTH")),
                max_file_size=f"{int(config.max_file_mb)}mb", css=CSS, show_error=True)


if __name__ == "__main__":
    main()
