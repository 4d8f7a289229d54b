"""Reading a feed (RSS 2.0, Atom): its bytes -> `Feed` (title, entries), each entry with a fingerprint.

    >>> feed = parse_feed(b'<rss version="2.0"><channel><title>Town news</title><item>'
    ...                   b'<link>/a</link><title>Bridge opens</title></item></channel></rss>',
    ...                   "https://example.org/feed.xml")
    >>> feed.title, [(e.link, e.title) for e in feed.entries]
    ('Town news', [('https://example.org/a', 'Bridge opens')])

feedparser reads the bytes and never fetches anything (rag/fetch.py does, rag/feeds.py decides what
to do with the entries). A page given as a feed fails with the feed it links to, or how to add it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urljoin

from .errors import FetchError, require
from .fetch import shown
from .sanitize import clean_text


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
