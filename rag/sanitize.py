"""Untrusted text made safe to show and to store: one line of display text, http(s) links only, and
the `Document` built from an article's body and its metadata.

    >>> doc = make_document("My Article.md", " Body. ", {"url": "javascript:alert(1)", "date": 2025})
    >>> (doc.id, doc.title, doc.published, doc.url, doc.text)
    ('my-article', 'My Article', '2025', '', ' Body. ')
    >>> doc.warnings
    ("url 'javascript:alert(1)' dropped: only http and https links are kept",)

Metadata loses control and bidi-override characters and is cut to `META_CHARS`; only an absolute
http(s) URL with a host survives as `Document.url` (anything else is dropped, and the reason
recorded in `Document.warnings`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from .text import sha256
from .types import Document

META_CHARS = 300  # title, outlet and date are cut to this length

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # Unicode Cc, less tab, newline, CR
# Bidirectional embedding/override/isolate marks reorder displayed text; U+FEFF is an invisible BOM.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\ufeff]")


def slug(name: str) -> str:
    """A stable document id from a file name: "My Article (1).md" -> "my-article-1"."""
    s = re.sub(r"[^a-z0-9]+", "-", Path(name).stem.lower()).strip("-")
    return s or "document"


def safe_url(raw) -> tuple[str, str]:
    """(url, "") for an absolute http(s) URL with a host; ("", why) for anything else.

    >>> safe_url(" https://example.org/a?b=1 ")
    ('https://example.org/a?b=1', '')
    >>> safe_url("javascript:alert(1)")
    ('', "url 'javascript:alert(1)' dropped: only http and https links are kept")
    >>> safe_url("//example.org/x")[0], safe_url("https:///path")[0], safe_url("")
    ('', '', ('', ''))
    """
    if raw is None or raw == "":
        return "", ""
    if not isinstance(raw, str):
        return "", f"url {raw!r} dropped: it is not text"
    url = raw.strip()
    shown = clean_text(url, 80) or repr(url)
    if not url:
        return "", ""
    why = "only http and https links are kept"
    if any(unicodedata.category(c)[0] in "CZ" for c in url) or any(c in url for c in "\"'<>`\\"):
        return "", f"url {shown!r} dropped: it contains spaces, control or quote characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return "", f"url {shown!r} dropped: it is not a well-formed URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "", f"url {shown!r} dropped: {why}"
    if not host:
        return "", f"url {shown!r} dropped: it names no host"
    return url, ""


def clean_text(value, limit: int = META_CHARS) -> str:
    """One line of display text: control and bidi-override characters removed, whitespace collapsed,
    cut to `limit` characters.

    >>> clean_text("Mayor\\u202e resigns\\x00\\n today ")
    'Mayor resigns today'
    """
    value = " ".join(_CONTROL.sub(" ", _BIDI.sub("", str(value))).split())  # split() takes \t\n\r, U+2028
    return value if len(value) <= limit else value[:limit - 1].rstrip() + "…"


def _clean_body(text: str) -> str:
    """The article text without control characters (tab, newline and carriage return stay)."""
    return _CONTROL.sub(" ", _BIDI.sub("", text))


def _meta_value(meta: dict, keys: tuple[str, ...], warnings: list[str]) -> str:
    """The first present metadata value among `keys`, as clean text; a list or table is ignored."""
    for key in keys:
        value = meta.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()[:10]
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return clean_text(value)
        warnings.append(f"'{key}' in the metadata is a {type(value).__name__}, not text; ignored")
    return ""


def make_document(name: str, text: str, meta: dict) -> Document:
    warnings: list[str] = []
    url, why = safe_url(meta.get("url") or None)
    if why:
        warnings.append(why)
    text = _clean_body(text)
    return Document(
        id=slug(name),
        title=_meta_value(meta, ("title",), warnings) or clean_text(Path(name).stem.replace("-", " ")
                                                                    .replace("_", " ")),
        outlet=_meta_value(meta, ("outlet", "sitename", "source"), warnings),
        published=_meta_value(meta, ("published", "date"), warnings),
        url=url,
        text=text,
        sha256=sha256(text),
        warnings=tuple(warnings),
        author=_meta_value(meta, ("author", "byline"), warnings),
    )
