"""Feeds (RSS 2.0, Atom): subscribe, refresh incrementally, index each entry's article.

    bot = RAG.load(config)
    subscribe(bot, "https://example.org/feed.xml")    # checks it is a feed, then indexes its articles
    refresh_all(bot)                                   # later: only what is new or changed

A refresh sends the feed's ETag / Last-Modified back (a 304 costs nothing), then goes through the
entries in the feed's order: an entry seen before with the same fingerprint is skipped; a changed one
is fetched again and replaces its document (same id); a new one is dropped as a duplicate when its
address (canonical) is one already indexed, else its page is fetched (rag/fetch.py) and read
(rag/web.py), and a page whose text is already indexed is a duplicate too (`RAG.add_documents`
compares content hashes). Title, date and author come from the entry first, then from the page.
Everything goes to the index in one `RAG.add_documents` call (the index's commit and lock); the
feed's state (rag/subscriptions.py) is saved after it. A feed that fails changes no article and keeps
its error for `rag feed list` and the Documents tab.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable
from urllib.parse import urljoin

from . import subscriptions
from .errors import DocumentError, FetchError, RagError, require
from .fetch import FEED_TYPES, PAGE_TYPES, Limits, check_url, fetch, shown
from .ingest import clean_text
from .subscriptions import FeedState
from .types import Document
from .web import canonical_url, page_document

if TYPE_CHECKING:
    from .library import AddResult
    from .pipeline import RAG

Progress = Callable[[int, int, str], None]  # (done, total, what): called before each article is fetched


@dataclass(frozen=True)
class Entry:
    guid: str  # the entry's id (or its link when it has none)
    link: str  # absolute
    title: str
    published: str  # ISO date or ""
    updated: str  # ISO date or ""
    author: str
    fingerprint: str  # changes when the entry is edited (title, dates, link, summary)


@dataclass(frozen=True)
class Feed:
    url: str
    title: str
    entries: tuple[Entry, ...]


@dataclass
class Refreshed:
    """What one refresh of one feed did."""

    url: str
    title: str = ""
    status: str = "refreshed"  # refreshed | not modified | failed
    error: str = ""  # why it failed, or what went wrong with some of its articles
    results: list = field(default_factory=list)  # AddResult per entry that needed work

    def counts(self) -> dict:
        out = {"added": 0, "replaced": 0, "unchanged": 0, "skipped": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def summary(self) -> str:
        if self.status != "refreshed":
            return f"{self.status}" + (f": {self.error}" if self.error else "")
        c = self.counts()
        text = f"{c['added']} added, {c['replaced']} updated, {c['unchanged']} duplicates, {c['skipped']} failed"
        return text + (f" ({self.error})" if self.error else "")


# --- reading a feed ---------------------------------------------------------------------------

def parse_feed(data: bytes, url: str, content_type: str = "") -> Feed:
    """The feed's title and entries; FetchError when it is not well-formed XML or not RSS/Atom."""
    feedparser = require("feedparser")
    import xml.sax

    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    parsed = feedparser.parse(data, response_headers=headers)  # bytes: feedparser never fetches anything
    error = parsed.get("bozo_exception")
    page = not parsed.get("version") and b"<html" in data[:4096].lower()
    if isinstance(error, xml.sax.SAXException) and not page:
        where = ""
        if isinstance(error, xml.sax.SAXParseException):
            where = f" at line {error.getLineNumber()}, column {error.getColumnNumber()}"
        raise FetchError(f"{shown(url)} is not a well-formed feed: XML error{where} ({clean_text(error.getMessage(), 100)}). "
                         f"Tell its publisher, or try again later")
    if not parsed.get("version"):
        raise FetchError(f"{shown(url)} is not an RSS or Atom feed.{_feed_hint(data, url)}")
    entries = []
    for e in parsed.entries:
        link = urljoin(url, e.get("link") or "") if e.get("link") else ""
        if not link:
            continue  # nothing to fetch
        # dict.get: feedparser's own get() passes `published` off as `updated` (with a warning)
        raw_dates = [str(dict.get(e, k) or "") for k in ("published", "updated")]
        summary = str(e.get("summary") or "")
        fp = hashlib.sha256(json.dumps([link, str(e.get("title") or ""), *raw_dates, summary]).encode()).hexdigest()
        author = (e.get("author_detail") or {}).get("name") or e.get("author") or ""
        entries.append(Entry(guid=str(e.get("id") or link)[:2000], link=link, title=_plain(e.get("title") or ""),
                             published=iso_date(e.get("published"), e.get("published_parsed")),
                             updated=iso_date(dict.get(e, "updated"), dict.get(e, "updated_parsed")),
                             author=clean_text(author), fingerprint=fp[:32]))
    return Feed(url, _plain((parsed.get("feed") or {}).get("title") or ""), tuple(entries))


def _feed_hint(data: bytes, url: str) -> str:
    """For a web page given as a feed: the feed it links to, or how to add the page itself."""
    import re

    m = re.search(rb"""<link[^>]+type=["']application/(?:rss|atom)\+xml["'][^>]*>""", data[:200_000], re.I)
    href = re.search(rb"""href=["']([^"']+)["']""", m.group()) if m else None
    if href:
        return f" The page links to a feed: subscribe to {shown(urljoin(url, href.group(1).decode('utf-8', 'replace')))}"
    if b"<html" in data[:4096].lower():
        return " It is a web page: add it with `rag index add URL` (or the URL box), or find its feed's address"
    return ""


def _plain(value) -> str:
    """A feed title as one line of text (feedparser may leave markup in it)."""
    text = str(value)
    if "<" in text:
        import lxml.html

        try:
            text = lxml.html.fromstring(f"<div>{text}</div>").text_content()
        except Exception:  # lxml's errors for odd markup: keep the text as it is
            pass
    return clean_text(text)


def iso_date(raw, parsed=None) -> str:
    """"Wed, 26 Nov 2025 10:00:00 +0200" -> "2025-11-26": the day as the feed wrote it (its own time
    zone); "" when no whole date is given (a month alone is not a day).

    >>> iso_date("Wed, 26 Nov 2025 10:00:00 +0200"), iso_date("2025-11-26T23:30:00-05:00"), iso_date("November 2025")
    ('2025-11-26', '2025-11-26', '')
    """
    from dateutil import parser

    if raw:
        try:
            a = parser.parse(str(raw)[:200], default=dt.datetime(2000, 1, 1))
            b = parser.parse(str(raw)[:200], default=dt.datetime(2001, 2, 2))
            if a.date() == b.date() and 1900 <= a.year <= dt.date.today().year + 1:
                return a.date().isoformat()
        except (ValueError, OverflowError, TypeError):
            pass
    if parsed:
        try:
            return dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday).isoformat()
        except (AttributeError, ValueError):
            return ""
    return ""


# --- subscribing --------------------------------------------------------------------------------

def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def feeds(bot: "RAG") -> list[FeedState]:
    return subscriptions.load(bot.config.index_dir)


def subscribe(bot: "RAG", url: str, progress: Progress | None = None) -> Refreshed:
    """Check that `url` is a feed, subscribe to it and index its articles. A feed subscribed already
    is refreshed. FetchError when it cannot be fetched or is not a feed: then nothing is subscribed."""
    url = check_url(url)
    if subscriptions.find(feeds(bot), url):
        return refresh(bot, url, progress)
    response = fetch(url, Limits.from_config(bot.config), FEED_TYPES)
    feed = parse_feed(response.body, response.url, response.content_type)
    with subscriptions.editing(bot.config.index_dir) as states:
        if not subscriptions.find(states, url):
            states.append(FeedState(url=url, title=feed.title, added=now()))
    return _update(bot, url, response, feed, progress)


def unsubscribe(bot: "RAG", url: str) -> FeedState:
    """Forget a feed (its articles stay indexed: remove them with `rag index remove ID`)."""
    with subscriptions.editing(bot.config.index_dir) as states:
        state = subscriptions.find(states, url)
        if state is None:
            raise RagError(f"not subscribed to {shown(url)}. Subscribed: {_listing(states)}")
        states.remove(state)
    return state


def _listing(states: list[FeedState]) -> str:
    return ", ".join(shown(s.url) for s in states) or "none (add one with `rag feed add URL`)"


# --- refreshing ---------------------------------------------------------------------------------

def refresh_all(bot: "RAG", progress: Progress | None = None, only: Callable[[FeedState], bool] | None = None
                ) -> list[Refreshed]:
    """Refresh every subscribed feed (or those `only` picks); a feed that fails never stops the others."""
    return [refresh(bot, s.url, progress) for s in feeds(bot) if only is None or only(s)]


def refresh(bot: "RAG", url: str, progress: Progress | None = None) -> Refreshed:
    """Fetch the feed (conditionally) and index what is new or changed; errors are kept on the feed."""
    state = subscriptions.find(feeds(bot), url)
    if state is None:
        raise RagError(f"not subscribed to {shown(url)}. Subscribed: {_listing(feeds(bot))}")
    try:
        response = fetch(state.url, Limits.from_config(bot.config), FEED_TYPES, etag=state.etag,
                         last_modified=state.last_modified)
        if response.status == 304:
            _record(bot, state.url, Refreshed(state.url, state.title, "not modified"), success=True)
            return Refreshed(state.url, state.title, "not modified")
        feed = parse_feed(response.body, response.url, response.content_type)
    except FetchError as exc:
        failed = Refreshed(state.url, state.title, "failed", str(exc))
        _record(bot, state.url, failed, success=False)
        return failed
    return _update(bot, state.url, response, feed, progress)


def _update(bot: "RAG", url: str, response, feed: Feed, progress: Progress | None) -> Refreshed:
    """Index the feed's new and changed entries, then save what was learnt (the index first)."""
    from .library import AddResult

    config = bot.config
    # one refresh of this index's feeds at a time (the app's timer, its button, `rag feed refresh`)
    with subscriptions.locked(config.index_dir, "feeds.refresh.lock"):
        state = subscriptions.find(feeds(bot), url) or FeedState(url=url)
        limits = Limits.from_config(config)
        known = {canonical_url(d.url): d.id for d in bot.documents() if d.url}
        known.update({s["url"]: s["doc"] for s in state.seen.values() if s.get("url") and s.get("doc")})
        out = Refreshed(url, feed.title or state.title)
        learnt, pending, docs, deferred = {}, [], [], []
        budget, fetched = config.feed_max_mb * 1024 * 1024 - len(response.body), 0
        todo = [e for e in feed.entries if (state.seen.get(e.guid) or {}).get("fp") != e.fingerprint]
        for i, entry in enumerate(todo):
            old = state.seen.get(entry.guid)
            key = canonical_url(entry.link)
            if old is None and key in known:
                learnt[entry.guid] = {"doc": known[key], "fp": entry.fingerprint, "url": key}
                out.results.append(AddResult(entry.link, "unchanged", known[key], "already indexed (same address)"))
                continue
            if fetched >= config.feed_max_entries or budget <= 0:
                deferred.append(entry)
                continue
            if progress:
                progress(i, len(todo), entry.title or entry.link)
            fetched += 1
            try:
                page = fetch(entry.link, limits, PAGE_TYPES)
                budget -= len(page.body)
                doc = page_document(page, doc_id=old["doc"] if old else "")
            except (FetchError, DocumentError) as exc:
                out.results.append(AddResult(entry.link, "skipped", reason=str(exc)))
                continue
            page_key = canonical_url(doc.url)
            if old is None and page_key in known:  # it redirects to, or names as canonical, an indexed article
                learnt[entry.guid] = {"doc": known[page_key], "fp": entry.fingerprint, "url": key}
                out.results.append(AddResult(entry.link, "unchanged", known[page_key], "already indexed (same address)"))
                continue
            known[key] = known[page_key] = doc.id  # a second entry for this page in the same feed is a duplicate
            docs.append(_with_entry(doc, entry, feed))
            pending.append((entry, page_key))
        if progress:
            progress(len(todo), len(todo), "indexing")
        added = bot.add_documents(docs) if docs else []  # the commit: from here the articles are safe
        for (entry, page_key), result in zip(pending, added):
            out.results.append(result)
            if result.status != "skipped":
                learnt[entry.guid] = {"doc": result.doc_id, "fp": entry.fingerprint, "url": page_key}
        failed = [r for r in out.results if r.status == "skipped"]
        notes = []
        if failed:
            notes.append(f"{len(failed)} of {len(todo)} articles could not be read (tried again next refresh); "
                         f"first: {failed[0].reason}")
        if deferred:
            notes.append(f"{len(deferred)} more articles wait for the next refresh (limits: feed_max_entries = "
                         f"{config.feed_max_entries}, feed_max_mb = {config.feed_max_mb:g})")
        out.error = "; ".join(notes)
        # with articles left to do, forget the validators: the next refresh must get the whole feed again
        complete = not failed and not deferred
        _record(bot, url, out, success=True, seen=learnt, title=feed.title,
                validators=(response.etag, response.last_modified) if complete else ("", ""))
    return out


def _record(bot: "RAG", url: str, result: Refreshed, success: bool, seen: dict | None = None,
            title: str = "", validators: tuple[str, str] | None = None) -> None:
    with subscriptions.editing(bot.config.index_dir) as states:
        state = subscriptions.find(states, url)
        if state is None:
            return  # unsubscribed meanwhile: its articles are indexed, its state is not kept
        state.last_refresh = now()
        state.last_error = result.error
        if success:
            state.last_success = state.last_refresh
            state.title = title or state.title
            state.seen.update(seen or {})
            if result.status == "refreshed":
                state.last_counts = result.counts()
        if validators is not None:
            state.etag, state.last_modified = validators


def _with_entry(doc: Document, entry: Entry, feed: Feed) -> Document:
    """The page's document with the feed's word first on title, date and author."""
    return dataclasses.replace(doc, title=entry.title or doc.title, outlet=doc.outlet or feed.title,
                               published=entry.published or doc.published or entry.updated,
                               author=entry.author or doc.author)


def describe(state: FeedState) -> dict:
    """One feed, for `rag feed list` and the Documents tab: plain text only."""
    c = state.last_counts
    counts = f"{c.get('added', 0)} added, {c.get('replaced', 0)} updated, {c.get('unchanged', 0)} duplicates, " \
             f"{c.get('skipped', 0)} failed" if c else ""
    return {"url": state.url, "title": state.title, "last refresh": _when(state.last_refresh),
            "articles": state.articles, "last counts": counts, "last error": state.last_error}


def _when(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return "never"


# --- in the background ----------------------------------------------------------------------------

class Refresher:
    """Refreshes every subscribed feed every `minutes` (each feed when its last refresh is that old),
    in a daemon thread; a failure is logged and kept on its feed, and the thread goes on.

    Questions are never blocked: they read the last committed index while a refresh writes the next."""

    def __init__(self, bot: "RAG", minutes: float, log: Callable[[str], None] | None = None):
        self.bot, self.minutes = bot, minutes
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed refresh", daemon=True)

    def start(self) -> "Refresher":
        if self.minutes > 0:
            self._thread.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    def due(self, state: FeedState) -> bool:
        try:
            last = dt.datetime.fromisoformat(state.last_refresh)
        except ValueError:
            return True
        return dt.datetime.now(dt.timezone.utc) - last >= dt.timedelta(minutes=self.minutes)

    def _run(self) -> None:
        wait = 5.0  # first look soon after start: a feed not refreshed for a while is refreshed then
        while not self._stop.wait(wait):
            try:
                for done in refresh_all(self.bot, only=self.due):
                    self.log(f"feed {done.url}: {done.summary()}")
            except Exception as exc:  # a damaged feeds.json, a full disk: say so, try again later
                self.log(f"feed refresh failed: {exc}")
            wait = min(60.0, self.minutes * 60)
