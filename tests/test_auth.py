"""With RAG_AUTH set, the page, /ask and uploads refuse anyone not logged in: raw HTTP and gradio_client.

The app runs for real (app.launch on a free localhost port) over the fast fakes.
"""

import json

import httpx
import pytest

from rag import RAG
from rag.config import Config

from .conftest import CORPUS, HashEmbedder, ScriptedGenerator, extractive
from .test_app import serve_app

USER, PASSWORD = "reader", "s3cret-pass"
QUESTION = "What would the initial US draft cap the military at?"
TITLE = "Witkoff To Moscow"  # a bundled article's title: data only a logged-in user may see


@pytest.fixture(scope="module")
def locked_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    config = Config(gate="", corpus_dir=CORPUS, index_dir=tmp / "index", cache_dir=tmp / "cache", min_relevance=0.0)
    bot = RAG.load(config, embedder=HashEmbedder(), generator=ScriptedGenerator(extractive))
    with serve_app(bot, auth=[(USER, PASSWORD)]) as url:
        yield url, bot


def logged_in(url: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    r = http.post("login", data={"username": USER, "password": PASSWORD})
    assert r.status_code == 200 and r.json() == {"success": True}
    return http


def ask_over_http(http: httpx.Client, question: str) -> httpx.Response:
    return http.post("gradio_api/call/ask", json={"data": [question, [], ""]})


def test_raw_http_without_a_login_is_refused(locked_app, tmp_path):
    url, bot = locked_app
    before = set(bot.index.documents)
    http = httpx.Client(base_url=url, timeout=30)
    page = http.get("")
    assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
    assert TITLE not in page.text and "Ask the articles" not in page.text  # the login form only
    for path in ("config", "gradio_api/info", "gradio_api/openapi.json"):
        assert http.get(path).status_code == 401, path
    assert ask_over_http(http, QUESTION).status_code == 401
    assert http.post("gradio_api/queue/join", json={"data": [QUESTION, [], ""], "fn_index": 0,
                                                     "session_hash": "abc"}).status_code == 401
    article = tmp_path / "intruder.md"
    article.write_text("---\ntitle: Planted\n---\n\nPlanted text.")
    with article.open("rb") as f:
        assert http.post("gradio_api/upload", files={"files": f}).status_code == 401
    assert set(bot.index.documents) == before


def test_a_wrong_password_gets_no_session(locked_app):
    url, _ = locked_app
    http = httpx.Client(base_url=url, timeout=30)
    assert http.post("login", data={"username": USER, "password": "wrong"}).status_code == 400
    assert http.get("config").status_code == 401


def test_raw_http_after_login_is_served(locked_app, tmp_path):
    url, _ = locked_app
    http = logged_in(url)
    assert http.get("config").status_code == 200
    assert TITLE in http.get("config").text
    r = ask_over_http(http, QUESTION)
    assert r.status_code == 200, r.text
    events = http.get(f"gradio_api/call/ask/{r.json()['event_id']}").text
    data = [json.loads(line[5:]) for line in events.splitlines() if line.startswith("data:") and "answer" in line]
    assert data and "600,000" in data[-1][0]["answer"]
    article = tmp_path / "note.md"
    article.write_text("---\ntitle: Note\n---\n\nA note.")
    with article.open("rb") as f:
        assert http.post("gradio_api/upload", files={"files": f}).status_code == 200


def test_gradio_client_needs_the_login(locked_app):
    from gradio_client import Client

    url, _ = locked_app
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(url, verbose=False).predict(QUESTION, [], "", api_name="/ask")
    with pytest.raises((AuthenticationError, ValueError), match="Could not login"):
        Client(url, auth=(USER, "wrong"), verbose=False)
    out = Client(url, auth=(USER, PASSWORD), verbose=False).predict(QUESTION, [], "", api_name="/ask")
    assert "600,000" in out["answer"] and not out["abstained"]
