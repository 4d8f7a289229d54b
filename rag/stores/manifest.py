"""The index's manifest: what it records about how the index was built, and the refusals it backs.

A manifest names its format version, the embedder (name, sha256, dimension), the chunking, the
corpus (sha256 of each file and of them all), the store's index type and the counts. The loader
refuses a manifest of another format, and `check_compatible` an index built with another embedder,
other chunking or from changed articles; each refusal names the command that rebuilds the index.

    >>> check_compatible({"embedder": {"name": "minilm"}}, {"name": "mpnet"}, 90, 1, None)
    Traceback (most recent call last):
    ...
    rag.errors.IndexStale: the index was built with embedder {'name': 'minilm', 'sha256': None}, but the config uses {'name': 'mpnet', 'sha256': None}. Rebuild with: rag index build
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import IndexCorrupt, IndexMissing, IndexStale
from ..ingest import scan
from ..text import sha256
from ..version import __version__

if TYPE_CHECKING:
    from ..types import Document

FORMAT_VERSION = 2  # 2: files in a version folder named by the manifest's `data`; 1: beside it
READABLE_FORMATS = (1, 2)
SPLITTER = "sentencex/1"  # bump when rag.text.sentence_spans changes its output
REBUILD = "rag index build"


def corpus_fingerprint(folder: Path) -> dict:
    """sha256 of each supported file in the corpus folder, and of them all together."""
    files = {p.name: sha256(p.read_bytes()) for p in scan(folder)}
    return {"dir": str(folder), "files": files, "sha256": sha256(json.dumps(files, sort_keys=True))}


def new_manifest(identity: dict, dim: int, chunking: tuple[int, int], index_type: str, corpus: dict | None,
                 documents: list[Document], counts: dict) -> dict:
    """The manifest of an index built now: `chunking` is (chunk_words, chunk_overlap), `index_type`
    the one the store uses, `counts` the documents, chunks and sentences."""
    chunk_words, chunk_overlap = chunking
    return {
        "format": "rag-news-index",
        "format_version": FORMAT_VERSION,
        "rag_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "embedder": {**identity, "dim": dim},
        "chunking": {"chunk_words": chunk_words, "chunk_overlap": chunk_overlap, "splitter": SPLITTER},
        "index_type": index_type,
        "lexical": {"library": "bm25s", "tokens": "words, digit groups joined, stop words dropped, Snowball stems"},
        "corpus": corpus or {},
        "documents_sha256": sha256(json.dumps(sorted(d.sha256 for d in documents))),
        "counts": counts,
    }


def read_manifest(folder: Path) -> dict:
    """The manifest.json of an index folder; IndexMissing, IndexCorrupt or IndexStale when it cannot be used."""
    manifest_file = folder / "manifest.json"
    if not manifest_file.exists():
        raise IndexMissing(f"no index at {folder}. Build it with: {REBUILD}")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except ValueError:
        raise IndexCorrupt(f"{manifest_file} is not valid JSON. Rebuild with: {REBUILD}") from None
    except OSError as exc:
        raise IndexCorrupt(f"{manifest_file} cannot be read ({exc}). Rebuild with: {REBUILD}") from None
    if manifest.get("format") != "rag-news-index" or manifest.get("format_version") not in READABLE_FORMATS:
        raise IndexStale(f"the index at {folder} has format {manifest.get('format_version')}, this "
                         f"version reads {FORMAT_VERSION}. Rebuild with: {REBUILD}")
    return manifest


def check_compatible(m: dict, embedder_identity: dict, chunk_words: int, chunk_overlap: int,
                     corpus: dict | None) -> None:
    """Refuse an index built with another embedder, other chunking, or from changed articles."""
    built = {k: m["embedder"].get(k) for k in ("name", "sha256")}
    wanted = {k: embedder_identity.get(k) for k in ("name", "sha256")}
    if built != wanted:
        raise IndexStale(f"the index was built with embedder {built}, but the config uses {wanted}. "
                         f"Rebuild with: {REBUILD}")
    chunking = {"chunk_words": chunk_words, "chunk_overlap": chunk_overlap, "splitter": SPLITTER}
    if m["chunking"] != chunking:
        raise IndexStale(f"the index was chunked with {m['chunking']}, the config asks for {chunking}. "
                         f"Rebuild with: {REBUILD}")
    if corpus is not None and m.get("corpus", {}).get("sha256") != corpus["sha256"]:
        old, new = m.get("corpus", {}).get("files", {}), corpus["files"]
        changed = sorted(set(old) ^ set(new) | {k for k in old.keys() & new.keys() if old[k] != new[k]})
        raise IndexStale(f"the articles in {corpus['dir']} changed since the index was built "
                         f"({', '.join(changed) or 'folder moved'}). Rebuild with: {REBUILD}")
