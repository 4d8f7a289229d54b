"""The vector store seam: where chunk vectors, sentence vectors and the BM25 postings live.

Retrieval (rag/retrieve.py) asks a store three things and nothing else:

- `search(Query)`: the candidate chunks for a question (the BM25 top k, plus the dense top k
  when asked) with each one's BM25 score and cosine (the one required method);
- `sentence_cosines(rows, vector)`: cosines of some sentences with the question;
- `vocabulary`: every indexed term and how many chunks hold it (for IDF and misspelt names).

Two stores implement it: `FaissStore` (the default: numpy arrays, a FAISS index and a bm25s
index, saved in the index folder) and `MilvusStore` (rag/milvus.py: the same data in a Milvus
collection, a Milvus Lite file or a cluster). `open_index(config)` and friends pick one from
`config.vector_store`, so the pipeline never names a backend.

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

from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .config import Config
    from .index import Index
    from .types import Chunk


class Query(NamedTuple):
    terms: tuple[str, ...]  # index terms for BM25; empty: no lexical search
    vector: np.ndarray | None  # the question's unit vector; None: no cosines
    k: int  # candidates taken from each side
    dense: bool = True  # also take the k nearest chunks by vector (else cosines of the BM25 ones only)


class Candidates(NamedTuple):
    rows: list[int]  # chunk rows (positions in Index.chunks), ascending
    lexical: np.ndarray  # BM25 score of each row (0: no query term in it)
    cosine: np.ndarray  # cosine of each row with the query vector (0 when there is none)


@runtime_checkable
class VectorStore(Protocol):
    """Candidate chunks for a question. `search` is the one required method; the vocabulary and
    sentence cosines are the two reads that sentence selection and IDF weighting add to it."""

    vocabulary: dict[str, int]  # term -> number of chunks holding it

    def search(self, query: Query) -> Candidates: ...

    def sentence_cosines(self, rows: Sequence[int], vector: np.ndarray) -> list[float]: ...


class FaissStore:
    """Vectors in numpy, a FAISS inner-product index over the chunk vectors, bm25s for BM25.

    The FAISS and bm25s indexes are built on first use when they were not loaded from a folder."""

    def __init__(self, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, chunks: "list[Chunk]",
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
            from .index import make_faiss

            self._dense = make_faiss(self.chunk_vectors, self._index_type)
        return self._dense

    @cached_property
    def lexical(self):
        if self._lexical is None:
            from .index import lexical_tokens, make_bm25

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
    def read(cls, folder: Path, chunks: "list[Chunk]", index_type: str) -> "FaissStore":
        """Raises OSError/ValueError/RuntimeError on damaged files (the index turns them into IndexCorrupt)."""
        import bm25s
        import faiss

        return cls(np.load(folder / "chunk_vectors.npy"), np.load(folder / "sentence_vectors.npy"), chunks,
                   index_type, faiss.read_index(str(folder / "dense.faiss")),
                   bm25s.BM25.load(str(folder / "lexical"), show_progress=False, verbosity=0))


# --- where the committed index lives: the index folder (FAISS) or a Milvus collection ---------------
def open_index(config: "Config") -> "Index":
    """The committed index named by the config. IndexMissing when there is none yet."""
    if config.vector_store == "milvus":
        from .milvus import MilvusHome

        return MilvusHome.of(config).load()
    from .index import Index

    return Index.load(config.index_dir)


def save_index(config: "Config", index: "Index") -> None:
    """Commit `index` as the config's index (a new folder version, or the Milvus collection's rows)."""
    if config.vector_store == "milvus":
        from .milvus import MilvusHome

        MilvusHome.of(config).save(index)
    else:
        index.save(config.index_dir)


def index_stamp(config: "Config"):
    """A value that changes whenever another writer commits (one stat call, or one small Milvus read)."""
    if config.vector_store == "milvus":
        from .milvus import MilvusHome

        return MilvusHome.of(config).stamp()
    from . import commits

    return commits.stamp(config.index_dir)


@contextmanager
def writing(config: "Config") -> Iterator[None]:
    """Hold the index's writer lock: one writer at a time, across processes on this machine."""
    from . import commits

    if config.vector_store == "milvus":
        from .milvus import MilvusHome

        with MilvusHome.of(config).writing():
            yield
    else:
        with commits.writing(config.index_dir):
            yield
