"""The vector store seam: where chunk vectors, sentence vectors and the BM25 postings live.

Retrieval (rag/retrieve.py) asks a store three things and nothing else:

- `search(Query)`: the candidate chunks for a question (the BM25 top k, plus the dense top k
  when asked) with each one's BM25 score and cosine (the one required method);
- `sentence_cosines(rows, vector)`: cosines of some sentences with the question;
- `vocabulary`: every indexed term and how many chunks hold it (for IDF and misspelt names).

Two stores implement it: `FaissStore` (faiss_store.py, the default: numpy arrays, a FAISS index and
a bm25s index, saved in the index folder) and `MilvusStore` (milvus_search.py: the same data in a
Milvus collection, a Milvus Lite file or a cluster, kept by milvus_store.py). `rag.stores` picks one
from `config.vector_store`, so the pipeline never names a back-end.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

from ..text import content_terms


def lexical_tokens(text: str) -> list[str]:
    """The terms BM25 indexes for a chunk, in every store: stemmed content words ("" for none)."""
    return content_terms(text) or [""]


class Query(NamedTuple):
    terms: tuple[str, ...]  # index terms for BM25; empty: no lexical search
    vector: np.ndarray | None  # the question's unit vector; None: no cosines
    k: int  # candidates taken from each side
    dense: bool = True  # also take the k nearest chunks by vector (else cosines of the BM25 ones only)


class Candidates(NamedTuple):
    rows: list[int]  # chunk rows (positions in Index.chunks), ascending
    lexical: np.ndarray  # BM25 score of each row (0: no query term in it)
    cosine: np.ndarray  # cosine of each row with the query vector (0 when there is none)


def resolve_index_type(index_type: str, n: int, ivf_from: int = 250_000) -> str:
    """"auto": exact search while it is fast enough, IVF beyond (measured in eval/results/bench.md:
    at 1M chunks exact search takes 80 ms p95, IVF with nprobe 32 1.2 ms at recall@10 0.97)."""
    if index_type != "auto":
        return index_type
    return "ivf" if n >= ivf_from else "flat"


@runtime_checkable
class VectorStore(Protocol):
    """Candidate chunks for a question. `search` is the one required method; the vocabulary and
    sentence cosines are the two reads that sentence selection and IDF weighting add to it."""

    vocabulary: dict[str, int]  # term -> number of chunks holding it

    def search(self, query: Query) -> Candidates: ...

    def sentence_cosines(self, rows: Sequence[int], vector: np.ndarray) -> list[float]: ...
