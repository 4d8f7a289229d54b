"""A real browser (Debian's Chromium, driven by Playwright) subscribes to a feed in the Documents tab;
after "Refresh feeds now" an article the feed gained meanwhile is answerable, cited with its URL.

The app is the real one (real models), on its own copy of the index; the feed and its articles come
from a real HTTP server on 127.0.0.1 (tests/local_site.py), so this app allows private addresses."""

import datetime as dt
import shutil
import socket

import pytest

from .conftest import ARTIFACTS
from .local_site import Site, article, rss
from .test_browser import CHROMIUM_ARGS

pytestmark = [pytest.mark.real, pytest.mark.browser]

FERRY = ("The ferry line between Zorvik and Holm reopened after two years of repairs.\n\n"
         "The operator said the boat carries 300 passengers a day.")
LIBRARY = ("Zorvik's new public library opened its doors with 40,000 books.\n\n"
           "Librarian Tomas Velk said the reading room seats ninety people.")


@pytest.fixture(scope="module")
def feed_app(real_bot, tmp_path_factory):
    """The app (build_app, as `python app.py` serves it) over a copy of the real index; yields (url, site)."""
    import app as app_module
    from rag import RAG

    folder = tmp_path_factory.mktemp("feed-app") / "index"
    shutil.copytree(real_bot.config.index_dir, folder)
    bot = RAG.load(real_bot.config.replace(index_dir=folder, fetch_allow_private=True), embedder=real_bot.embedder)
    for name in ("quality", "fast"):
        bot.set_generator(real_bot.generator_for(name), name)
    demo = app_module.build_app(bot)
    demo.queue(default_concurrency_limit=4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=app_module.CSS)
    site = Site()
    yield f"http://127.0.0.1:{port}/", site
    site.close()
    demo.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is missing: run `make test` (it installs Debian's chromium) or apt-get install chromium")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def status_starts(page, text: str, timeout: int = 120_000) -> None:
    """Wait until the Documents tab's status line starts with `text`."""
    page.wait_for_function("(t) => { const el = document.querySelector('#web-status textarea, #web-status input');"
                           " return el && el.value.startsWith(t); }", arg=text, timeout=timeout)


def test_subscribe_in_the_documents_tab_and_a_refreshed_article_becomes_answerable(browser, feed_app):
    url, site = feed_app
    ferry = site.page("/news/ferry.html", article("Ferry line reopens", FERRY, published="2025-11-18T08:00:00Z"))
    items = [{"title": "Ferry line reopens", "link": ferry, "guid": "ferry-1"}]
    feed = site.feed("/feed.xml", rss(items, title="Zorvik Courier"), etag='"v1"')

    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_selector("#question textarea", timeout=60_000)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#feed-url input, #feed-url textarea").first.fill(feed)
    page.locator("#subscribe").click()
    status_starts(page, "Subscribed to Zorvik Courier: 1 added")
    page.wait_for_function("(u) => document.querySelector('#feeds').innerText.includes(u)", arg=feed, timeout=30_000)
    assert "Ferry line reopens" in page.locator("#docs").inner_text()

    # the feed gains an article; "Refresh feeds now" indexes it
    library = site.page("/news/library.html", article("Zorvik library opens", LIBRARY, published="2025-11-20T09:00:00Z"))
    items.insert(0, {"title": "Zorvik library opens", "link": library, "guid": "library-1",
                     "date": dt.datetime(2025, 11, 20, 9, 0, tzinfo=dt.timezone.utc)})
    site.feed("/feed.xml", rss(items, title="Zorvik Courier"), etag='"v2"')
    page.locator("#refresh-feeds").click()
    status_starts(page, "Zorvik Courier: 1 added")  # the refresh's own line
    asked = [headers.get("if-none-match") for path, headers in site.requests if path == "/feed.xml"]
    assert asked == [None, '"v1"'], site.requests  # subscribe, then a conditional refresh
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "documents-feeds.png"), full_page=True)

    page.get_by_role("tab", name="Chat").click()
    box = page.locator("#question textarea")
    box.fill("How many books did Zorvik's new public library open with?")
    box.press("Enter")
    page.wait_for_function("() => { const m = document.querySelectorAll(\"#chat [data-testid='bot']\");"
                           " return m.length && !m[m.length - 1].innerText.includes('▌')"
                           " && document.querySelector('#sources .panel[data-stage=answered]'); }", timeout=240_000)
    answer = page.locator("#chat [data-testid='bot']").last.inner_text()
    assert "40,000" in answer, answer
    links = page.eval_on_selector_all("#sources .panel[data-stage=answered] .src.cited a[href]",
                                      "els => els.map(e => e.getAttribute('href'))")
    assert library in links, links
    assert page.dialogs == []
