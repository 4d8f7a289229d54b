"""Fetching a URL, which is untrusted input: http(s) only, public addresses only, bounded in size and time.

    >>> check_url("file:///etc/passwd")
    Traceback (most recent call last):
    ...
    rag.errors.FetchRefused: 'file:///etc/passwd': only http and https addresses can be fetched
    >>> public("10.0.0.7"), public("169.254.169.254"), public("::ffff:127.0.0.1"), public("93.184.216.34")
    (False, False, False, True)

Every hop is checked: the host is resolved, every address it resolves to must be public (unless
`fetch_allow_private`), and the request goes to the address that was checked (the name is sent as
the Host header and TLS server name), so a DNS answer that changes between check and connect
(rebinding) cannot reach a private address. Redirects are followed here, each one checked the same
way, at most MAX_REDIRECTS. The body is streamed and the download stops at the size cap or the time
limit. Proxies from the environment are not used (they would defeat the address check).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .version import __version__
from .errors import FetchError, FetchRefused
from .ingest import clean_text, safe_url

USER_AGENT = f"rag-news/{__version__} (a local news Q&A; fetches feeds and the articles they link to)"
MAX_REDIRECTS = 5
RETRY_STATUS = (429, 502, 503, 504)  # worth another try after a pause; other errors are final
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
              "text/xml", "application/x-rss+xml", "application/x-atom+xml",
              "text/html", "text/plain")  # some servers label feeds so; a page is then told apart by parsing it
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 20.0  # to connect, and between bytes; the whole fetch (redirects included) gets 3x
    max_bytes: int = 5 * 1024 * 1024  # of one body; the download stops here
    allow_private: bool = False  # private, loopback, link-local addresses (a local test server)
    retries: int = 2  # more tries after a refused connection or a 429/502/503/504
    backoff_s: float = 1.0  # the pause before the first retry; doubled for each next one

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(timeout_s=config.fetch_timeout_s, max_bytes=int(config.fetch_max_mb * 1024 * 1024),
                   allow_private=config.fetch_allow_private)


@dataclass(frozen=True)
class Response:
    url: str  # where the body came from, after redirects
    status: int  # 200, or 304 (not modified since the etag / last-modified sent: no body)
    content_type: str  # "text/html": lower case, no parameters ("" when the server sent none)
    charset: str  # from the Content-Type header, or ""
    body: bytes
    etag: str = ""
    last_modified: str = ""

    def text(self) -> str:
        """The body as text: the header's charset, else a <meta charset>, else UTF-8, else cp1252."""
        import re

        names = [self.charset]
        m = re.search(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_\-]+)""", self.body[:4096], re.I)
        names += [m.group(1).decode("ascii") if m else "", "utf-8"]
        for name in filter(None, names):
            try:
                return self.body.decode(name)
            except (LookupError, UnicodeDecodeError):
                continue
        return self.body.decode("cp1252", errors="replace")


def shown(url: str) -> str:
    """A URL as it may appear in a message: one line, at most 120 characters."""
    return repr(clean_text(url, 120))


def check_url(url) -> str:
    """The URL, stripped, when it is an absolute http(s) address; FetchRefused otherwise."""
    if isinstance(url, str) and urlsplit(url.strip()).scheme.lower() not in ("http", "https"):
        raise FetchRefused(f"{shown(url)}: only http and https addresses can be fetched")
    good, why = safe_url(url)
    if not good:
        raise FetchRefused(f"{shown(str(url))}: {why.split(' dropped: ')[-1] or 'no address given'}")
    return good


def public(address: str) -> bool:
    """True for an address on the public internet; False for private, loopback, link-local, shared,
    reserved, multicast and unspecified ones (an IPv4 address inside IPv6 is judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to; FetchRefused when any address of `host` is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{shown(host)}: no such host ({exc}); check the address") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise FetchError(f"{shown(host)}: no address found; check the address")
    if not allow_private:
        for address in addresses:
            if not public(address):
                raise FetchRefused(f"{shown(host)} is at {address}, a private, loopback or link-local address: "
                                   f"refused. To fetch from your own network (a local test server), set "
                                   f"fetch_allow_private = true")
    return addresses[0]


def fetch(url: str, limits: Limits, accept: tuple[str, ...], *, etag: str = "", last_modified: str = "",
          verify=True) -> Response:
    """GET `url` within `limits`: Response(status=200, body) or, when `etag`/`last_modified` say the
    copy held is current, Response(status=304, body=b""). FetchError (FetchRefused for a policy
    refusal) for everything else, with the reason and what to do. `verify` is passed to httpx
    (True, or an ssl.SSLContext with the CAs to trust)."""
    import httpx

    start = check_url(url)
    deadline = time.monotonic() + 3 * limits.timeout_s
    headers = {"User-Agent": USER_AGENT, "Accept": ", ".join(accept) + ", */*;q=0.1"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    visited = [start]
    # no keep-alive: a connection verified for one host name is never reused for another at the same address
    with httpx.Client(verify=verify, trust_env=False, follow_redirects=False,
                      limits=httpx.Limits(max_keepalive_connections=0)) as client:
        current = start
        while True:
            response = _get(client, current, headers, limits, accept, deadline)
            if not isinstance(response, str):
                return response
            target = urljoin(current, response)
            if target in visited:
                chain = " -> ".join(shown(u) for u in visited[visited.index(target):] + [target])
                raise FetchError(f"{shown(url)} redirects in a loop ({chain}); it cannot be fetched. "
                                 f"Tell the site's owner, or use the article's final address")
            if len(visited) > MAX_REDIRECTS:
                raise FetchError(f"{shown(url)} redirects more than {MAX_REDIRECTS} times; it cannot be fetched. "
                                 f"Use the article's final address")
            visited.append(check_url(target))
            current = target


def _get(client, url: str, headers: dict, limits: Limits, accept: tuple[str, ...], deadline: float):
    """One hop: a Response, or the Location (text) of a redirect."""
    import httpx

    parts = httpx.URL(url)
    address = resolve(parts.host, parts.port or (443 if parts.scheme == "https" else 80), limits.allow_private)
    pinned = parts.copy_with(host=address)
    hop = {**headers, "Host": parts.netloc.decode("ascii")}
    extensions = {"sni_hostname": parts.host} if parts.scheme == "https" else {}
    timeout = httpx.Timeout(limits.timeout_s)
    for attempt in range(limits.retries + 1):
        pause = limits.backoff_s * 2 ** attempt
        try:
            with client.stream("GET", pinned, headers=hop, extensions=extensions, timeout=timeout) as r:
                if r.status_code in RETRY_STATUS and attempt < limits.retries:
                    pause = max(pause, _retry_after(r.headers.get("retry-after")))
                    if time.monotonic() + pause < deadline:
                        time.sleep(pause)
                        continue
                return _answer(r, url, limits, accept, deadline)
        except httpx.TimeoutException:
            raise FetchError(f"{shown(url)}: no answer within {limits.timeout_s:g} s (the server is slow or down). "
                             f"Try again later, or raise fetch_timeout_s") from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if attempt >= limits.retries or time.monotonic() + pause >= deadline:
                raise FetchError(f"{shown(url)}: cannot connect ({clean_text(exc, 200) or type(exc).__name__}). "
                                 f"Check the address, or try again later") from None
            time.sleep(pause)
        except httpx.HTTPError as exc:  # a malformed answer, an invalid header, a TLS failure
            raise FetchError(f"{shown(url)}: the fetch failed ({clean_text(exc, 200) or type(exc).__name__})") from None
    raise AssertionError("unreachable")


def _retry_after(value) -> float:
    try:
        return min(float(value), 30.0)
    except (TypeError, ValueError):
        return 0.0


def _answer(r, url: str, limits: Limits, accept: tuple[str, ...], deadline: float):
    if r.status_code in (301, 302, 303, 307, 308):
        location = r.headers.get("location", "").strip()
        if not location:
            raise FetchError(f"{shown(url)}: the server redirects ({r.status_code}) but says not where to")
        return location
    etag, modified = r.headers.get("etag", ""), r.headers.get("last-modified", "")
    if r.status_code == 304:
        return Response(url, 304, "", "", b"", etag, modified)
    if r.status_code != 200:
        hint = {404: "check the address", 410: "it was removed", 401: "it needs a login", 403: "access is denied",
                429: "too many requests: try again later"}.get(r.status_code, "try again later")
        raise FetchError(f"{shown(url)}: the server answered {r.status_code} {clean_text(r.reason_phrase, 60)} ({hint})")
    kind, _, params = r.headers.get("content-type", "").partition(";")
    kind = kind.strip().lower()
    if kind and kind not in accept:
        raise FetchError(f"{shown(url)} is {clean_text(kind, 60)}, not one of {', '.join(accept)}")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    cap = limits.max_bytes
    too_big = f"{shown(url)} is over the {cap / 1024 / 1024:g} MB limit; raise fetch_max_mb to fetch it"
    try:
        if int(r.headers.get("content-length", "0")) > cap:
            raise FetchError(too_big)
    except ValueError:
        pass
    body = bytearray()
    for piece in r.iter_bytes():  # decompressed: a small gzip body that inflates hugely stops at the cap too
        body += piece
        if len(body) > cap:
            raise FetchError(too_big)
        if time.monotonic() > deadline:
            raise FetchError(f"{shown(url)}: the download took longer than {3 * limits.timeout_s:g} s and was "
                             f"stopped. Try again later, or raise fetch_timeout_s")
    return Response(url, 200, kind, charset, bytes(body), etag, modified)
