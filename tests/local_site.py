"""A real web site for the tests: http.server on 127.0.0.1 (a free port), in a thread, serving the
feeds, pages, redirects and misbehaviours a test puts in `Site.routes`; it records every request.

    def test_x(site):
        site.page("/a.html", article("Title", "Body text ..."))
        site.url("/a.html")  # -> "http://127.0.0.1:PORT/a.html"
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict = field(default_factory=dict)
    etag: str = ""  # answered 304 when the request's If-None-Match is this
    delay: float = 0.0  # seconds of silence before the answer (a slow server)
    fail_first: int = 0  # answer 503 (busy) to this many requests first
    length: bool = True  # send Content-Length (False: the body ends when the connection closes)


class Site:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict]] = []  # (path, headers) of every request, in order
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = site.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.fail_first > 0:
                    route.fail_first -= 1
                    self.send_error(503, "Busy")
                    return
                if route.status == 200 and route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("Content-Type", route.content_type)
                if route.etag:
                    self.send_header("ETag", route.etag)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if route.length:
                    self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                try:
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (a size cap)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def page(self, path: str, body: str | bytes, **options) -> str:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, **options)
        return self.url(path)

    def feed(self, path: str, body: str | bytes, **options) -> str:
        return self.page(path, body, **{"content_type": "application/rss+xml; charset=utf-8", **options})

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        self.routes[path] = Route(b"", "", status, {"Location": to})
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


def article(title: str, body: str, *, published: str = "", jsonld_date: str = "", site_name: str = "Harbour Daily",
            canonical: str = "") -> str:
    """An article page; its date, when given, sits only where asked: article:published_time or JSON-LD."""
    head = f"<title>{html.escape(title)}</title><meta property='og:site_name' content='{html.escape(site_name)}'>"
    if published:
        head += f"<meta property='article:published_time' content='{published}'>"
    if jsonld_date:
        head += ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
                 f'"headline": "{title}", "datePublished": "{jsonld_date}"}}</script>')
    if canonical:
        head += f"<link rel='canonical' href='{canonical}'>"
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n"))
    return (f"<html><head>{head}</head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
            f"<article><h1>{html.escape(title)}</h1>{paragraphs}</article><footer>Contact us</footer></body></html>")


def rss(items: list[dict], title: str = "Harbour Daily") -> str:
    """An RSS 2.0 feed; each item: title, link, and optionally guid, date (datetime), author, description."""
    out = []
    for it in items:
        parts = [f"<title>{html.escape(it['title'])}</title>", f"<link>{html.escape(it['link'])}</link>"]
        if "guid" in it:
            parts.append(f"<guid isPermaLink='false'>{html.escape(it['guid'])}</guid>")
        if "date" in it:
            parts.append(f"<pubDate>{format_datetime(it['date'])}</pubDate>")
        if "author" in it:
            parts.append(f"<author>{html.escape(it['author'])}</author>")
        if "description" in it:
            parts.append(f"<description>{html.escape(it['description'])}</description>")
        out.append("<item>" + "".join(parts) + "</item>")
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{html.escape(title)}</title>"
            f"<link>http://example.org/</link><description>News</description>{''.join(out)}</channel></rss>")
