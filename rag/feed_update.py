"""One refresh of one feed: which entries to fetch, which are duplicates, one commit, the state saved.

An entry seen before with the same fingerprint is skipped; a changed one is fetched again and
replaces its document (same id); a new one is dropped as a duplicate when its address (canonical)
is one already indexed, else its page is fetched (rag/fetch.py) and read (rag/web.py), and a page
whose text is already indexed is a duplicate too (`RAG.add_documents` compares content hashes).
Title, date and author come from the entry first, then from the page. Everything goes to the index
in one `RAG.add_documents` call (the index's commit and lock); the feed's state
(rag/subscriptions.py) is saved after it. Limits (`feed_max_entries`, `feed_max_mb`) leave the rest
of the entries for the next refresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from . import subscriptions
from .errors import DocumentError, FetchError
from .feed_parse import Entry, Feed
from .fetch import PAGE_TYPES, Limits, fetch
from .library import AddResult
from .subscriptions import FeedState
from .types import Document
from .web import canonical_url, page_document

if TYPE_CHECKING:
    from .config import Config
    from .pipeline import RAG

Progress = Callable[[int, int, str], None]  # (done, total, what): called before each article is fetched


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


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def update(bot: "RAG", url: str, response, feed: Feed, progress: Progress | None) -> Refreshed:
    """Index the feed's new and changed entries, then save what was learnt (the index first)."""
    config = bot.config
    # one refresh of this index's feeds at a time (the app's timer, its button, `rag feed refresh`)
    with subscriptions.locked(config.index_dir, "feeds.refresh.lock"):
        state = subscriptions.find(subscriptions.load(config.index_dir), url) or FeedState(url=url)
        known = {canonical_url(d.url): d.id for d in bot.documents() if d.url}
        known.update({s["url"]: s["doc"] for s in state.seen.values() if s.get("url") and s.get("doc")})
        todo = [e for e in feed.entries if (state.seen.get(e.guid) or {}).get("fp") != e.fingerprint]
        batch = _Batch(config, Limits.from_config(config), known, Refreshed(url, feed.title or state.title),
                       budget=config.feed_max_mb * 1024 * 1024 - len(response.body),
                       progress=progress, total=len(todo))
        for i, entry in enumerate(todo):
            batch.take(i, entry, state.seen.get(entry.guid), feed)
        if progress:
            progress(len(todo), len(todo), "indexing")
        batch.commit(bot)
        out = batch.out
        failed = [r for r in out.results if r.status == "skipped"]
        out.error = batch.notes(failed, len(todo))
        # with articles left to do, forget the validators: the next refresh must get the whole feed again
        complete = not failed and not batch.deferred
        record(bot, url, out, success=True, seen=batch.learnt, title=feed.title,
               validators=(response.etag, response.last_modified) if complete else ("", ""))
    return out


@dataclass
class _Batch:
    """What one refresh gathers from its entries before the commit."""

    config: Config
    limits: Limits
    known: dict[str, str]  # canonical address -> id of the indexed article
    out: Refreshed
    budget: float  # bytes this refresh may still download
    progress: Progress | None = None
    total: int = 0  # entries to go through
    fetched: int = 0  # pages fetched so far
    learnt: dict = field(default_factory=dict)  # guid -> {"doc", "fp", "url"}: kept in the feed's state
    docs: list[Document] = field(default_factory=list)  # to add, in one commit
    pending: list = field(default_factory=list)  # (entry, page address) of each of docs
    deferred: list[Entry] = field(default_factory=list)  # left for the next refresh (the limits)

    def take(self, i: int, entry: Entry, old: dict | None, feed: Feed) -> None:
        """The i-th entry to do: a duplicate by its address, left for later, skipped, or read to add."""
        key = canonical_url(entry.link)
        if old is None and key in self.known:
            return self.duplicate(entry, self.known[key], key)
        if self.fetched >= self.config.feed_max_entries or self.budget <= 0:
            self.deferred.append(entry)
            return
        if self.progress:
            self.progress(i, self.total, entry.title or entry.link)
        self.fetched += 1
        try:
            page = fetch(entry.link, self.limits, PAGE_TYPES)
            self.budget -= len(page.body)
            doc = page_document(page, doc_id=old["doc"] if old else "")
        except (FetchError, DocumentError) as exc:
            self.out.results.append(AddResult(entry.link, "skipped", reason=str(exc)))
            return
        page_key = canonical_url(doc.url)
        if old is None and page_key in self.known:  # it redirects to, or names as canonical, an indexed article
            return self.duplicate(entry, self.known[page_key], key)
        self.known[key] = self.known[page_key] = doc.id  # a second entry for this page in the same feed is a duplicate
        self.docs.append(_with_entry(doc, entry, feed))
        self.pending.append((entry, page_key))

    def duplicate(self, entry: Entry, doc_id: str, key: str) -> None:
        self.learnt[entry.guid] = {"doc": doc_id, "fp": entry.fingerprint, "url": key}
        self.out.results.append(AddResult(entry.link, "unchanged", doc_id, "already indexed (same address)"))

    def commit(self, bot: "RAG") -> None:
        added = bot.add_documents(self.docs) if self.docs else []  # the commit: from here the articles are safe
        for (entry, page_key), result in zip(self.pending, added):
            self.out.results.append(result)
            if result.status != "skipped":
                self.learnt[entry.guid] = {"doc": result.doc_id, "fp": entry.fingerprint, "url": page_key}

    def notes(self, failed: list, todo: int) -> str:
        """What went wrong with some articles, and what waits for the next refresh."""
        notes = []
        if failed:
            notes.append(f"{len(failed)} of {todo} articles could not be read (tried again next refresh); "
                         f"first: {failed[0].reason}")
        if self.deferred:
            notes.append(f"{len(self.deferred)} more articles wait for the next refresh (limits: feed_max_entries = "
                         f"{self.config.feed_max_entries}, feed_max_mb = {self.config.feed_max_mb:g})")
        return "; ".join(notes)


def record(bot: "RAG", url: str, result: Refreshed, success: bool, seen: dict | None = None,
           title: str = "", validators: tuple[str, str] | None = None) -> None:
    """Save what a refresh learnt in the feed's state (its error, counts, entries seen, validators)."""
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
