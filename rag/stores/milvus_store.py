"""The index in Milvus: a Milvus Lite file for one machine and CI, or a Milvus server or cluster.

    vector_store = "milvus"
    milvus_uri = "index/milvus.db"         # a file: Milvus Lite;  "http://milvus:19530": a server
    milvus_collection = "rag_news"          # three collections: rag_news_docs, _chunks, _sentences

`<name>_docs` holds the commit point (one row: the generation, which every commit raises, and how many
parts the manifest has), the manifest in parts (it lists every article, so it outgrows one row), and
the articles (split into parts of 16,000 characters); `<name>_chunks` one row per chunk: offsets,
its BM25 terms (Milvus computes the sparse BM25 vector itself, `FunctionType.BM25`) and its dense
vector; `<name>_sentences` one row per sentence with its vector. Row keys hash the document's id
and text, so a commit deletes the rows of removed or changed articles, inserts those of new ones,
and leaves the rest (and their vectors) alone.

Search is one `hybrid_search`, with BM25 scores and cosines computed as with FAISS
(rag/stores/milvus_search.py: MilvusStore). An app node keeps only a read cache (articles, chunk
offsets, term counts), reloaded when the generation changes.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..errors import IndexCorrupt, IndexMissing, RagError, require
from ..types import Chunk, Document
from . import commits
from .base import lexical_tokens
from .index import Index
from .milvus_search import MilvusStore, _pk, row_key  # _pk: for eval/scale.py (rm._pk)

PART = 16_000  # characters of article JSON per row (VARCHAR holds 65,535 bytes)
_HOMES: dict[tuple, "MilvusHome"] = {}
_HOMES_LOCK = threading.Lock()


def _quote(values: Sequence[str]) -> str:
    return "[" + ",".join(json.dumps(v) for v in values) + "]"


class MilvusHome:
    """The collections behind one config (uri, token, collection), shared by every RAG object in a
    process (Milvus Lite opens a file once). `load()`/`save()` mirror Index.load/Index.save."""

    def __init__(self, uri: str, token: str, name: str):
        self.uri, self.token, self.name = uri, token, name
        self.lock = threading.RLock()
        self._client = None

    @classmethod
    def of(cls, config) -> "MilvusHome":
        uri = config.milvus_uri
        if "://" not in uri:  # a Milvus Lite file, relative to where we run
            uri = str(Path(uri).expanduser().resolve())
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        key = (uri, config.milvus_token or os.environ.get("MILVUS_TOKEN", ""), config.milvus_collection)
        with _HOMES_LOCK:
            if key not in _HOMES:
                _HOMES[key] = cls(*key)
            return _HOMES[key]

    @property
    def client(self):
        if self._client is None:
            pymilvus = require("pymilvus", "milvus")
            try:
                self._client = pymilvus.MilvusClient(uri=self.uri, token=self.token)
            except Exception as exc:  # pymilvus raises its own MilvusException and plain errors alike
                raise RagError(f"cannot open Milvus at {self.uri} ({exc}). Fix: check milvus_uri (a Milvus "
                               f"Lite file path, or http://host:19530 for a running server) and milvus_token") from None
        return self._client

    def close(self) -> None:
        """Close the client (stopping Milvus Lite's server for the file) and forget this home: the
        next `of()` opens a fresh one."""
        try:
            if self._client is not None:
                self._client.close()
        finally:
            self._client = None
            with _HOMES_LOCK:
                for key in [k for k, v in _HOMES.items() if v is self]:
                    del _HOMES[key]

    def col(self, kind: str) -> str:
        return f"{self.name}_{kind}"

    # --- commit point ---------------------------------------------------------------------
    def _pointer(self) -> dict | None:
        """The commit point: one small row naming the generation and how many parts its manifest has."""
        if not self.client.has_collection(self.col("docs")):
            return None
        rows = self.client.query(self.col("docs"), filter='pk == "manifest"', output_fields=["data"])
        return json.loads(rows[0]["data"]) if rows else None

    def _manifest(self) -> dict | None:
        """The manifest of the committed generation. It lists every article, so past a few thousand it
        outgrows one VARCHAR (65,535 bytes): it is stored in parts, written before the pointer."""
        pointer = self._pointer()
        if pointer is None or "parts" not in pointer:
            return pointer  # None, or a manifest written whole in the pointer row
        keys = [f"manifest-{pointer['generation']}:{p}" for p in range(pointer["parts"])]
        rows = self.client.query(self.col("docs"), filter=f"pk in {_quote(keys)}", output_fields=["pk", "data"])
        if len(rows) != len(keys):
            raise IndexCorrupt(f"the Milvus collection {self.col('docs')} lost part of its manifest "
                                f"({len(rows)} of {len(keys)} parts). Rebuild it: rag index build")
        return json.loads("".join(r["data"] for r in sorted(rows, key=lambda r: int(r["pk"].rsplit(":", 1)[1]))))

    def stamp(self):
        p = self._pointer()
        return None if p is None else (self.uri, self.name, p["generation"])

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One writer at a time: a lock in this process, and for a Milvus Lite file a flock beside it.
        (Against a server, writers on other machines are not serialised: see docs/deploy.md.)"""
        if "://" in self.uri:
            with self.lock:
                yield
            return

        with commits.writing(Path(self.uri + ".writer")):  # re-entrant, with a timeout that names the holder
            yield

    # --- reading ---------------------------------------------------------------------------
    def load(self) -> Index:
        manifest = self._manifest()
        if manifest is None:
            raise IndexMissing(f"no index in Milvus at {self.uri} (collection {self.name}). "
                               f"Build it with: rag index build")
        generation = manifest.pop("generation")
        order = manifest.pop("order")
        parts: dict[str, list] = {}
        for row in self.all_rows(self.col("docs"), 'kind == "document"', ["doc_key", "part", "data"]):
            parts.setdefault(row["doc_key"], []).append((row["part"], row["data"]))
        docs = {}
        for key in order:
            if key not in parts:
                raise IndexCorrupt(f"Milvus collection {self.col('docs')} lacks an article the manifest lists "
                                   f"({key}). Rebuild with: rag index build")
            raw = json.loads("".join(d for _, d in sorted(parts[key])))
            doc = Document(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
            docs[doc.id] = doc
        rank = {key: i for i, key in enumerate(order)}
        rows = sorted(self.all_rows(self.col("chunks"), "", ["pk", "doc_key", "doc_id", "pos", "start", "end",
                                                              "sentences", "terms"]),
                      key=lambda r: (rank.get(r["doc_key"], len(rank)), r["pos"]))
        rows = [r for r in rows if r["doc_key"] in rank]  # rows of an unfinished commit are not ours
        chunks = [Chunk(f"{r['doc_id']}#{r['pos']}", r["doc_id"], r["start"], r["end"],
                        docs[r["doc_id"]].text[r["start"]:r["end"]], tuple(tuple(s) for s in r["sentences"]))
                  for r in rows]
        index = Index(manifest, docs, chunks, None)
        index.store = MilvusStore(self, [r["pk"] for r in rows], [r["terms"].split() for r in rows], index)
        counts = manifest.get("counts", {})
        actual = {"documents": len(docs), "chunks": len(chunks), "sentences": len(index.sentences)}
        if counts != actual:
            raise IndexCorrupt(f"the index in Milvus at {self.uri} is inconsistent (manifest {counts}, rows "
                               f"{actual}). Rebuild with: rag index build")
        index.version, index.stamp = f"generation {generation}", (self.uri, self.name, generation)
        return index

    def all_rows(self, collection: str, filter: str, fields: list[str]) -> list[dict]:
        it = self.client.query_iterator(collection, batch_size=4096, filter=filter, output_fields=fields)
        out = []
        try:
            while batch := it.next():
                out.extend(batch)
        finally:
            it.close()
        return out

    # --- writing ---------------------------------------------------------------------------
    def save(self, index: Index) -> None:
        """Commit `index`: rows of removed or changed articles go, rows of new ones come, then the
        manifest row (the commit point) is replaced with a higher generation."""
        c = self.client
        dim = int(index.manifest["embedder"]["dim"])
        self._create(dim)
        old = self._manifest()
        keys = {d.id: row_key(d) for d in index.documents.values()}
        have = set((old or {}).get("order", []))
        stale = sorted(have - set(keys.values()))
        for i in range(0, len(stale), 500):
            f = f"doc_key in {_quote(stale[i:i + 500])}"
            for kind in ("docs", "chunks", "sentences"):
                c.delete(self.col(kind), filter=f)
        new = {doc_id for doc_id, key in keys.items() if key not in have}
        chunk_vectors, sentence_vectors = index.store.vectors()
        self._insert("docs", (
            {"pk": f"{keys[d.id]}:{p}", "kind": "document", "doc_key": keys[d.id], "part": p,
             "data": text[p * PART:(p + 1) * PART], "v": [0.0, 0.0]}
            for d in index.documents.values() if d.id in new
            for text in [json.dumps(asdict(d), ensure_ascii=False)] for p in range(-(-len(text) // PART))))
        # rows are generated batch by batch: a million rows as Python lists of floats would take tens of GB
        self._insert("chunks", (
            {"pk": f"{keys[ch.doc_id]}#{pos}", "doc_key": keys[ch.doc_id], "doc_id": ch.doc_id, "pos": pos,
             "start": ch.start, "end": ch.end, "sentences": [list(s) for s in ch.sentences],
             "terms": " ".join(lexical_tokens(ch.text)), "vector": v.tolist()}
            for ch, v in zip(index.chunks, chunk_vectors)
            for pos in [int(ch.id.rsplit("#", 1)[1])] if ch.doc_id in new))
        self._insert("sentences", (
            {"pk": f"{keys[s.doc_id]}@{s.start}", "doc_key": keys[s.doc_id], "vector": v.tolist()}
            for s, v in zip(index.sentences, sentence_vectors) if s.doc_id in new))
        generation = (old or {}).get("generation", 0) + 1
        manifest = {**index.manifest, "generation": generation, "order": [keys[d] for d in index.documents]}
        text = json.dumps(manifest, ensure_ascii=False)
        parts = -(-len(text) // PART)
        self._insert("docs", ({"pk": f"manifest-{generation}:{p}", "kind": "manifest-part", "doc_key": "",
                               "part": p, "data": text[p * PART:(p + 1) * PART], "v": [0.0, 0.0]}
                              for p in range(parts)))
        old_pointer = self._pointer()
        c.upsert(self.col("docs"), [{"pk": "manifest", "kind": "manifest", "doc_key": "", "part": 0,  # the commit
                                     "data": json.dumps({"generation": generation, "parts": parts}), "v": [0.0, 0.0]}])
        if old_pointer and "parts" in old_pointer:  # the previous generation's parts, now unreferenced
            old_parts = [f"manifest-{old_pointer['generation']}:{p}" for p in range(old_pointer["parts"])]
            c.delete(self.col("docs"), filter=f"pk in {_quote(old_parts)}")
        terms = [lexical_tokens(ch.text) for ch in index.chunks]
        pks = [f"{keys[ch.doc_id]}#{ch.id.rsplit('#', 1)[1]}" for ch in index.chunks]
        index.store = MilvusStore(self, pks, terms, index)
        index.version, index.stamp = f"generation {generation}", (self.uri, self.name, generation)

    def _insert(self, kind: str, rows: Iterable[dict]) -> None:
        rows = iter(rows)
        while batch := list(itertools.islice(rows, 1000)):
            self.client.insert(self.col(kind), batch)

    def _create(self, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        if c.has_collection(self.col("docs")):
            return
        for kind in ("docs", "chunks", "sentences"):
            s = c.create_schema(auto_id=False)
            s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
            s.add_field("doc_key", DataType.VARCHAR, max_length=32)
            ip = c.prepare_index_params()
            if kind == "docs":
                s.add_field("kind", DataType.VARCHAR, max_length=16)
                s.add_field("part", DataType.INT64)
                s.add_field("data", DataType.VARCHAR, max_length=65_535)
                s.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
                ip.add_index("v", index_type="FLAT", metric_type="L2")
            else:
                s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
                ip.add_index("vector", index_type="FLAT", metric_type="IP")
            if kind == "chunks":
                s.add_field("doc_id", DataType.VARCHAR, max_length=512)
                for name in ("pos", "start", "end"):
                    s.add_field(name, DataType.INT64)
                s.add_field("sentences", DataType.JSON)
                s.add_field("terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                            analyzer_params={"tokenizer": "standard"})
                s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
                s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                        input_field_names=["terms"], output_field_names=["sparse"]))
                ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            c.create_collection(self.col(kind), schema=s, index_params=ip)
