"""Read articles from .md/.txt (optional YAML front matter), .html and .pdf into Documents.

    >>> doc = parse_markdown("---\\ntitle: T\\noutlet: O\\n---\\n\\nBody.", "x.md")
    >>> (doc.id, doc.title, doc.outlet, doc.text)
    ('x', 'T', 'O', 'Body.')
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from .errors import DocumentError, require
from .text import sha256
from .types import Document

SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)


def slug(name: str) -> str:
    """A stable document id from a file name: "My Article (1).md" -> "my-article-1"."""
    s = re.sub(r"[^a-z0-9]+", "-", Path(name).stem.lower()).strip("-")
    return s or "document"


def read_document(path: str | Path, max_mb: float = 20.0, doc_id: str | None = None) -> Document:
    """Read one file. Raises DocumentError with the reason when it cannot be used."""
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
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    if suffix == ".pdf":
        doc = parse_pdf(data, path.name)
    else:
        text = _decode(data, path.name)
        doc = parse_html(text, path.name) if suffix in (".html", ".htm") else parse_markdown(text, path.name)
    if len(doc.text.split()) < 3:
        raise DocumentError(f"{path.name}: no readable text (empty or almost empty)")
    return Document(**{**doc.__dict__, "source": str(path), "id": doc_id or doc.id})


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{name}: looks binary (NUL bytes), not a text article")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(f"{name}: not valid UTF-8 text")


def _make(name: str, text: str, meta: dict) -> Document:
    published = meta.get("published") or meta.get("date") or ""
    if isinstance(published, (dt.date, dt.datetime)):
        published = published.isoformat()[:10]
    return Document(
        id=slug(name),
        title=str(meta.get("title") or Path(name).stem.replace("-", " ").replace("_", " ")).strip(),
        outlet=str(meta.get("outlet") or meta.get("sitename") or meta.get("source") or "").strip(),
        published=str(published).strip(),
        url=str(meta.get("url") or "").strip(),
        text=text,
        sha256=sha256(text),
    )


def parse_markdown(text: str, name: str) -> Document:
    """Markdown or plain text; a leading `---` YAML block gives title/outlet/published/url."""
    meta: dict = {}
    m = _FRONT_MATTER.match(text)
    if m:
        import yaml

        try:
            loaded = yaml.safe_load(m.group(1))
        except yaml.YAMLError as exc:
            raise DocumentError(f"{name}: front matter is not valid YAML ({exc})") from None
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[m.end():]
    body = text.strip()
    return _make(name, body, meta)


def parse_html(html: str, name: str) -> Document:
    """Main text of a web page via trafilatura (boilerplate, menus and ads dropped)."""
    trafilatura = require("trafilatura")
    text = trafilatura.extract(html, include_comments=False, include_tables=False, favor_recall=True)
    meta = trafilatura.extract_metadata(html)
    info = {}
    if meta is not None:
        info = {"title": meta.title, "outlet": meta.sitename, "published": meta.date, "url": meta.url}
    if not text:
        raise DocumentError(f"{name}: no article text found in the HTML")
    return _make(name, text.strip(), info)


def parse_pdf(data: bytes, name: str) -> Document:
    import io

    pypdf = require("pypdf")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except Exception as exc:  # pypdf raises many types for broken files
        raise DocumentError(f"{name}: not a readable PDF ({exc})") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    # PDF text breaks lines mid-sentence; join them but keep paragraph breaks.
    text = re.sub(r"(?<![.!?:\n])\n(?!\n)", " ", text)
    return _make(name, text.strip(), {"title": info.get("/Title"), "outlet": info.get("/Author")})


def scan(folder: str | Path) -> list[Path]:
    """Supported files in a folder, sorted; README files describe folders and are skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DocumentError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.upper().startswith("README"))
