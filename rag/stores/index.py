"""The index: the articles, their chunks and sentences, and a store that searches them.

With the default store (FAISS + bm25s, faiss_store.py) it is a self-describing folder with a
manifest, chunks, vectors, a FAISS file and BM25; with `vector_store = "milvus"` the same data
lives in a Milvus collection (milvus_store.py) and only this module's build logic is shared. This
module names no store: `rag.stores` hands it the one to build or read. What the manifest records,
and the checks that refuse a mismatch, are in manifest.py.

    index/
      manifest.json         the commit point: format version, embedder identity, chunking, corpus
                            hash, counts, and `data`: the version folder holding the files below
      README.md             this description
      LOCK                  held (flock) by the one process writing; its pid is inside
      v-000002/             the committed version (v-000001/, the previous one, is kept too)
        manifest.json       the same manifest, without `data`
        documents.jsonl     one article per line: metadata and full text (offsets point into it)
        chunks.jsonl        one chunk per line: id, doc_id, start, end, sentence spans
        chunk_vectors.npy   float32 (chunks x dim), unit rows, aligned with chunks.jsonl
        sentence_vectors.npy  float32 (sentences x dim), aligned with the sentence list
        dense.faiss         FAISS inner-product index over chunk_vectors (flat, HNSW or IVF)
        lexical/            bm25s index over chunk words (numbers joined, stemmed, no stop words)

Commits are atomic and durable (rag/stores/commits.py): a new version folder is written and fsynced, then
`manifest.json` is replaced by rename, so a reader or a crash always finds one whole version.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np

from ..chunk import chunk_document
from ..errors import IndexCorrupt
from ..ingest import read_document, scan
from ..text import numbers, sha256
from ..types import Chunk, Document
from . import commits, manifest as manifests
from .base import VectorStore, resolve_index_type
from .manifest import FORMAT_VERSION, REBUILD, corpus_fingerprint  # the first and last: for importers

# (chunk vectors, sentence vectors, chunks, index type) -> the store that searches them
MakeStore = Callable[[np.ndarray, np.ndarray, list, str], VectorStore]
# (version folder, chunks, index type) -> the store read back from its files
ReadStore = Callable[[Path, list, str], VectorStore]


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int


class Index:
    """The articles, their chunks and sentences, and the store that searches them
    (FAISS + bm25s by default). Build and open them through `rag.stores` (new_index, load_folder)."""

    def __init__(self, manifest: dict, documents: dict[str, Document], chunks: list[Chunk], store: VectorStore):
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.store = store
        self.version: str | None = None  # the committed version folder it was loaded from or saved as
        self.stamp: tuple | None = None  # commits.stamp() of that commit; None: not tied to a folder

    # --- derived views --------------------------------------------------------------------
    @cached_property
    def sentences(self) -> list[Sentence]:
        """Unique sentences, in document and position order (aligned with sentence_vectors)."""
        return sentence_list(self.chunks)

    @cached_property
    def sentence_row(self) -> dict[tuple[str, int], int]:
        return {(s.doc_id, s.start): i for i, s in enumerate(self.sentences)}

    @cached_property
    def numbers(self) -> set[str]:
        """Every number the articles mention, in text or date (to catch questions built on others)."""
        found: set[str] = set()
        for d in self.documents.values():
            found |= numbers(d.text) | numbers(d.published) | numbers(d.title)
        return found

    # --- the store's data, for callers that read it directly (eval/bench.py, tests) -----------------
    @property
    def chunk_vectors(self) -> np.ndarray:
        return self.store.vectors()[0]

    @property
    def sentence_vectors(self) -> np.ndarray:
        return self.store.vectors()[1]

    @property
    def dense(self):
        return self.store.dense  # FaissStore only

    @property
    def lexical(self):
        return self.store.lexical  # FaissStore only

    @property
    def doc_freq(self) -> dict[str, int]:
        return self.store.vocabulary

    def search_dense(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.store.search_dense(query_vector, k)  # FaissStore only

    def lexical_scores(self, terms: list[str]) -> np.ndarray:
        return self.store.lexical_scores(terms)  # FaissStore only

    # --- building ---------------------------------------------------------------------------
    @classmethod
    def build(cls, documents: list[Document], embedder, chunk_words: int, chunk_overlap: int,
              make_store: MakeStore, index_type: str = "flat", ivf_from: int = 250_000,
              corpus: dict | None = None, reuse: "Index | None" = None, progress: bool = False) -> "Index":
        """Chunk and embed documents into a store made by `make_store` (rag.stores names it).
        Vectors of unchanged text are taken from `reuse`."""
        chunks = [c for d in documents for c in chunk_document(d, chunk_words, chunk_overlap)]
        sentences = sentence_list(chunks)
        docs = {d.id: d for d in documents}
        identity = embedder.identity()
        same_model = reuse is not None and all(
            reuse.manifest["embedder"].get(k) == identity.get(k) for k in ("name", "sha256"))
        cache = reuse.vector_cache() if same_model else {}
        chunk_texts = [c.text for c in chunks]
        sentence_texts = [docs[s.doc_id].text[s.start:s.end] for s in sentences]
        vectors = _embed_cached(embedder, chunk_texts + sentence_texts, cache, progress)
        dim = int(vectors.shape[1]) if len(vectors) else int(embedder.dim)
        manifest = manifests.new_manifest(
            identity, dim, (chunk_words, chunk_overlap), resolve_index_type(index_type, len(chunks), ivf_from),
            corpus, documents, {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentences)})
        store = make_store(vectors[:len(chunks)], vectors[len(chunks):], chunks, manifest["index_type"])
        return cls(manifest, docs, chunks, store)

    def vector_cache(self) -> dict[str, np.ndarray]:
        chunk_vectors, sentence_vectors = self.store.vectors()
        cache = {sha256(c.text): v for c, v in zip(self.chunks, chunk_vectors)}
        for s, v in zip(self.sentences, sentence_vectors):
            cache[sha256(self.documents[s.doc_id].text[s.start:s.end])] = v
        return cache

    def with_documents(self, documents: list[Document], embedder, make_store: MakeStore,
                       progress: bool = False) -> "Index":
        """A new index holding exactly `documents`; only new or changed text is embedded."""
        c = self.manifest["chunking"]
        return Index.build(documents, embedder, c["chunk_words"], c["chunk_overlap"], make_store,
                           index_type=self.manifest["index_type"], corpus=self.manifest.get("corpus"),
                           reuse=self, progress=progress)

    # --- saving and loading ---------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Commit this index as the folder's new version (atomic and durable; see rag/stores/commits.py).

        Waits for any other writer; a caller that read the index to change it should hold
        `commits.writing(folder)` from that read to this save, so that no other change is lost."""
        folder = Path(folder)
        with commits.writing(folder):
            commits.write_atomic(folder / "README.md", README)
            self.version, self.stamp = commits.commit(folder, self.manifest, self.write_files)

    def write_files(self, folder: Path) -> None:
        """This index's files, manifest last, straight into `folder`: no version folder, no commit (save() commits)."""
        with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
            for d in self.documents.values():
                f.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
        commits.step("writing")
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as f:
            for c in self.chunks:
                row = {"id": c.id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
                       "sentences": [list(s) for s in c.sentences]}
                f.write(json.dumps(row) + "\n")
        self.store.write(folder)
        # last: a version folder with its manifest is complete
        (folder / "manifest.json").write_text(json.dumps(self.manifest, indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, read_store: ReadStore) -> "Index":
        """Open the committed version of an index folder (or a folder in the old, unversioned layout).

        First tidies up after an interrupted write when no writer is at work."""
        folder = Path(folder)
        commits.recover(folder)
        for attempt in range(3):
            stamp = commits.stamp(folder)
            manifest = manifests.read_manifest(folder)
            data = manifest.pop("data", None)
            manifest.pop("previous", None)
            try:
                index = cls._read(folder / data if data else folder, manifest, read_store)
            except IndexCorrupt:
                if attempt < 2 and commits.stamp(folder) != stamp:
                    continue  # a writer committed (and tidied away what we were reading): read the new one
                raise
            index.version, index.stamp = data, stamp
            return index
        raise AssertionError("unreachable")

    @classmethod
    def _read(cls, folder: Path, manifest: dict, read_store: ReadStore) -> "Index":
        try:
            documents = {d.id: d for d in read_documents(folder)}
            chunks = []
            with open(folder / "chunks.jsonl", encoding="utf-8") as f:
                for line in f:
                    r = json.loads(line)
                    text = documents[r["doc_id"]].text[r["start"]:r["end"]]
                    chunks.append(Chunk(r["id"], r["doc_id"], r["start"], r["end"], text,
                                        tuple(tuple(s) for s in r["sentences"])))
            store = read_store(folder, chunks, manifest["index_type"])
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise IndexCorrupt(f"the index at {folder} is damaged ({type(exc).__name__}: {exc}). "
                               f"Rebuild with: {REBUILD}") from None
        index = cls(manifest, documents, chunks, store)
        counts = manifest.get("counts", {})
        actual = {"documents": len(documents), "chunks": len(chunks), "sentences": len(index.sentences)}
        chunk_vectors, sentence_vectors = store.vectors()
        if (counts != actual or len(chunk_vectors) != len(chunks) or store.dense.ntotal != len(chunks)
                or len(sentence_vectors) != len(index.sentences)):
            raise IndexCorrupt(f"the index at {folder} is inconsistent (manifest {counts}, files {actual}, "
                               f"{len(chunk_vectors)} vectors). Rebuild with: {REBUILD}")
        return index

    def check_compatible(self, embedder_identity: dict, chunk_words: int, chunk_overlap: int,
                         corpus: dict | None) -> None:
        """Refuse an index built with another embedder, other chunking, or from changed articles."""
        manifests.check_compatible(self.manifest, embedder_identity, chunk_words, chunk_overlap, corpus)


def read_documents(folder: Path) -> list[Document]:
    with open(Path(folder) / "documents.jsonl", encoding="utf-8") as f:
        # JSON has no tuples: a tuple field (Document.warnings) comes back as a list
        return [Document(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(line).items()})
                for line in f]


def saved_documents(folder: Path) -> list[Document]:
    """The articles of the newest readable version in an index folder, even one that no longer
    loads (stale, damaged, or its commit point lost), so that a rebuild can keep the added ones."""
    folder = Path(folder)
    data = (commits.read_pointer(folder) or {}).get("data")
    candidates = ([folder / data] if data else [folder]) + commits.version_folders(folder)
    for candidate in candidates:
        try:
            return read_documents(candidate)
        except (OSError, ValueError, TypeError):
            continue
    return []


def sentence_list(chunks: list[Chunk]) -> list[Sentence]:
    seen, out = set(), []
    for c in chunks:
        for a, b in c.sentences:
            if (c.doc_id, a) not in seen:
                seen.add((c.doc_id, a))
                out.append(Sentence(c.doc_id, a, b))
    return out


def _embed_cached(embedder, texts: list[str], cache: dict, progress: bool) -> np.ndarray:
    keys = [sha256(t) for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in cache}.items())
    if todo:
        from tqdm.auto import tqdm

        batch = 64
        for i in tqdm(range(0, len(todo), batch), desc="embedding", unit="batch",
                      disable=not progress or len(todo) <= batch, leave=False):
            part = todo[i:i + batch]
            for (k, _), v in zip(part, embedder.embed([t for _, t in part])):
                cache[k] = v
    if not texts:
        return np.zeros((0, embedder.dim), np.float32)
    return np.stack([cache[k] for k in keys]).astype(np.float32)


def load_corpus(folder: Path, max_mb: float = 20.0) -> list[Document]:
    docs, seen = [], set()
    for path in scan(folder):
        d = read_document(path, max_mb=max_mb)
        if d.sha256 not in seen:
            seen.add(d.sha256)
            docs.append(d)
    return docs


README = ("# The index folder\n\nGenerated by `rag index build`; do not edit. Files:\n\n```\n"
          + "\n".join(line[4:] for line in next(p for p in __doc__.split("\n\n") if p.startswith("    index/")).splitlines())
          + "\n```\n\nThe loader refuses an index whose manifest does not match the configuration, "
            "and names the command that rebuilds it.\n\nEvery change is a commit (rag/stores/commits.py): the new "
            "version folder is written and fsynced, then `manifest.json` is replaced by a rename, so a "
            "reader, or a crash at any moment, finds the old version or the new one whole. Writers (the "
            "app, `rag index add/remove/build`) take the lock one at a time and apply their change to the "
            "latest commit.\n")
