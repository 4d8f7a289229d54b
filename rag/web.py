"""Web pages as documents: fetched safely (rag/fetch.py), read like an .html file (rag/ingest.py).

    >>> canonical_url("HTTPS://Example.org:443/a/b/?utm_source=x&id=7#top")
    'https://example.org/a/b?id=7'
    >>> url_id("https://www.example.org/news/harbour-budget-approved/4411.html")
    'example-org-news-harbour-budget-approved-4411-f52efd'
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import TYPE_CHECKING, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import DocumentError, FetchError
from .fetch import PAGE_TYPES, Limits, Response, fetch
from .ingest import MAX_HTML_MB, clean_text, read_text
from .types import Document

if TYPE_CHECKING:
    from .library import AddResult
    from .pipeline import RAG

TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid)$", re.I)


def is_url(text: str) -> bool:
    """What `rag index add` treats as an address to fetch rather than a file: anything with "://"."""
    return isinstance(text, str) and "://" in text


def canonical_url(url: str) -> str:
    """One spelling per article, for finding duplicates: lower-case scheme and host, no default port,
    no fragment, no trailing slash, no tracking parameters (utm_*, fbclid, ...)."""
    try:
        p = urlsplit(url.strip())
        port = p.port
    except ValueError:
        return url.strip()
    host = (p.hostname or "").lower()
    scheme = p.scheme.lower()
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(p.query, keep_blank_values=True) if not TRACKING.match(k)])
    return urlunsplit((scheme, host, p.path.rstrip("/") or "/", query, ""))


def url_id(url: str) -> str:
    """A document id from an address: readable (host and path), unique (6 hex of the canonical URL's hash)."""
    canon = canonical_url(url)
    p = urlsplit(canon)
    host = re.sub(r"^www\.", "", p.hostname or "")
    path = re.sub(r"\.(html?|php|aspx?)$", "", p.path, flags=re.I)
    words = re.sub(r"[^a-z0-9]+", "-", f"{host} {path}".lower()).strip("-")
    words = words[:60].rsplit("-", 1)[0] if len(words) > 60 else words
    return f"{words or 'page'}-{hashlib.sha256(canon.encode()).hexdigest()[:6]}"


def same_site(a: str, b: str) -> bool:
    """Whether two addresses are on the same host, "www." aside: a page may name its canonical URL
    only on its own site (else a page could pass itself off as another site's article)."""
    host = lambda u: re.sub(r"^www\.", "", (urlsplit(u).hostname or "").lower())
    return bool(host(a)) and host(a) == host(b)


def page_document(response: Response, doc_id: str = "") -> Document:
    """The article in a fetched page. Its URL is the page's own canonical URL when it names one on its
    own site, else the address it was fetched from; `doc_id` defaults to url_id of that URL."""
    kind = ".txt" if response.content_type == "text/plain" else ".html"
    if kind == ".html" and len(response.body) > MAX_HTML_MB * 1024 * 1024:  # the limit for .html files too
        raise DocumentError(f"{clean_text(response.url, 120)}: {len(response.body) / 1e6:.1f} MB of HTML is over the "
                            f"{MAX_HTML_MB:g} MB limit for web pages")
    doc = read_text(response.text(), clean_text(response.url, 120), kind)
    url = doc.url if doc.url and same_site(doc.url, response.url) else response.url
    warnings = [w for w in doc.warnings if not w.startswith("url ")]  # a page's bad canonical URL is replaced
    return dataclasses.replace(doc, id=doc_id or url_id(url), url=url, source=response.url,
                               warnings=tuple(warnings))


def fetch_page(url: str, config, doc_id: str = "") -> Document:
    """Fetch one web page and read its article; FetchError or DocumentError with the reason."""
    response = fetch(url, Limits.from_config(config), PAGE_TYPES)
    return page_document(response, doc_id)


def add_pages(bot: "RAG", items: Sequence[str], progress: bool = False) -> list["AddResult"]:
    """`bot.add_documents` for a mix of file paths and web addresses; an address that cannot be
    fetched or read is skipped with the reason, and the rest are indexed. Results keep the order given."""
    from .library import AddResult

    read: list = []
    for item in items:
        if not is_url(item):
            read.append(item)
            continue
        try:
            read.append(fetch_page(item, bot.config))
        except (FetchError, DocumentError) as exc:
            read.append(AddResult(item, "skipped", reason=str(exc)))
    wanted = [x for x in read if not isinstance(x, AddResult)]
    added = iter(bot.add_documents(wanted, progress=progress) if wanted else [])
    return [x if isinstance(x, AddResult) else next(added) for x in read]


