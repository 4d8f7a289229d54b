"""Documents coming in: reading files (or taking Documents already read) and merging them into the
indexed set, each with a result that says what happened.

    >>> from rag.types import Document
    >>> d = Document("a", "A", "", "", "", "one two three", sha256="x")
    >>> current, results, changed = merge({}, [("a.md", d), ("b.md", d)])
    >>> [(r.status, r.doc_id) for r in results], changed
    ([('added', 'a'), ('unchanged', 'a')], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import DocumentError
from .ingest import read_document
from .types import Document


@dataclass(frozen=True)
class AddResult:
    path: str
    status: str  # added | replaced | unchanged | skipped
    doc_id: str = ""
    reason: str = ""  # why it was skipped, or what was dropped on the way in (an unsafe URL)


def read_all(paths: Sequence[str | Path | Document], max_mb: float) -> list[tuple]:
    """(path, Document or the DocumentError saying why it was not read) for each input: files are
    read; a Document already read (a fetched page, a feed's article) is checked, and its `source`,
    else `url`, is its path."""
    read = []
    for path in paths:
        if isinstance(path, Document):
            empty = not path.id or len(path.text.split()) < 3
            read.append((path.source or path.url or path.id,
                         DocumentError(f"{path.id or '(no id)'}: no id or no readable text") if empty else path))
            continue
        try:
            read.append((path, read_document(path, max_mb=max_mb)))
        except DocumentError as exc:
            read.append((path, exc))
    return read


def merge(current: dict[str, Document], read: list[tuple]) -> tuple[dict[str, Document], list[AddResult], bool]:
    """The indexed documents with the read ones merged in: added, replaced (same id, new text),
    unchanged (the same text is indexed, maybe under another id) or skipped (why)."""
    by_hash = {d.sha256: d.id for d in current.values()}
    results, changed = [], False
    for path, doc in read:
        if isinstance(doc, DocumentError):
            results.append(AddResult(str(path), "skipped", reason=str(doc)))
            continue
        if doc.sha256 in by_hash:
            same = by_hash[doc.sha256]
            results.append(AddResult(str(path), "unchanged", same,
                                     "already indexed" + (f" as '{same}'" if same != doc.id else "")))
            continue
        status = "replaced" if doc.id in current else "added"
        if status == "replaced":
            by_hash.pop(current[doc.id].sha256, None)
        current[doc.id] = doc
        by_hash[doc.sha256] = doc.id
        changed = True
        results.append(AddResult(str(path), status, doc.id, reason="; ".join(doc.warnings)))
    return current, results, changed
