"""Feeds and web pages end to end (rag/feeds.py, rag/web.py, `rag feed`, `rag index add URL`, the
Documents tab's actions), against a real HTTP server on 127.0.0.1 (tests/local_site.py), with the
fast tier's fakes: the hash embedder and the extractive scripted generator."""

import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest

import app as app_module
from rag import RAG, feeds, subscriptions
from rag.errors import FetchError, FetchRefused, RagError
from rag.ingest import read_document
from rag.web import add_pages

from .conftest import SHARED_CACHE, HashEmbedder, ScriptedGenerator, extractive
from .local_site import article, rss, site  # noqa: F401  (site: the fixture)

UTC = dt.timezone.utc
HARBOUR = ("The Zorvik council approved a harbour budget of 4 million euros on Monday.\n\n"
           "Mayor Ilse Marek said the quay repairs would start in the spring.")
FERRY = ("The ferry line between Zorvik and Holm reopened after two years of repairs.\n\n"
         "The operator said the boat carries 300 passengers a day.")
LIBRARY = ("Zorvik's new public library opened its doors with 40,000 books.\n\n"
           "Librarian Tomas Velk said the reading room seats ninety people.")


@pytest.fixture
def web_config(config):
    return config.replace(fetch_allow_private=True)  # the test server is on 127.0.0.1


@pytest.fixture
def web_bot(web_config):
    return RAG.load(web_config, embedder=HashEmbedder(), generator=ScriptedGenerator(extractive))


@pytest.fixture
def news(site):
    """Two articles and their feed; the first article's date sits only in its page's JSON-LD."""
    a = site.page("/news/harbour.html", article("Harbour budget approved", HARBOUR, jsonld_date="2025-10-14T08:00:00+02:00"))
    b = site.page("/news/ferry.html", article("Ferry line reopens", FERRY))
    items = [{"title": "Harbour budget approved", "link": a, "guid": "harbour-1"},
             {"title": "Ferry line reopens", "link": b, "guid": "ferry-1", "author": "ann@example.org (Ann Lee)",
              "date": dt.datetime(2025, 10, 16, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))}]
    feed = site.feed("/feed.xml", rss(items), etag='"v1"')
    return {"feed": feed, "harbour": a, "ferry": b, "items": items}


def by_url(bot, url):
    return next(d for d in bot.documents() if d.url == url)


def stamp(config):
    return (config.index_dir / "manifest.json").read_text()


def test_subscribing_indexes_every_article_with_its_metadata(web_bot, news):
    done = feeds.subscribe(web_bot, news["feed"])
    assert done.counts() == {"added": 2, "replaced": 0, "unchanged": 0, "skipped": 0}, done.results
    harbour, ferry = by_url(web_bot, news["harbour"]), by_url(web_bot, news["ferry"])
    assert "4 million euros" in harbour.text and "Home" not in harbour.text  # the main text, not the menu
    assert (harbour.title, harbour.outlet, harbour.published) == ("Harbour budget approved", "Harbour Daily", "2025-10-14")
    assert (ferry.published, ferry.author) == ("2025-10-16", "Ann Lee")  # pubDate, as the feed wrote the day
    assert len(web_bot.documents()) == 5
    [state] = feeds.feeds(web_bot)
    assert (state.title, state.etag, state.articles, state.last_error) == ("Harbour Daily", '"v1"', 2, "")
    row = feeds.describe(state)
    assert row["articles"] == 2 and row["last counts"].startswith("2 added") and row["last refresh"].endswith("UTC")


def test_a_question_about_a_new_article_cites_its_url(web_bot, news):
    feeds.subscribe(web_bot, news["feed"])
    answer = web_bot.ask("What harbour budget did the Zorvik council approve?")
    assert "4 million euros" in answer.text and not answer.abstained
    assert [c.url for c in answer.citations] == [news["harbour"]]


def test_a_refresh_sends_the_etag_back_and_a_304_changes_nothing(web_bot, news, site):
    feeds.subscribe(web_bot, news["feed"])
    before, pages = stamp(web_bot.config), site.hits("/news/harbour.html")
    done = feeds.refresh(web_bot, news["feed"])
    assert done.status == "not modified" and done.results == []
    assert site.requests[-1] == ("/feed.xml", site.requests[-1][1]) and site.requests[-1][1]["if-none-match"] == '"v1"'
    assert stamp(web_bot.config) == before and site.hits("/news/harbour.html") == pages  # no commit, no page


def test_an_unchanged_feed_without_an_etag_fetches_no_page_again(web_bot, news, site):
    site.routes["/feed.xml"].etag = ""
    feeds.subscribe(web_bot, news["feed"])
    before = stamp(web_bot.config)
    done = feeds.refresh(web_bot, news["feed"])
    assert done.status == "refreshed" and done.results == []  # every entry seen, with the same fingerprint
    assert site.hits("/news/harbour.html") == 1 and stamp(web_bot.config) == before


def test_an_updated_entry_replaces_its_document_under_the_same_id(web_bot, news, site):
    feeds.subscribe(web_bot, news["feed"])
    old = by_url(web_bot, news["harbour"])
    site.page("/news/harbour.html", article("Harbour budget raised", HARBOUR.replace("4 million", "5 million")))
    news["items"][0]["title"] = "Harbour budget raised"
    site.feed("/feed.xml", rss(news["items"]), etag='"v2"')
    done = feeds.refresh(web_bot, news["feed"])
    assert [(r.status, r.doc_id) for r in done.results] == [("replaced", old.id)]
    new = web_bot.index.documents[old.id]
    assert "5 million euros" in new.text and new.title == "Harbour budget raised"
    assert len(web_bot.documents()) == 5  # replaced, not added beside the old version
    assert "4 million" not in " ".join(d.text for d in web_bot.documents())


def test_a_duplicate_entry_under_a_new_guid_is_not_indexed_twice(web_bot, news, site):
    """The same link under a new GUID is known by its address (its page is not even fetched); the same
    text at another address is known by its content hash."""
    feeds.subscribe(web_bot, news["feed"])
    copy = site.page("/mirror/harbour-copy.html", article("Harbour budget approved", HARBOUR))
    items = news["items"] + [{"title": "Harbour budget approved", "link": news["harbour"] + "?utm_source=rss",
                              "guid": "harbour-1-again"},
                             {"title": "Harbour budget (mirror)", "link": copy, "guid": "harbour-mirror"}]
    site.feed("/feed.xml", rss(items), etag='"v2"')
    harbour = by_url(web_bot, news["harbour"])
    done = feeds.refresh(web_bot, news["feed"])
    assert [(r.status, r.doc_id) for r in done.results] == [("unchanged", harbour.id), ("unchanged", harbour.id)]
    assert "same address" in done.results[0].reason and "already indexed" in done.results[1].reason
    assert site.hits("/news/harbour.html") == 1 and len(web_bot.documents()) == 5
    state = feeds.feeds(web_bot)[0]
    assert state.seen["harbour-1-again"]["doc"] == state.seen["harbour-mirror"]["doc"] == harbour.id
    assert state.articles == 2


ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Holm Gazette</title><id>urn:holm</id><updated>{updated}</updated>
<entry><title>Ferry line reopens</title><id>urn:holm:ferry</id><link rel="alternate" href="/news/ferry.html"/>
<updated>{updated}</updated><author><name>Per Holm</name></author><summary>{summary}</summary></entry></feed>"""


def test_an_atom_feed_with_a_relative_link_and_an_updated_date(web_bot, news, site):
    """No <published>: the entry's <updated> is the fallback date; a later <updated> is an edit."""
    site.page("/news/ferry.html", article("Ferry line reopens", FERRY))  # no date in the page
    url = site.feed("/atom.xml", ATOM.format(updated="2025-11-26T23:30:00-05:00", summary="Back."),
                    content_type="application/atom+xml")
    done = feeds.subscribe(web_bot, url)
    ferry = by_url(web_bot, news["ferry"])
    assert done.counts()["added"] == 1 and (ferry.published, ferry.author, ferry.outlet) == \
        ("2025-11-26", "Per Holm", "Harbour Daily")
    site.page("/news/ferry.html", article("Ferry line reopens", FERRY + "\n\nTickets cost 12 euros."))
    site.feed("/atom.xml", ATOM.format(updated="2025-11-27T08:00:00Z", summary="Back, with prices."),
              content_type="application/atom+xml")
    done = feeds.refresh(web_bot, url)
    assert [(r.status, r.doc_id) for r in done.results] == [("replaced", ferry.id)]
    assert web_bot.index.documents[ferry.id].published == "2025-11-27"


def test_xml_attacks_in_a_feed_are_harmless(web_bot, site):
    """An external entity is not read (XXE); entities that expand a billionfold are refused (expat's limit)."""
    xxe = site.feed("/xxe.xml", '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                '<rss version="2.0"><channel><title>T&x;</title><item><title>A &x;</title>'
                                f'<link>{site.url("/a.html")}</link></item></channel></rss>')
    site.page("/a.html", article("A", HARBOUR))
    feeds.subscribe(web_bot, xxe)
    assert all("root:" not in d.title + d.text for d in web_bot.documents())
    assert "root:" not in feeds.feeds(web_bot)[0].title
    lol = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1) if i > 1 else "lol") * 10}">' for i in range(1, 10))
    bomb = site.feed("/bomb.xml", f'<?xml version="1.0"?><!DOCTYPE r [{lol}]><rss version="2.0"><channel>'
                                  f'<title>&l9;</title></channel></rss>')
    t = time.monotonic()
    with pytest.raises(FetchError, match="not a well-formed feed"):
        feeds.subscribe(web_bot, bomb)
    assert time.monotonic() - t < 20


def test_a_malformed_feed_is_refused_and_nothing_is_subscribed(web_bot, site):
    url = site.feed("/broken.xml", "<?xml version='1.0'?><rss version='2.0'><channel><item><title>Oops</title>"
                                   "<link>http://x/a</link")
    before = stamp(web_bot.config)
    with pytest.raises(FetchError, match=r"not a well-formed feed: XML error at line 1, column \d+"):
        feeds.subscribe(web_bot, url)
    assert feeds.feeds(web_bot) == [] and stamp(web_bot.config) == before


def test_a_web_page_is_not_a_feed_and_the_error_names_the_feed_it_links_to(web_bot, site):
    url = site.page("/", "<html><head><link rel='alternate' type='application/rss+xml' href='/feed.xml'></head>"
                         "<body><p>Welcome.</p></body></html>")
    with pytest.raises(FetchError, match=rf"not an RSS or Atom feed. The page links to a feed: subscribe to "
                                         rf"'{site.url('/feed.xml')}'"):
        feeds.subscribe(web_bot, url)
    with pytest.raises(FetchError, match="is image/png, not one of application/rss"):
        feeds.subscribe(web_bot, site.page("/logo.png", b"\x89PNG", content_type="image/png"))
    assert feeds.feeds(web_bot) == []


@pytest.mark.parametrize("breakage", ["malformed", "slow", "server error", "gone"])
def test_a_feed_that_starts_failing_keeps_every_article_and_shows_its_error(web_bot, news, site, breakage):
    bot = RAG.load(web_bot.config.replace(fetch_timeout_s=0.5), embedder=web_bot.embedder,
                   generator=ScriptedGenerator(extractive))
    feeds.subscribe(bot, news["feed"])
    before, docs = stamp(bot.config), {d.id: d.sha256 for d in bot.documents()}
    route = site.routes["/feed.xml"]
    if breakage == "malformed":
        site.feed("/feed.xml", route.body[:-40], etag='"v2"')
    elif breakage == "slow":
        route.delay = 3.0
    elif breakage == "server error":
        route.status = 500
    else:
        del site.routes["/feed.xml"]
    t = time.monotonic()
    done = feeds.refresh(bot, news["feed"])
    assert done.status == "failed" and time.monotonic() - t < 4
    expected = {"malformed": "not a well-formed feed", "slow": "no answer within 0.5 s",
                "server error": "answered 500", "gone": "answered 404"}[breakage]
    assert expected in done.error
    state = feeds.feeds(bot)[0]
    assert expected in state.last_error and state.etag == '"v1"' and state.articles == 2
    assert stamp(bot.config) == before and {d.id: d.sha256 for d in bot.documents()} == docs


def test_a_page_that_fails_is_reported_and_retried_while_the_others_are_indexed(web_bot, news, site):
    del site.routes["/news/ferry.html"]
    done = feeds.subscribe(web_bot, news["feed"])
    assert [r.status for r in done.results] == ["skipped", "added"]
    assert "answered 404" in done.results[0].reason
    state = feeds.feeds(web_bot)[0]
    assert "1 of 2 articles could not be read" in state.last_error and state.etag == ""  # ask again in full next time
    site.page("/news/ferry.html", article("Ferry line reopens", FERRY))
    done = feeds.refresh(web_bot, news["feed"])
    assert [r.status for r in done.results] == ["added"] and feeds.feeds(web_bot)[0].last_error == ""
    assert by_url(web_bot, news["ferry"]).published == "2025-10-16"


def test_per_feed_limits_leave_the_rest_for_the_next_refresh(web_bot, news, site):
    library = site.page("/news/library.html", article("Library opens", LIBRARY))
    site.feed("/feed.xml", rss(news["items"] + [{"title": "Library opens", "link": library, "guid": "lib-1"}]),
              etag='"v1"')
    bot = RAG.load(web_bot.config.replace(feed_max_entries=2), embedder=web_bot.embedder)
    done = feeds.subscribe(bot, news["feed"])
    assert done.counts()["added"] == 2 and "1 more articles wait for the next refresh" in done.error
    assert feeds.feeds(bot)[0].etag == ""  # so the next refresh is not told "not modified"
    done = feeds.refresh(bot, news["feed"])
    assert [r.status for r in done.results] == ["added"] and done.error == ""
    assert by_url(bot, library) and feeds.feeds(bot)[0].etag == '"v1"'


def test_the_bytes_per_refresh_limit_stops_fetching_pages(web_bot, news):
    bot = RAG.load(web_bot.config.replace(feed_max_mb=0.0001), embedder=web_bot.embedder)  # about 100 bytes
    done = feeds.subscribe(bot, news["feed"])
    assert done.counts()["added"] == 0 and "2 more articles wait" in done.error and "feed_max_mb" in done.error


def test_dates_come_from_the_feed_then_the_page_and_undated_stays_undated(web_bot, site):
    """Harbour: its date only in the page's JSON-LD. Ferry: only in article:published_time. Library: no
    date anywhere (it is never given the day it was read). Market: the feed's pubDate wins over the page's."""
    pages = {"harbour": article("Harbour", HARBOUR, jsonld_date="2025-10-14T23:30:00-05:00"),
             "ferry": article("Ferry", FERRY, published="2025-09-01T10:00:00Z"),
             "library": article("Library", LIBRARY),
             "market": article("Market", "The Zorvik market moved to the old harbour hall this week.",
                               published="2025-01-01T10:00:00Z")}
    items = [{"title": k.title(), "link": site.page(f"/{k}.html", v), "guid": k} for k, v in pages.items()]
    items[-1]["date"] = dt.datetime(2025, 11, 2, 8, 0, tzinfo=UTC)
    feeds.subscribe(web_bot, site.feed("/feed.xml", rss(items)))
    dates = {d.title: d.published for d in web_bot.documents() if d.url.startswith(site.url("/"))}
    assert dates == {"Harbour": "2025-10-14", "Ferry": "2025-09-01", "Library": "", "Market": "2025-11-02"}


def test_a_10_mb_title_is_refused_by_size_or_cut_to_length(web_bot, site):
    big = rss([{"title": "x" * (10 * 1024 * 1024), "link": site.url("/a.html"), "guid": "a"}], title="y" * 10_000_000)
    url = site.feed("/huge.xml", big)
    t = time.monotonic()
    with pytest.raises(FetchError, match="over the 5 MB limit; raise fetch_max_mb"):
        feeds.subscribe(web_bot, url)
    assert time.monotonic() - t < 5 and feeds.feeds(web_bot) == []
    site.page("/a.html", article("A" * 10_000, HARBOUR))
    roomy = RAG.load(web_bot.config.replace(fetch_max_mb=40), embedder=web_bot.embedder)
    done = feeds.subscribe(roomy, url)
    assert done.counts()["added"] == 1
    doc = by_url(roomy, site.url("/a.html"))
    assert len(doc.title) <= 300 and len(feeds.feeds(roomy)[0].title) <= 300


def test_the_default_refuses_a_feed_on_a_private_address_and_a_redirect_to_one(bot, site):
    """`bot` has the default configuration (fetch_allow_private off): nothing is fetched, nothing subscribed."""
    feed = site.feed("/feed.xml", rss([]))
    hop = site.redirect("/go", "http://10.0.0.1/feed.xml")
    for url in (feed, hop):
        with pytest.raises(FetchRefused, match="set fetch_allow_private = true"):
            feeds.subscribe(bot, url)
    assert site.requests == [] and feeds.feeds(bot) == []


def test_a_feed_whose_entry_redirects_in_a_loop_reports_it(web_bot, site):
    site.redirect("/a", "/b")
    site.redirect("/b", "/a")
    done = feeds.subscribe(web_bot, site.feed("/feed.xml", rss([{"title": "Loop", "link": site.url("/a"), "guid": "l"}])))
    assert [r.status for r in done.results] == ["skipped"] and "redirects in a loop" in done.results[0].reason


def test_a_crash_after_the_commit_loses_nothing_and_duplicates_nothing(web_bot, news):
    """The state is saved after the articles are committed; a process that dies in between leaves the
    old state (here: the file as it was before the refresh). The next refresh finds the articles indexed."""
    state_file = subscriptions.path(web_bot.config.index_dir)
    feeds.subscribe(web_bot, news["feed"])
    docs = {d.id: d.sha256 for d in web_bot.documents()}
    saved = json.loads(state_file.read_text())
    saved["feeds"][0].update(seen={}, etag="", last_counts={})
    state_file.write_text(json.dumps(saved))
    done = feeds.refresh(web_bot, news["feed"])
    assert {r.status for r in done.results} == {"unchanged"} and {d.id: d.sha256 for d in web_bot.documents()} == docs
    assert feeds.feeds(web_bot)[0].articles == 2


def test_a_damaged_state_file_is_a_clear_error_and_the_index_is_untouched(web_bot, news):
    feeds.subscribe(web_bot, news["feed"])
    subscriptions.path(web_bot.config.index_dir).write_text("{not json")
    with pytest.raises(RagError, match="feeds.json cannot be read.*delete it.*the indexed articles stay"):
        feeds.feeds(web_bot)
    assert len(web_bot.documents()) == 5


def test_unsubscribing_keeps_the_articles(web_bot, news):
    feeds.subscribe(web_bot, news["feed"])
    state = feeds.unsubscribe(web_bot, news["feed"])
    assert state.articles == 2 and feeds.feeds(web_bot) == [] and len(web_bot.documents()) == 5
    with pytest.raises(RagError, match="not subscribed to .* Subscribed: none"):
        feeds.unsubscribe(web_bot, news["feed"])


def test_the_background_refresher_indexes_new_entries_while_questions_are_answered(web_bot, news, site):
    feeds.subscribe(web_bot, news["feed"])
    library = site.page("/news/library.html", article("Library opens", LIBRARY))
    site.feed("/feed.xml", rss(news["items"] + [{"title": "Library opens", "link": library, "guid": "lib-1"}]),
              etag='"v2"')
    state_file = subscriptions.path(web_bot.config.index_dir)
    saved = json.loads(state_file.read_text())
    saved["feeds"][0]["last_refresh"] = "2000-01-01T00:00:00+00:00"  # long due
    state_file.write_text(json.dumps(saved))
    logged = []
    refresher = feeds.Refresher(web_bot, minutes=60, log=logged.append).start()
    try:
        deadline, answered = time.monotonic() + 30, 0
        while time.monotonic() < deadline and not any(d.url == library for d in web_bot.documents()):
            assert "4 million" in web_bot.ask("What harbour budget did the Zorvik council approve?").text
            answered += 1
            time.sleep(0.2)
    finally:
        refresher.stop()
    assert any(d.url == library for d in web_bot.documents()), logged
    assert answered >= 3 and logged and "1 added" in logged[0]
    assert "40,000 books" in web_bot.ask("How many books did the Zorvik library open with?").text


def test_add_documents_takes_documents_as_well_as_paths(web_bot, news, tmp_path):
    from rag.web import fetch_page

    doc = fetch_page(news["harbour"], web_bot.config)
    path = tmp_path / "note.md"
    path.write_text("---\ntitle: Note\nauthor: Ann Lee\n---\nThe quay opens to visitors on Sunday.")
    results = web_bot.add_documents([doc, path])
    assert [(r.status, r.path) for r in results] == [("added", news["harbour"]), ("added", str(path))]
    again = web_bot.add_documents([doc])
    assert [(r.status, r.doc_id) for r in again] == [("unchanged", doc.id)]
    assert read_document(path).author == "Ann Lee"


# --- web pages: `rag index add URL`, the URL box ----------------------------------------------------

def test_adding_web_pages_mixed_with_files(web_bot, news, site, tmp_path):
    path = tmp_path / "note.md"
    path.write_text("The quay opens to visitors on Sunday, the harbour master said.")
    results = add_pages(web_bot, [news["ferry"], str(path), site.url("/nothing-here"), "ftp://example.org/x"])
    assert [r.status for r in results] == ["added", "added", "skipped", "skipped"]
    assert "answered 404" in results[2].reason and "only http and https" in results[3].reason
    assert by_url(web_bot, news["ferry"]).title == "Ferry line reopens"
    assert [r.status for r in add_pages(web_bot, [news["ferry"]])] == ["unchanged"]


def test_a_page_may_name_a_canonical_url_only_on_its_own_site(web_bot, site):
    own = site.page("/a.html?ref=home", article("Own", HARBOUR, canonical=site.url("/a.html")))
    other = site.page("/b.html", article("Other", FERRY, canonical="https://www.example.net/a/4411.html"))
    add_pages(web_bot, [own, other])
    urls = {d.title: d.url for d in web_bot.documents()}
    assert urls["Own"] == site.url("/a.html") and urls["Other"] == other


def test_the_documents_tab_actions(web_bot, news, site):
    rows, status = app_module.subscribe_action(web_bot, news["feed"])
    assert [r[1] for r in rows] == ["added", "added"] and status.startswith("Subscribed to Harbour Daily: 2 added")
    [row] = app_module.feed_rows(web_bot)
    assert row[0] == news["feed"] and row[3] == 2 and row[5] == ""
    rows, status = app_module.refresh_action(web_bot)
    assert rows == [] and "not modified" in status
    rows, status = app_module.add_page_action(web_bot, site.page("/lib.html", article("Library opens", LIBRARY)))
    assert rows[0][1] == "added" and "added as 127-0-0-1-lib" in status
    with pytest.raises(RagError, match="starting with https://"):
        app_module.add_page_action(web_bot, "/etc/passwd")  # never a file on the server
    rows, status = app_module.unsubscribe_action(web_bot, news["feed"])
    assert "its 2 articles stay indexed" in status and app_module.feed_rows(web_bot) == []
    with pytest.raises(RagError, match="No feeds yet"):
        app_module.refresh_action(web_bot)


def test_the_feed_title_in_the_tab_is_plain_text(web_bot, site):
    page = site.page("/a.html", article("A", HARBOUR))
    feed = site.feed("/feed.xml", rss([{"title": "<b>Bold</b> claim", "link": page, "guid": "a"}],
                                      title="<img src=x onerror=alert(1)>News"))
    app_module.subscribe_action(web_bot, feed)
    [row] = app_module.feed_rows(web_bot)
    assert "<img" not in row[1] and by_url(web_bot, page).title == "Bold claim"


# --- the command line ---------------------------------------------------------------------------------

def fake_rag(env, *args):
    from .test_durability import FAKE_CLI  # the real CLI with the hash embedder

    return subprocess.run([sys.executable, "-c", FAKE_CLI, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def cli_env(tmp_path):
    return dict(os.environ, RAG_INDEX_DIR=str(tmp_path / "index"), RAG_CACHE_DIR=str(SHARED_CACHE), HF_HUB_OFFLINE="1")


def test_rag_feed_add_indexes_new_articles_and_a_question_cites_the_article(cli_env, news, config):
    """Done means: `rag feed add http://127.0.0.1:PORT/feed.xml` indexes the articles, and a question
    about one is answered with a citation whose URL is the article's."""
    allow = ("--set", "fetch_allow_private=true")
    r = fake_rag(cli_env, "feed", "add", news["feed"], *allow)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("added ") == 2 and "2 added, 0 updated" in r.stdout and "[1/2] Harbour budget" in r.stderr
    r = fake_rag(cli_env, "feed", "list")
    assert news["feed"] in r.stdout and "2 articles" in r.stdout and "Harbour Daily" in r.stdout
    r = fake_rag(cli_env, "feed", "refresh", *allow)
    assert r.returncode == 0 and "not modified" in r.stdout

    assert str(config.index_dir) == cli_env["RAG_INDEX_DIR"]  # the fast tier's settings, on the CLI's index
    bot = RAG.load(config, embedder=HashEmbedder(), generator=ScriptedGenerator(extractive), build_if_missing=False)
    answer = bot.ask("What harbour budget did the Zorvik council approve?")
    assert "4 million euros" in answer.text and [c.url for c in answer.citations] == [news["harbour"]]

    r = fake_rag(cli_env, "feed", "remove", news["feed"])
    assert r.returncode == 0 and "2 articles stay indexed" in r.stdout
    assert "0 feeds" in fake_rag(cli_env, "feed", "list").stderr


def test_rag_feed_add_refuses_a_private_address_by_default(cli_env, news, site):
    r = fake_rag(cli_env, "feed", "add", news["feed"])
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 2 and last.startswith("error:") and "fetch_allow_private = true" in last
    assert site.requests == []


def test_rag_index_add_fetches_a_web_page(cli_env, news):
    r = fake_rag(cli_env, "index", "add", news["ferry"], "--set", "fetch_allow_private=true")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("added") and news["ferry"] in r.stdout
    assert "Ferry line reopens" in fake_rag(cli_env, "index", "list").stdout
    r = fake_rag(cli_env, "index", "add", news["harbour"])
    assert r.returncode == 1 and "skipped" in r.stdout and "fetch_allow_private" in r.stdout


# --- dates of local HTML files (rag/ingest.py) ------------------------------------------------------

@pytest.mark.parametrize("head, published", [
    ('<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2025-10-14T08:00:00+02:00"}</script>',
     "2025-10-14"),
    ('<meta property="article:published_time" content="2025-09-01T10:00:00Z">', "2025-09-01"),
    ("", ""),  # no date in the markup: undated, though the text names a day and the file has a modification time
])
def test_an_html_file_gets_its_date_from_its_markup_never_from_its_text(tmp_path, head, published):
    path = tmp_path / "page.html"
    path.write_text(f"<html><head><title>Harbour</title>{head}</head><body><article><p>{HARBOUR} The vote was held "
                    f"on 12 October 2025.</p></article></body></html>")
    assert read_document(path).published == published


# --- the real models --------------------------------------------------------------------------------

@pytest.mark.real
def test_a_feeds_new_article_is_answered_with_its_url_by_the_real_models(real_bot, tmp_path, site):
    import shutil

    shutil.copytree(real_bot.config.index_dir, tmp_path / "index")  # the bundled articles, already embedded
    bot = RAG.load(real_bot.config.replace(index_dir=tmp_path / "index", fetch_allow_private=True),
                   embedder=real_bot.embedder)
    bot.set_generator(real_bot.generator)
    library = site.page("/news/library.html", article("Zorvik library opens", LIBRARY, published="2025-11-20T09:00:00Z"))
    done = feeds.subscribe(bot, site.feed("/feed.xml", rss([{"title": "Zorvik library opens", "link": library,
                                                              "guid": "lib-1"}])))
    assert done.counts()["added"] == 1
    answer = bot.ask("How many books did Zorvik's new public library open with?")
    assert "40,000" in answer.text and not answer.abstained, answer.verdict
    assert [c.url for c in answer.citations] == [library] and answer.citations[0].published == "2025-11-20"
