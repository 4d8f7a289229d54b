"""Where the index lives: the FAISS folder (default) or a Milvus collection, picked by `config.vector_store`.

    base.py          the VectorStore protocol (Query, Candidates), BM25 tokens, the dense index kind
    faiss_store.py   FaissStore: numpy vectors, FAISS, bm25s, and their files
    milvus_store.py  MilvusHome: the same index in Milvus (Lite file or server), its commits
    milvus_search.py MilvusStore: search in Milvus, scored as with FAISS
    index.py         Index: the articles, chunks, sentences and the store
    manifest.py      the manifest: what an index records, and the checks that refuse a mismatch
    commits.py       the folder's versioned, atomic, fsynced commits and its writer lock

This module is the only one that names a back-end: the pipeline opens, builds, saves and locks the
index through these functions.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import IndexUnusable
from . import commits
from .faiss_store import FaissStore
from .index import Index, corpus_fingerprint, load_corpus, saved_documents
from .milvus_store import MilvusHome

if TYPE_CHECKING:
    from ..config import Config
    from ..models import Embedder


def new_index(documents, embedder, chunk_words: int, chunk_overlap: int, **options) -> Index:
    """Chunk and embed documents into an in-memory index (FAISS + bm25s): what every store saves."""
    return Index.build(documents, embedder, chunk_words, chunk_overlap, FaissStore, **options)


def rebuild(index: Index, documents, embedder, progress: bool = False) -> Index:
    """A new index holding exactly `documents`, with the settings of `index`; only new text is embedded."""
    return index.with_documents(documents, embedder, FaissStore, progress=progress)


def load_folder(folder: Path) -> Index:
    """The committed index of a FAISS index folder."""
    return Index.load(folder, FaissStore.read)


# --- where the committed index lives: the index folder (FAISS) or a Milvus collection ---------------
def open_index(config: Config) -> Index:
    """The committed index named by the config. IndexMissing when there is none yet."""
    if config.vector_store == "milvus":
        return MilvusHome.of(config).load()
    return load_folder(config.index_dir)


def save_index(config: Config, index: Index) -> None:
    """Commit `index` as the config's index (a new folder version, or the Milvus collection's rows)."""
    if config.vector_store == "milvus":
        MilvusHome.of(config).save(index)
    else:
        index.save(config.index_dir)


def index_stamp(config: Config):
    """A value that changes whenever another writer commits (one stat call, or one small Milvus read)."""
    if config.vector_store == "milvus":
        return MilvusHome.of(config).stamp()
    return commits.stamp(config.index_dir)


@contextmanager
def writing(config: Config) -> Iterator[None]:
    """Hold the index's writer lock: one writer at a time, across processes on this machine."""
    if config.vector_store == "milvus":
        with MilvusHome.of(config).writing():
            yield
    else:
        with commits.writing(config.index_dir):
            yield


def build_index(config: Config, embedder: Embedder, progress: bool = False, keep_added: bool = True) -> Index:
    """Index every article in the corpus folder, keeping (unless keep_added is False) the articles
    added to the index with the app or `rag index add`, even when the old index no longer loads."""
    with writing(config):  # apply this to the latest commit; no writer in between
        docs = load_corpus(config.corpus_dir, config.max_file_mb)
        try:
            old = open_index(config)
        except IndexUnusable:
            old = None
        if keep_added:
            kept = list(old.documents.values()) if old is not None else saved_documents(config.index_dir)
            corpus_ids = {d.id for d in docs}
            corpus_dir = config.corpus_dir.resolve()
            docs += [d for d in kept
                     if d.id not in corpus_ids and corpus_dir not in Path(d.source).resolve().parents]
        corpus = corpus_fingerprint(config.corpus_dir)
        index = new_index(docs, embedder, config.chunk_words, config.chunk_overlap,
                          index_type=config.index_type, ivf_from=config.ivf_from, corpus=corpus,
                          reuse=old, progress=progress)
        save_index(config, index)
    return index
