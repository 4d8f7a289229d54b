"""Read articles from .md/.txt (optional YAML front matter), .html and .pdf into Documents.

    >>> doc = read_text("The bridge reopened on Monday.", "bridge-news.txt", ".txt")
    >>> (doc.id, doc.title, doc.text)
    ('bridge-news', 'bridge news', 'The bridge reopened on Monday.')

Files are untrusted input. Only http(s) links survive as `Document.url` (anything else is dropped
and the reason recorded in `Document.warnings`); metadata loses control characters (rag/sanitize.py);
hidden HTML (comments, scripts, `hidden`/`display:none`/`aria-hidden` elements, alt text) never
reaches the text (rag/readers.py, the reader of each kind of file); and every parse runs under size,
page and wall-clock limits, failing with a DocumentError (here).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .errors import DocumentError
from .readers import MAX_PDF_PAGES, parse_html, parse_markdown, parse_pdf, visible_tree
from .sanitize import META_CHARS, clean_text, safe_url, slug
from .types import Document

__all__ = ["MAX_HTML_MB", "MAX_PDF_PAGES", "META_CHARS", "PARSE_SECONDS", "SUPPORTED", "clean_text", "parse_html",
           "parse_markdown", "parse_pdf", "read_document", "read_text", "safe_url", "scan", "slug", "visible_tree"]

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")

# --- limits: a file built to stall a parser fails with a DocumentError instead of hanging an upload ---
PARSE_SECONDS = 60.0  # wall-clock limit for parsing one file (a 20 MB text file reads in under 1 s)
MAX_HTML_MB = 5.0  # HTML larger than this is refused before parsing (pages are rarely over 1 MB)


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


def scan(folder: str | Path) -> list[Path]:
    """Supported files in a folder, sorted; README files describe folders and are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DocumentError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.upper().startswith("README"))
