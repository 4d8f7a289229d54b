"""Read articles from .md/.txt (optional YAML front matter), .html and .pdf into Documents.

    >>> doc = parse_markdown("---\\ntitle: T\\noutlet: O\\n---\\n\\nBody.", "x.md")
    >>> (doc.id, doc.title, doc.outlet, doc.text)
    ('x', 'T', 'O', 'Body.')

Files are untrusted input. Only http(s) links survive as `Document.url` (anything else is dropped
and the reason recorded in `Document.warnings`); metadata loses control characters; hidden HTML
(comments, scripts, `hidden`/`display:none`/`aria-hidden` elements, alt text) never reaches the
text; and every parse runs under size, page and wall-clock limits, failing with a DocumentError.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import unicodedata
from pathlib import Path
from urllib.parse import urlsplit

from .errors import DocumentError, require
from .text import sha256
from .types import Document

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)

# --- limits: a file built to stall a parser fails with a DocumentError instead of hanging an upload ---
PARSE_SECONDS = 60.0  # wall-clock limit for parsing one file (a 20 MB text file reads in under 1 s)
MAX_PDF_PAGES = 2000  # pages read from one PDF
MAX_HTML_MB = 5.0  # HTML larger than this is refused before parsing (pages are rarely over 1 MB)
MAX_FRONT_MATTER = 64 * 1024  # characters of YAML front matter
META_CHARS = 300  # title, outlet and date are cut to this length

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # Unicode Cc, less tab, newline, CR
# Bidirectional embedding/override/isolate marks reorder displayed text; U+FEFF is an invisible BOM.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\ufeff]")
_HIDDEN_TAGS = ("script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "canvas")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0*(\.0*)?\s*(;|!|$)"
                           r"|font-size\s*:\s*0+(\.0*)?\s*(px|em|rem|pt|%)?\s*(;|!|$)", re.I)
_HIDDEN_CLASSES = {"hidden", "d-none", "sr-only", "visually-hidden", "invisible", "screen-reader-text"}


def slug(name: str) -> str:
    """A stable document id from a file name: "My Article (1).md" -> "my-article-1"."""
    s = re.sub(r"[^a-z0-9]+", "-", Path(name).stem.lower()).strip("-")
    return s or "document"


def read_document(path: str | Path, max_mb: float = 20.0, doc_id: str | None = None, *,
                  max_pages: int = MAX_PDF_PAGES, timeout_s: float = PARSE_SECONDS) -> Document:
    """Read one file. Raises DocumentError with the reason when it cannot be used.

    Problems that do not stop the file from being indexed (a dropped `javascript:` URL, say) are
    listed in the Document's `warnings`.
    """
    path = Path(path)
    if not path.is_file():
        raise DocumentError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(f"{path.name}: unsupported file type '{suffix or '(none)'}'; "
                            f"use one of {', '.join(SUPPORTED)}")
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        raise DocumentError(f"{path.name}: {size / 1e6:.1f} MB is over the {max_mb:g} MB limit")
    if suffix in (".html", ".htm") and size > MAX_HTML_MB * 1024 * 1024:
        raise DocumentError(f"{path.name}: {size / 1e6:.1f} MB of HTML is over the {MAX_HTML_MB:g} MB limit "
                            f"for web pages; save the article's text as .txt instead")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    deadline = time.monotonic() + timeout_s
    if suffix == ".pdf":
        doc = _within(timeout_s, path.name, lambda: parse_pdf(data, path.name, max_pages, deadline))
        if len(doc.text.split()) < 3:
            raise DocumentError(f"{path.name}: no readable text (empty or almost empty)")
    else:
        doc = read_text(_decode(data, path.name), path.name, suffix, timeout_s=timeout_s)
    return Document(**{**doc.__dict__, "source": str(path), "id": doc_id or doc.id})


def read_text(text: str, name: str, kind: str = ".html", *, timeout_s: float = PARSE_SECONDS) -> Document:
    """Parse text that is not a file on disk (a fetched web page: kind ".html"; plain text: ".txt")
    under the same time limit as `read_document`; DocumentError when it has no readable text."""
    parse = parse_html if kind in (".html", ".htm") else parse_markdown
    doc = _within(timeout_s, name, lambda: parse(text, name))
    if len(doc.text.split()) < 3:
        raise DocumentError(f"{name}: no readable text (empty or almost empty)")
    return doc


def _within(seconds: float, name: str, parse):
    """Run `parse()` in a worker thread and wait at most `seconds` for it.

    A parser stuck on a hostile file cannot be killed from Python; it is abandoned (a PDF stops at
    its next page, as parse_pdf checks the same deadline) and the caller gets a DocumentError now.
    """
    box: dict = {}

    def work():
        try:
            box["doc"] = parse()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"parse {name}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise DocumentError(f"{name}: parsing took longer than {seconds:g} s, so it was stopped; the file is "
                            f"malformed or built to stall a parser. Save the article as .txt and add that")
    error = box.get("error")
    if isinstance(error, RecursionError):
        raise DocumentError(f"{name}: too deeply nested to read; save the article as .txt and add that") from None
    if isinstance(error, MemoryError):
        raise DocumentError(f"{name}: too large to parse in memory; save the article as .txt") from None
    if error is not None:
        raise error
    return box["doc"]


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{name}: looks binary (NUL bytes), not a text article")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(f"{name}: not valid UTF-8 text")


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


def _make(name: str, text: str, meta: dict) -> Document:
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


def parse_markdown(text: str, name: str) -> Document:
    """Markdown or plain text; a leading `---` YAML block gives title/outlet/published/url."""
    meta: dict = {}
    m = _FRONT_MATTER.match(text)
    if m and m.end() > MAX_FRONT_MATTER:
        raise DocumentError(f"{name}: the front matter is over {MAX_FRONT_MATTER // 1024} KB; keep only "
                            f"title, outlet, published and url there")
    if m:
        import yaml

        try:
            loaded = yaml.safe_load(m.group(1))
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            # ValueError and friends: a date such as 2025-13-45 fails inside the YAML loader
            raise DocumentError(f"{name}: front matter is not valid YAML ({clean_text(exc, 200)}); "
                                f"fix it or remove the block between the --- lines") from None
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[m.end():]
    body = text.strip()
    return _make(name, body, meta)


def parse_html(html: str, name: str) -> Document:
    """Main text of a web page via trafilatura (boilerplate, menus and ads dropped), read only from
    what a visitor sees: comments, scripts, templates, hidden elements and alt text are removed first."""
    trafilatura = require("trafilatura")
    tree = visible_tree(html)
    if tree is None:
        raise DocumentError(f"{name}: no article text found in the HTML")
    # the date only from the page's markup (article:published_time, JSON-LD datePublished, <time>, the
    # URL), the original one first; never guessed from the text, never the day it was read
    found = trafilatura.bare_extraction(tree, include_comments=False, include_tables=False, include_images=False,
                                        favor_recall=True, with_metadata=True,
                                        date_extraction_params={"original_date": True, "extensive_search": False})
    text = getattr(found, "text", None) if found is not None else None
    if not text:
        raise DocumentError(f"{name}: no article text found in the HTML")
    info = {"title": found.title, "outlet": found.sitename, "published": found.date, "url": found.url,
            "author": found.author}
    return _make(name, text.strip(), info)


def visible_tree(html: str):
    """The page parsed by lxml with everything a visitor does not see removed, or None when empty.

    >>> t = visible_tree('<p>Shown<!-- hidden --><span hidden>no</span> <img alt="nor this">here</p>')
    >>> " ".join(t.text_content().split())
    'Shown here'
    """
    import lxml.html
    from lxml import etree

    html = re.sub(r"^\s*<\?xml[^>]*>", "", html)  # lxml refuses an encoding declaration in a str
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):  # "Document is empty"
        return None
    doomed = tree.xpath("//comment() | //processing-instruction()"
                        + "".join(f" | //{t}" for t in _HIDDEN_TAGS)
                        + " | //*[@hidden] | //*[@aria-hidden='true'] | //input[@type='hidden']")
    for el in tree.xpath("//*[@style or @class]"):
        if _HIDDEN_STYLE.search(el.get("style") or "") or _HIDDEN_CLASSES & set((el.get("class") or "").split()):
            doomed.append(el)
    for el in doomed:
        if el.tag == "script" and (el.get("type") or "").lower() == "application/ld+json":
            continue  # structured metadata (title, date, publisher); never text
        _drop(el)
    for el in tree.xpath("//*[@alt or @title]"):
        el.attrib.pop("alt", None)
        el.attrib.pop("title", None)
    return tree


def _drop(el) -> None:
    """Remove an element but keep the text that follows it (its `tail`)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def parse_pdf(data: bytes, name: str, max_pages: int = MAX_PDF_PAGES, deadline: float | None = None) -> Document:
    import io

    pypdf = require("pypdf")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):  # many "protected" PDFs open with no password
            raise DocumentError(f"{name}: the PDF is password-protected; save an unprotected copy and add that")
        count = len(reader.pages)
        if count > max_pages:
            raise DocumentError(f"{name}: {count:,} pages is over the {max_pages:,}-page limit; "
                                f"split the PDF or add the pages you need")
        pages = []
        for page in reader.pages:
            if deadline is not None and time.monotonic() > deadline:
                raise DocumentError(f"{name}: reading its {count:,} pages took longer than the time limit; "
                                    f"split the PDF or save the article as .txt")
            pages.append(page.extract_text() or "")
        info = reader.metadata or {}
        meta = {"title": info.get("/Title"), "outlet": info.get("/Author")}
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        if type(exc).__name__ in ("FileNotDecryptedError", "DependencyError"):
            raise DocumentError(f"{name}: the PDF is encrypted and cannot be opened ({clean_text(exc, 200)}); "
                                f"save an unprotected copy and add that") from None
        raise DocumentError(f"{name}: not a readable PDF ({clean_text(exc, 200)})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    # PDF text breaks lines mid-sentence; join them but keep paragraph breaks.
    text = re.sub(r"(?<![.!?:\n])\n(?!\n)", " ", text)
    return _make(name, text.strip(), meta)


def scan(folder: str | Path) -> list[Path]:
    """Supported files in a folder, sorted; README files describe folders and are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DocumentError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.upper().startswith("README"))
