"""Fetching is untrusted input (rag/fetch.py), against a real HTTP server on 127.0.0.1 (tests/local_site.py).

The server is on a loopback address, which the default refuses: so most tests allow private
addresses, and the refusal tests use the default."""

import datetime as dt
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.errors import FetchError, FetchRefused
from rag.fetch import FEED_TYPES, PAGE_TYPES, USER_AGENT, Limits, check_url, fetch, public

from .local_site import Route, article, site  # noqa: F401  (site: the fixture)

OPEN = Limits(timeout_s=5, allow_private=True, backoff_s=0.05)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/f", "javascript:alert(1)", "gopher://x",
                                 "//example.org/x", "http://", "http://exa mple.org/", ""])
def test_only_http_and_https_addresses_are_fetched(url):
    with pytest.raises(FetchRefused):
        check_url(url)


@pytest.mark.parametrize("address, ok", [
    ("127.0.0.1", False), ("127.8.9.10", False), ("::1", False), ("10.1.2.3", False), ("172.16.0.1", False),
    ("192.168.1.1", False), ("169.254.169.254", False), ("fe80::1", False), ("fc00::1", False),
    ("100.64.0.1", False), ("0.0.0.0", False), ("::", False), ("224.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("::ffff:127.0.0.1", False), ("93.184.216.34", True), ("8.8.8.8", True), ("2606:4700::1111", True),
])
def test_public_addresses_only(address, ok):
    assert public(address) is ok


def test_the_default_refuses_a_loopback_server_before_sending_anything(site):
    url = site.page("/a.html", article("Budget", "The council approved the harbour budget on Monday."))
    with pytest.raises(FetchRefused, match="fetch_allow_private = true"):
        fetch(url, Limits(), PAGE_TYPES)
    with pytest.raises(FetchRefused, match="private, loopback or link-local"):  # a name, checked after DNS
        fetch(url.replace("127.0.0.1", "localhost"), Limits(), PAGE_TYPES)
    with pytest.raises(FetchRefused):  # 127.0.0.1 spelled as one number: resolved, then refused
        fetch(f"http://2130706433:{site.port}/a.html", Limits(), PAGE_TYPES)
    assert site.requests == []


def test_a_redirect_to_a_private_address_is_refused_by_default(site):
    """The site redirects to the cloud metadata address and to itself: refused, nothing fetched."""
    start = site.redirect("/feed.xml", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchRefused, match="fetch_allow_private"):
        fetch(start, Limits(), FEED_TYPES)
    assert site.requests == []


def test_every_redirect_is_checked_again(site):
    """With private addresses allowed, a redirect still may not leave http(s)."""
    start = site.redirect("/go", "file:///etc/passwd")
    with pytest.raises(FetchRefused, match="only http and https"):
        fetch(start, OPEN, PAGE_TYPES)
    assert site.hits("/go") == 1


def test_redirects_are_followed_to_the_page(site):
    site.page("/final.html", "<html><body><p>Arrived.</p></body></html>")
    site.redirect("/b", "/final.html", 301)
    start = site.redirect("/a", site.url("/b"), 302)
    r = fetch(start, OPEN, PAGE_TYPES)
    assert (r.status, r.url, r.content_type) == (200, site.url("/final.html"), "text/html")
    assert b"Arrived" in r.body


def test_a_redirect_loop_is_a_clear_error_at_once(site):
    site.redirect("/a", "/b")
    site.redirect("/b", "/a")
    t = time.monotonic()
    with pytest.raises(FetchError, match="redirects in a loop"):
        fetch(site.url("/a"), OPEN, FEED_TYPES)
    assert time.monotonic() - t < 3 and site.hits("/a") == 1 and site.hits("/b") == 1


def test_too_many_redirects_stop_at_the_cap(site):
    for i in range(10):
        site.redirect(f"/r{i}", f"/r{i + 1}")
    with pytest.raises(FetchError, match="redirects more than 5 times"):
        fetch(site.url("/r0"), OPEN, PAGE_TYPES)
    assert site.hits("/r6") == 0


def test_a_slow_server_times_out_with_the_setting_to_change(site):
    url = site.page("/slow.xml", b"<rss/>", delay=3.0)
    t = time.monotonic()
    with pytest.raises(FetchError, match=r"no answer within 0.5 s.*fetch_timeout_s"):
        fetch(url, Limits(timeout_s=0.5, allow_private=True), FEED_TYPES)
    assert time.monotonic() - t < 2.5  # a timeout is not retried


def test_a_body_over_the_cap_is_refused_whether_or_not_its_length_is_announced(site):
    big = b"<html><head><title>" + b"x" * (10 * 1024 * 1024) + b"</title></head></html>"
    site.page("/announced.html", big)
    site.routes["/unannounced.html"] = Route(big, length=False)
    for path in ("/announced.html", "/unannounced.html"):
        t = time.monotonic()
        with pytest.raises(FetchError, match="over the 5 MB limit; raise fetch_max_mb"):
            fetch(site.url(path), OPEN, PAGE_TYPES)
        assert time.monotonic() - t < 5


def test_the_content_type_is_checked(site):
    url = site.page("/picture", b"\x89PNG....", content_type="image/png")
    with pytest.raises(FetchError, match="is image/png, not one of text/html"):
        fetch(url, OPEN, PAGE_TYPES)


def test_error_statuses_say_what_happened(site):
    with pytest.raises(FetchError, match="answered 404.*check the address"):
        fetch(site.url("/missing"), OPEN, PAGE_TYPES)


def test_a_busy_server_is_retried_with_backoff(site):
    """Two 503s, then the page: three requests, with pauses of 0.05 s and 0.1 s between them."""
    url = site.page("/busy.html", "<p>At last.</p>", fail_first=2)
    t = time.monotonic()
    r = fetch(url, OPEN, PAGE_TYPES)
    assert r.status == 200 and site.hits("/busy.html") == 3 and time.monotonic() - t >= 0.15


def test_conditional_get_and_the_user_agent(site):
    url = site.page("/feed.xml", b"<rss version='2.0'><channel/></rss>", content_type="application/rss+xml",
                    etag='"v7"', headers={"Last-Modified": "Wed, 26 Nov 2025 10:00:00 GMT"})
    first = fetch(url, OPEN, FEED_TYPES)
    assert (first.status, first.etag, first.last_modified) == (200, '"v7"', "Wed, 26 Nov 2025 10:00:00 GMT")
    again = fetch(url, OPEN, FEED_TYPES, etag=first.etag, last_modified=first.last_modified)
    assert again.status == 304 and again.body == b""
    sent = site.requests[-1][1]
    assert sent["if-none-match"] == '"v7"' and sent["if-modified-since"] == first.last_modified
    assert sent["user-agent"] == USER_AGENT and USER_AGENT.startswith("rag-news/")


def test_text_is_decoded_by_the_declared_charset(site):
    url = site.page("/latin.html", "<p>Café in Zürich</p>".encode("latin-1"), content_type="text/html; charset=iso-8859-1")
    assert "Café in Zürich" in fetch(url, OPEN, PAGE_TYPES).text()


# --- https: the address is pinned, yet the certificate is checked against the host name -----------

@pytest.fixture
def https_site(tmp_path):
    """An https server on 127.0.0.1 with a self-signed certificate for "localhost" only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"<p>Served over TLS to {self.headers.get('Host')}.</p>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trust = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    yield server.server_address[1], trust
    server.shutdown()
    server.server_close()


def test_https_connects_to_the_checked_address_and_verifies_the_host_name(https_site):
    port, trust = https_site
    r = fetch(f"https://localhost:{port}/a", OPEN, PAGE_TYPES, verify=trust)
    assert r.status == 200 and f"to localhost:{port}" in r.text()
    with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED|certificate|hostname"):
        fetch(f"https://127.0.0.1:{port}/a", OPEN, PAGE_TYPES, verify=trust)  # the certificate is not for this name
