"""The app: rendering of untrusted fields, evidence first, exposure warnings; the real app over HTTP."""

import contextlib
import copy
import socket
import sys

import pytest

import app as app_module
from rag import RAG
from rag.types import Answer, Citation, Document, Passage, Timings

HOSTILE = Document(
    id="evil<x>", title='<img src=x onerror="window.__pwned=1"> Bridge opens', outlet="<b>Outlet</b>",
    published='2025"><script>alert(1)</script>', url="javascript:alert(1)",
    text="Intro. The bridge <script>window.__pwned=2</script> was designed by Tomas Velk. End.")


@contextlib.contextmanager
def serve_app(bot, **options):
    """The app (app.launch: its queue settings, CSS, limits) on a free localhost port; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app_module.launch(bot, "127.0.0.1", port, prevent_thread_lock=True, quiet=True, **options)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def hostile_passage(n=1) -> Passage:
    a = HOSTILE.text.index("The bridge")
    b = HOSTILE.text.index("Velk.") + len("Velk.")
    return Passage(n, HOSTILE, f"{HOSTILE.id}#0", a, b, 0.9, a, b)


def test_citation_markers_become_links_to_source_cards():
    html = app_module.linkify("Capped at 600,000 [1] and 800,000 [2]. <b>x</b>", turn=3)
    assert '<a href="#src-3-1" class="cite">[1]</a>' in html and '#src-3-2' in html
    assert "<b>" not in html  # model text is escaped


def test_model_text_cannot_form_markdown_links_or_images():
    html = app_module.linkify('See [here](javascript:alert(1)) and ![x](http://evil.example/t.png) [2]', turn=0)
    assert "](" not in html and "![" not in html
    assert '<a href="#src-0-2" class="cite">[2]</a>' in html
    assert "](" not in app_module.plain("[a](javascript:x)")


@pytest.mark.parametrize("url, kept", [
    ("https://example.org/a?b=1", True), ("http://example.org", True), ("HTTPS://Example.org/x", True),
    ("javascript:alert(1)", False), (" JavaScript:alert(1)", False), ("data:text/html,<script>", False),
    ("vbscript:msgbox", False), ("//example.org/x", False), ("https:///path", False), ("http://", False),
    ("ftp://example.org/f", False), ("", False), (None, False), ("http://a.example/\njavascript:x", False),
])
def test_only_http_and_https_urls_are_links(url, kept):
    assert (app_module.safe_url(url) != "") is kept
    card = app_module.source_card(0, 1, "Title", "Outlet", "2025-01-01", url, "ctx")
    assert ("<a href=" in card) is kept


def test_every_document_field_is_escaped_in_every_view():
    p = hostile_passage()
    c = Citation.from_passage(p)
    cited = Answer("Tomas Velk [1].", [c], False, "q", "q", passages=[p, hostile_passage(2)], timings=Timings(),
                   raw="<i>raw</i>", verdict="verified")
    declined = Answer("The articles don't say.", [], True, "q", '<q onclick="x">', passages=[p], timings=Timings())
    views = [app_module.sources_html(cited, 0), app_module.sources_html(declined, 1),
             app_module.evidence_html([p], 2), app_module.debug_html(cited), app_module.debug_html(declined)]
    for html in views:
        for raw in ("<img", "<script", "<b>Outlet", "<x>", "<i>", "<q ", "javascript:"):
            assert raw not in html, (raw, html)
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt; Bridge opens" in views[0]
    assert "&lt;script&gt;window.__pwned=2&lt;/script&gt;" in views[2]
    assert "evil&lt;x&gt;" in views[3]
    assert app_module.citation_dict(c)["url"] == ""  # API callers never get the script URL either


def test_final_panel_marks_the_cited_passages(bot):
    answer = bot.ask("What would the initial US draft cap the military at?")
    assert answer.citations and len(answer.passages) > 1
    html = app_module.sources_html(answer, 0)
    cited = {c.n for c in answer.citations}
    for p in answer.passages:
        state = "cited" if p.n in cited else "not cited"
        assert f'id="src-0-{p.n}" data-n="{p.n}"><b>[{p.n}]</b> <span class="badge">{state}</span>' in html
    assert 'data-stage="answered"' in html and "<mark>" in html


def test_declined_answers_show_the_closest_passages(bot):
    answer = bot.ask("What would the initial US draft cap the military at?")
    declined = Answer("The articles don't say.", [], True, "q", "q", passages=answer.passages, timings=Timings())
    html = app_module.sources_html(declined, 0)
    assert "closest passages" in html and "<mark>" in html and "cited</span>" in html


class EvidenceFirstRAG(RAG):
    """The pipeline as the lead will shape it: the stream yields its Retrieval before the text."""

    def stream(self, question, history=None, **kw):
        yield self.retrieve(question, history)
        yield from super().stream(question, history, **kw)


def run_respond(bot, question, pairs=(), cards=()):
    """Every update the chat handler yields, copied as it is yielded (gradio sends each one at once)."""
    respond = app_module.make_respond(bot)
    return [copy.deepcopy(step) for step in respond(question, [], list(pairs), list(cards), "", 4, True)]


def test_passages_show_before_the_answer_then_the_cited_ones_are_marked(config, fake_embedder):
    from tests.conftest import ScriptedGenerator, extractive

    bot = EvidenceFirstRAG.load(config, embedder=fake_embedder, generator=ScriptedGenerator(extractive))
    steps = run_respond(bot, "What would the initial US draft cap the military at?")
    sources = [s[1] for s in steps]
    texts = [s[0][-1]["content"] for s in steps]
    shown = next(i for i, s in enumerate(sources) if isinstance(s, str) and 'data-stage="retrieved"' in s)
    first_text = next(i for i, t in enumerate(texts) if t != "…")
    assert shown < first_text  # evidence first
    assert "<mark>" in sources[shown] and "cited</span>" not in sources[shown]
    final = steps[-1]
    assert 'data-stage="answered"' in final[1] and '<span class="badge">cited</span>' in final[1]
    assert "600,000" in final[0][-1]["content"] or "600, 000" in final[0][-1]["content"]
    assert 'data-stage="retrieved"' not in final[1]  # the pending panel is replaced, not kept


class PlainStreamRAG(RAG):
    """A pipeline whose stream never yields its Retrieval (and takes no `evidence` option)."""

    def stream(self, question, history=None, **kw):
        for item in super().stream(question, history, **kw):
            if isinstance(item, (str, Answer)):
                yield item


def test_the_pipelines_own_evidence_option_shows_passages_first(bot, monkeypatch):
    monkeypatch.setattr(bot, "retrieve", lambda *a, **k: pytest.fail("the app must not retrieve a second time"))
    steps = run_respond(bot, "What would the initial US draft cap the military at?")
    stages = [s[1] for s in steps if isinstance(s[1], str)]
    assert 'data-stage="retrieved"' in stages[0] and 'data-stage="answered"' in stages[-1]


def test_a_stream_without_retrieval_shows_passages_at_the_end_and_never_retrieves_twice(config, fake_embedder,
                                                                                        monkeypatch):
    from tests.conftest import ScriptedGenerator, extractive

    bot = PlainStreamRAG.load(config, embedder=fake_embedder, generator=ScriptedGenerator(extractive))
    monkeypatch.setattr(bot, "retrieve", lambda *a, **k: pytest.fail("the app must not retrieve a second time"))
    steps = run_respond(bot, "What would the initial US draft cap the military at?")
    assert not any(isinstance(s[1], str) and 'data-stage="retrieved"' in s[1] for s in steps)
    assert 'data-stage="answered"' in steps[-1][1] and "Standalone question" in steps[-1][5]


def test_the_user_message_is_shown_as_text(bot):
    steps = run_respond(bot, 'What about <img src=x onerror="alert(1)"> and [a](javascript:x)?')
    shown = steps[-1][0][0]["content"]
    assert "<img" not in shown and "](" not in shown and "&lt;img" in shown


def test_auth_parsing():
    assert app_module.parse_auth("a:1,b:2") == [("a", "1"), ("b", "2")]
    assert app_module.parse_auth("") is None
    with pytest.raises(SystemExit, match="user:password"):
        app_module.parse_auth("nopassword")


@pytest.mark.parametrize("host, auth, warns", [
    ("127.0.0.1", None, False), ("localhost", None, False), ("::1", None, False), ("127.0.0.2", None, False),
    ("0.0.0.0", None, True), ("::", None, True), ("192.168.1.20", None, True), ("myhost.example", None, True),
    ("0.0.0.0", [("a", "b")], False),
])
def test_exposure_warning(host, auth, warns):
    message = app_module.exposure_warning(host, auth)
    assert (message is not None) is warns
    if warns:
        assert host in message and "RAG_AUTH=user:password" in message


@pytest.mark.parametrize("env, warns", [("", True), ("reader:s3cret", False)])
def test_main_warns_when_serving_the_network_without_a_password(bot, monkeypatch, capsys, env, warns):
    launched = {}
    monkeypatch.setenv("RAG_AUTH", env)
    monkeypatch.setattr(app_module.RAG, "load", classmethod(lambda cls, *a, **k: bot))
    monkeypatch.setattr(bot, "warm_up", lambda: None)
    monkeypatch.setattr(app_module, "launch", lambda b, host, port, auth: launched.update(host=host, auth=auth))
    app_module.main(["--host", "0.0.0.0", "--port", "7999"])
    err = capsys.readouterr().err
    assert launched["host"] == "0.0.0.0"
    assert ("WARNING: serving on 0.0.0.0 with no password" in err) is warns
    assert launched["auth"] == (None if warns else [("reader", "s3cret")])


@pytest.mark.real
def test_gradio_client_gets_a_cited_answer_from_the_running_app(live_app):
    from gradio_client import Client

    url, bot = live_app
    client = Client(url, verbose=False)
    out = client.predict("What cap on Ukraine's military did the first US draft propose?", [], "", api_name="/ask")
    assert "600,000" in out["answer"] and not out["abstained"]
    assert out["citations"] and "600, 000" in out["citations"][0]["quote"]
    c = out["citations"][0]
    assert c["outlet"] == "RFE/RL" and c["published"] == "2025-11-26" and c["url"].startswith("https://")
    assert bot.index.documents[c["doc_id"]].text[c["start"]:c["end"]] == c["quote"]

    follow = client.predict("How many times has he met Putin?",
                            [["Who did Trump tap to lead the effort to end Russia's war?", "Steve Witkoff [1]."]],
                            "", api_name="/ask")
    assert "Witkoff" in follow["standalone_question"] and ("five" in follow["answer"] or "5" in follow["answer"])

    declined = client.predict("What is the population of Kryvyi Rih?", [], "", api_name="/ask")
    assert declined["abstained"] and declined["citations"] == []

    with pytest.raises(Exception, match="empty"):
        client.predict("   ", [], "", api_name="/ask")


def test_upload_results_carry_what_ingest_dropped(bot, tmp_path):
    article = tmp_path / "bridge.md"
    article.write_text('---\ntitle: Bridge\nurl: "javascript:alert(1)"\n---\n\nThe bridge opened on Tuesday.')
    [result] = bot.add_documents([article])
    assert result.status == "added" and bot.index.documents[result.doc_id].url == ""
    assert any("javascript:alert(1)" in w and "dropped" in w for w in app_module.add_warnings(bot, result))
