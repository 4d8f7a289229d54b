"""Feeds (RSS 2.0, Atom): subscribe, refresh incrementally, index each entry's article.

    bot = RAG.load(config)
    subscribe(bot, "https://example.org/feed.xml")    # checks it is a feed, then indexes its articles
    refresh_all(bot)                                   # later: only what is new or changed

A refresh sends the feed's ETag / Last-Modified back (a 304 costs nothing), reads the feed
(rag/feed_parse.py), then goes through the entries in the feed's order and indexes what is new or
changed, in one commit (rag/feed_update.py). A feed that fails changes no article and keeps its
error for `rag feed list` and the Documents tab. `Refresher` does this in the background.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from typing import TYPE_CHECKING, Callable

from . import subscriptions
from .errors import FetchError, RagError
from .feed_parse import Entry, Feed, parse_feed
from .feed_update import Progress, Refreshed, now, record, update
from .fetch import FEED_TYPES, Limits, check_url, fetch, shown
from .subscriptions import FeedState

if TYPE_CHECKING:
    from .pipeline import RAG

__all__ = ["Entry", "Feed", "Progress", "Refreshed", "Refresher", "describe", "feeds", "now", "parse_feed",
           "refresh", "refresh_all", "subscribe", "unsubscribe"]


# --- subscribing --------------------------------------------------------------------------------

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
    return update(bot, url, response, feed, progress)


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
            record(bot, state.url, Refreshed(state.url, state.title, "not modified"), success=True)
            return Refreshed(state.url, state.title, "not modified")
        feed = parse_feed(response.body, response.url, response.content_type)
    except FetchError as exc:
        failed = Refreshed(state.url, state.title, "failed", str(exc))
        record(bot, state.url, failed, success=False)
        return failed
    return update(bot, state.url, response, feed, progress)


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
