"""The real app, over HTTP: the named /ask endpoint through gradio_client, and page helpers."""

import pytest

import app as app_module
from rag.types import Answer, Citation, Timings


def test_citation_markers_become_links_to_source_cards():
    html = app_module.linkify("Capped at 600,000 [1] and 800,000 [2]. <b>x</b>", turn=3)
    assert '<a href="#src-3-1" class="cite">[1]</a>' in html and '#src-3-2' in html
    assert "<b>" not in html  # model text is escaped


def test_context_highlights_the_quote_inside_its_surroundings():
    text = "First sentence here. The initial US draft would cap it at 600, 000. Last sentence."
    a = text.index("The initial")
    b = text.index("600, 000.") + len("600, 000.")
    out = app_module.context_html(text, a, b)
    assert "<mark>The initial US draft would cap it at 600, 000.</mark>" in out
    assert out.startswith("First sentence here.") and out.endswith("Last sentence.")


def test_declined_answers_show_the_closest_passages(bot):
    answer = bot.ask("What would the initial US draft cap the military at?")
    declined = Answer("The articles don't say.", [], True, "q", "q", passages=answer.passages, timings=Timings())
    html = app_module.sources_html(declined, 0, bot.index.documents)
    assert "closest passages" in html and "<mark>" in html


def test_auth_parsing():
    assert app_module.parse_auth("a:1,b:2") == [("a", "1"), ("b", "2")]
    assert app_module.parse_auth("") is None
    with pytest.raises(SystemExit, match="user:password"):
        app_module.parse_auth("nopassword")


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
