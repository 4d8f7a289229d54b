"""FaissStore: vectors in numpy, a FAISS inner-product index, bm25s for BM25, and their files.

    >>> import numpy as np
    >>> from rag.types import Chunk
    >>> chunks = [Chunk("d#0", "d", 0, 9, "cap troop", ((0, 9),)), Chunk("d#1", "d", 10, 19, "drone city", ((10, 19),))]
    >>> store = FaissStore(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), chunks, "flat")
    >>> found = store.search(Query(("cap",), np.array([0.0, 1.0], np.float32), k=4))
    >>> found.rows, found.cosine.tolist()
    ([0, 1], [0.0, 1.0])
    >>> store.vocabulary["cap"]
    1
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from ..types import Chunk
from .base import Candidates, Query, VectorStore, lexical_tokens


class FaissStore(VectorStore):
    """Vectors in numpy, a FAISS inner-product index over the chunk vectors, bm25s for BM25.

    The FAISS and bm25s indexes are built on first use when they were not loaded from a folder."""

    def __init__(self, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, chunks: list[Chunk],
                 index_type: str, dense=None, lexical=None):
        self.chunk_vectors = chunk_vectors
        self.sentence_vectors = sentence_vectors
        self._chunks = chunks
        self._index_type = index_type
        self._dense = dense
        self._lexical = lexical

    @cached_property
    def dense(self):
        if self._dense is None:
            self._dense = make_faiss(self.chunk_vectors, self._index_type)
        return self._dense

    @cached_property
    def lexical(self):
        if self._lexical is None:
            self._lexical = make_bm25([lexical_tokens(c.text) for c in self._chunks])
        return self._lexical

    @cached_property
    def vocabulary(self) -> dict[str, int]:
        """Chunks containing each term, read from the BM25 matrix (CSC: one column a term), in
        the order of bm25s's own vocabulary."""
        indptr = np.asarray(self.lexical.scores["indptr"])
        counts = np.diff(indptr)
        return {term: int(counts[i]) for term, i in self.lexical.vocab_dict.items() if i < len(counts)}

    def search(self, query: Query) -> Candidates:
        lex = self.lexical_scores(list(query.terms))
        pool = set(np.argsort(-lex)[: query.k].tolist()) if lex.any() else set()
        if query.vector is not None and query.dense:
            _, ids = self.search_dense(query.vector, query.k)
            pool |= set(ids.tolist())
        rows = sorted(pool)
        if query.vector is not None:
            cos = self.chunk_vectors[rows] @ query.vector
        else:
            cos = np.zeros(len(rows), np.float32)
        return Candidates(rows, lex[rows] if rows else np.zeros(0, np.float32), cos)

    def sentence_cosines(self, rows: Sequence[int], vector: np.ndarray) -> list[float]:
        return [float(self.sentence_vectors[r] @ vector) for r in rows]

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk vectors, sentence vectors), aligned with the index's chunks and sentences."""
        return self.chunk_vectors, self.sentence_vectors

    # --- the primitives, kept for callers that measure them (eval/bench.py, tests) ---------------
    def search_dense(self, query_vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.chunk_vectors))
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, ids = self.dense.search(query_vector.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def lexical_scores(self, terms: list[str]) -> np.ndarray:
        n = len(self.chunk_vectors)
        if not n:
            return np.zeros(0, np.float32)
        ids = self.lexical.get_tokens_ids(terms)
        if not ids:
            return np.zeros(n, np.float32)
        return np.asarray(self.lexical.get_scores_from_ids(ids), dtype=np.float32)

    # --- files --------------------------------------------------------------------------------
    def write(self, folder: Path) -> None:
        import faiss

        np.save(folder / "chunk_vectors.npy", self.chunk_vectors)
        np.save(folder / "sentence_vectors.npy", self.sentence_vectors)
        faiss.write_index(self.dense, str(folder / "dense.faiss"))
        self.lexical.save(str(folder / "lexical"), show_progress=False)

    @classmethod
    def read(cls, folder: Path, chunks: list[Chunk], index_type: str) -> "FaissStore":
        """Raises OSError/ValueError/RuntimeError on damaged files (the index turns them into IndexCorrupt)."""
        import bm25s
        import faiss

        return cls(np.load(folder / "chunk_vectors.npy"), np.load(folder / "sentence_vectors.npy"), chunks,
                   index_type, faiss.read_index(str(folder / "dense.faiss")),
                   bm25s.BM25.load(str(folder / "lexical"), show_progress=False, verbosity=0))


def make_faiss(vectors: np.ndarray, index_type: str, hnsw_m: int = 32, ef_search: int = 128,
               nprobe: int = 32):
    """Inner-product FAISS index (vectors are unit length, so inner product = cosine)."""
    import faiss

    n, dim = vectors.shape
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 64
        index.hnsw.efSearch = ef_search
    elif index_type == "ivf" and n >= 1000:
        nlist = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[np.random.default_rng(0).choice(n, min(n, nlist * 40), replace=False)])
        index.nprobe = nprobe
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def make_bm25(tokens: list[list[str]]):
    import bm25s

    retriever = bm25s.BM25()
    # bm25s cannot index nothing: an index with no articles yet (an empty corpus folder) gets one empty
    # placeholder row, never searched (lexical_scores answers an empty index before reading it)
    retriever.index(tokens or [[""]], show_progress=False)
    return retriever
