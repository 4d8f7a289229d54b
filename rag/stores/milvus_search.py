"""Search over the index in Milvus (rag/stores/milvus_store.py keeps the collections and the commits).

Search is one `hybrid_search` (BM25 top k + dense top k, fused by RRF) that returns the candidates'
terms and vectors; their BM25 scores are then computed here with bm25s's formula and this index's
term statistics, and their cosines from the vectors, so the pipeline fuses and selects exactly as
with FAISS. A document's rows are keyed by a hash of its id and its text's hash:

    >>> from rag.types import Document
    >>> row_key(Document(id="a", title="", outlet="", published="", url="", text="", sha256="0"))
    'b0e8de8d4e6b1207f3869a7d'
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from ..errors import IndexCorrupt
from ..types import Document
from .base import Candidates, Query, VectorStore

if TYPE_CHECKING:
    from .index import Index

K1, B = 1.5, 0.75  # bm25s's defaults (method "lucene"), so scores match the FAISS store's


def row_key(doc: Document) -> str:
    return hashlib.sha256(f"{doc.id}\0{doc.sha256}".encode()).hexdigest()[:24]


class Home(Protocol):
    """What the search needs of its Milvus home (rag/stores/milvus_store.py: MilvusHome)."""

    client: object

    def col(self, kind: str) -> str: ...

    def all_rows(self, collection: str, filter: str, fields: list[str]) -> list[dict]: ...


class MilvusStore(VectorStore):
    """The VectorStore over Milvus (see the module docstring); rows are positions in Index.chunks."""

    def __init__(self, home: Home, pks: list[str], terms: list[list[str]], index: Index):
        self.home = home
        self.pks = pks
        self.row_of = {pk: i for i, pk in enumerate(pks)}
        self.terms = terms
        keys = {d.id: row_key(d) for d in index.documents.values()}
        self.sentence_pks = [f"{keys[s.doc_id]}@{s.start}" for s in index.sentences]

    @cached_property
    def vocabulary(self) -> dict[str, int]:
        df: dict[str, int] = {}
        for ts in self.terms:
            for t in set(ts):
                df[t] = df.get(t, 0) + 1
        return df

    @cached_property
    def _avgdl(self) -> float:
        return float(np.mean([len(t) for t in self.terms])) if self.terms else 1.0

    def bm25(self, row: int, query_terms: Sequence[str]) -> float:
        """bm25s's "lucene" BM25 of one chunk: sum over query terms of idf * tf (k1 + 1) / (tf + k1 (1 - b + b dl/avgdl))."""
        terms, n = self.terms[row], len(self.terms)
        norm = K1 * (1 - B + B * len(terms) / self._avgdl)
        score = 0.0
        for q in query_terms:
            tf = terms.count(q)
            if tf:
                df = self.vocabulary.get(q, 0)
                score += np.log(1 + (n - df + 0.5) / (df + 0.5)) * tf * (K1 + 1) / (tf + norm)
        return float(score)

    def search(self, query: Query) -> Candidates:
        from pymilvus import AnnSearchRequest, RRFRanker

        c, col = self.home.client, self.home.col("chunks")
        terms = [t for t in query.terms if t in self.vocabulary]
        requests = []
        if terms:
            requests.append(AnnSearchRequest(data=[" ".join(terms)], anns_field="sparse",
                                             param={"metric_type": "BM25"}, limit=query.k))
        if query.vector is not None and query.dense:
            requests.append(AnnSearchRequest(data=[query.vector.astype(np.float32).tolist()], anns_field="vector",
                                             param={"metric_type": "IP"}, limit=query.k))
        if not requests:
            return Candidates([], np.zeros(0, np.float32), np.zeros(0, np.float32))
        if len(requests) == 2:
            found = c.hybrid_search(col, requests, RRFRanker(60), limit=2 * query.k, output_fields=["vector"])
        else:
            r = requests[0]
            found = c.search(col, data=r.data, anns_field=r.anns_field, search_params=r.param, limit=query.k,
                             output_fields=["vector"])
        hits = {self.row_of[_pk(h)]: h["entity"]["vector"] for h in found[0] if _pk(h) in self.row_of}
        rows = sorted(hits)
        lex = np.array([self.bm25(r, list(query.terms)) for r in rows], np.float32)
        if query.vector is not None:
            cos = np.asarray([hits[r] for r in rows], np.float32).reshape(len(rows), -1) @ query.vector
        else:
            cos = np.zeros(len(rows), np.float32)
        return Candidates(rows, lex, cos.astype(np.float32))

    def sentence_cosines(self, rows: Sequence[int], vector: np.ndarray) -> list[float]:
        if not rows:
            return []
        pks = [self.sentence_pks[r] for r in rows]
        got = {g["pk"]: g["vector"] for g in self.home.client.get(self.home.col("sentences"), ids=pks,
                                                                  output_fields=["vector"])}
        return [float(np.asarray(got[pk], np.float32) @ vector) if pk in got else 0.0 for pk in pks]

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every chunk and sentence vector, aligned with the index (read back so that a change of
        articles never embeds unchanged text again)."""
        out = []
        for kind, pks in (("chunks", self.pks), ("sentences", self.sentence_pks)):
            got = {r["pk"]: r["vector"] for r in self.home.all_rows(self.home.col(kind), "", ["pk", "vector"])}
            missing = [pk for pk in pks if pk not in got]
            if missing:
                raise IndexCorrupt(f"Milvus collection {self.home.col(kind)} lacks {len(missing)} rows "
                                   f"(first {missing[0]}). Rebuild with: rag index build")
            out.append(np.asarray([got[pk] for pk in pks], np.float32).reshape(len(pks), -1) if pks
                       else np.zeros((0, 0), np.float32))
        return out[0], out[1]


def _pk(hit) -> str:
    """A search hit's primary key (pymilvus names it after the field, or "id")."""
    return hit["pk"] if "pk" in hit else hit["id"]
