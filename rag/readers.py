"""The readers, one per kind of file: Markdown or plain text (YAML front matter), HTML and PDF.

    >>> doc = parse_markdown("---\\ntitle: T\\noutlet: O\\n---\\n\\nBody.", "x.md")
    >>> (doc.id, doc.title, doc.outlet, doc.text)
    ('x', 'T', 'O', 'Body.')

Each turns text (or a PDF's bytes) into a `Document` (rag/sanitize.py cleans the metadata); reading
a file, and the size and time limits around a parse, are rag/ingest.py's. Hidden HTML (comments,
scripts, `hidden`/`display:none`/`aria-hidden` elements, alt text) never reaches the text.
"""

from __future__ import annotations

import re
import time

from .errors import DocumentError, require
from .sanitize import clean_text, make_document
from .types import Document

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)
MAX_PDF_PAGES = 2000  # pages read from one PDF
MAX_FRONT_MATTER = 64 * 1024  # characters of YAML front matter
_HIDDEN_TAGS = ("script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "canvas")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0*(\.0*)?\s*(;|!|$)"
                           r"|font-size\s*:\s*0+(\.0*)?\s*(px|em|rem|pt|%)?\s*(;|!|$)", re.I)
_HIDDEN_CLASSES = {"hidden", "d-none", "sr-only", "visually-hidden", "invisible", "screen-reader-text"}


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
    return make_document(name, body, meta)


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
    return make_document(name, text.strip(), info)


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
    return make_document(name, text.strip(), meta)
