"""Scale figures: FAISS (flat, IVF) vs Milvus Lite at N chunks, and 8 concurrent askers.

    python -m eval.bench --only stores --scales 100000,1000000
    python -m eval.bench --only concurrency [--concurrency-generator quality --askers 8 --per-asker 2]

`bench_stores` builds a synthetic corpus of N chunks through the product's own code: articles made
of real sentences of the bundled index (recombined with a seeded RNG, about as many per article as
the real ones), chunked by `Index.build` (rag/chunk.py), with vectors injected through the embedder
seam (`VectorsFromSentences`: the real embedding of each sentence, a chunk the sum of its sentences'
plus noise), so no text is embedded and BM25 sees real term statistics. Each store is then written
and opened the way the product does it (`Index.save`/`Index.load` with `FaissStore`,
`MilvusHome.save`/`load` with its BM25 function), and timed with the real eval questions, embedded by
the real embedder: the ANN search alone, the store's candidate search (BM25 + dense), and
`RAG.retrieve` (query terms, candidates, fusion, sentence selection) end to end.

`bench_concurrency` starts `python -m llama_cpp.server` on 127.0.0.1 with the generator's GGUF and
has `askers` threads each ask `per_asker` questions through the OpenAI path, then the same with the
in-process llama.cpp generator (one RAG object shared by the threads). Both use the same cores.
"""

from __future__ import annotations

from rag.stores import new_index, load_folder
import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from eval.metrics import percentile

DOC_SENTENCES = 43  # sentences per synthetic article (the bundled articles: 128 sentences in 3)


# --- the synthetic corpus ---------------------------------------------------------------------------

class VectorsFromSentences:
    """An Embedder that injects vectors instead of computing them: a text that is one of the pool's
    sentences gets that sentence's real embedding; any other text (a chunk: sentences joined by
    newlines) the normalised sum of its sentences' embeddings plus Gaussian noise (seeded by the
    call, so a build is reproducible). Queries go to `queries` (precomputed) or to `fallback`."""

    dim: int

    def __init__(self, sentences: Sequence[str], vectors: np.ndarray, noise: float = 0.01, seed: int = 0,
                 queries: dict[str, np.ndarray] | None = None, fallback=None):
        self.row = {s: i for i, s in enumerate(sentences)}
        self.vectors = np.asarray(vectors, np.float32)
        self.dim = int(self.vectors.shape[1])
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.queries = dict(queries or {})
        self.fallback = fallback
        self.calls = 0

    def identity(self) -> dict:
        return {"name": "synthetic", "model_id": "vectors-from-sentences", "sha256": "synthetic"}

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        self.calls += 1
        if query:
            missing = [t for t in texts if t not in self.queries]
            if missing:
                if self.fallback is None:
                    raise KeyError(f"no query vector for {missing[0]!r}")
                for t, v in zip(missing, self.fallback.embed(missing, query=True)):
                    self.queries[t] = v
            return np.stack([self.queries[t] for t in texts]).astype(np.float32)
        out = np.zeros((len(texts), self.dim), np.float32)
        noisy = []
        for i, t in enumerate(texts):
            row = self.row.get(t)
            if row is not None:
                out[i] = self.vectors[row]
                continue
            rows = [self.row[p] for p in t.split("\n") if p in self.row]
            if rows:
                out[i] = self.vectors[rows].sum(0)
            noisy.append(i)
        if noisy:
            out[noisy] += self.rng.normal(0, self.noise, (len(noisy), self.dim)).astype(np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def synthetic_documents(pool: Sequence[str], n_chunks: int, chunk_words: int = 90, overlap: int = 1,
                        seed: int = 0, doc_sentences: int = DOC_SENTENCES):
    """Articles of randomly drawn pool sentences (one a line) that chunk into exactly `n_chunks`
    chunks with the product's chunker (the last article is cut short to land on the number)."""
    from rag.chunk import chunk_document
    from rag.types import Document

    rng = np.random.default_rng(seed)
    docs, total = [], 0
    while total < n_chunks:
        picks = rng.integers(0, len(pool), doc_sentences)
        for m in range(doc_sentences, 0, -1):
            text = "\n".join(pool[j] for j in picks[:m])
            doc = Document(f"synthetic-{len(docs):07d}", f"Synthetic article {len(docs)}", "Synthetic Wire",
                           "2025-11-26", "", text, sha256=f"{seed}-{len(docs)}")
            got = len(chunk_document(doc, chunk_words, overlap))
            if total + got <= n_chunks:
                break
        docs.append(doc)
        total += got
    return docs


def synthetic_index(base, n_chunks: int, seed: int = 0, noise: float = 0.01):
    """An Index of `n_chunks` synthetic chunks built by `Index.build` from `base` (an Index whose
    sentences and sentence vectors are the pool), with vectors injected (no text is embedded)."""
    from rag.stores.index import Index

    pool = [base.documents[s.doc_id].text[s.start:s.end] for s in base.sentences]
    keep = [i for i, s in enumerate(pool) if "\n" not in s and s.strip()]
    pool = [pool[i] for i in keep]
    vectors = base.sentence_vectors[keep]
    c = base.manifest["chunking"]
    docs = synthetic_documents(pool, n_chunks, c["chunk_words"], c["chunk_overlap"], seed)
    embedder = VectorsFromSentences(pool, vectors, noise, seed)
    index = new_index(docs, embedder, c["chunk_words"], c["chunk_overlap"], index_type="flat")
    return index, pool


# --- measuring --------------------------------------------------------------------------------------

def rss_mb(children: bool = True) -> float:
    """Resident memory of this process (and of its child processes: Milvus Lite's server), MB."""
    import psutil

    me = psutil.Process()
    total = me.memory_info().rss
    if children:
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
    return total / 2**20


def disk_mb(path: Path) -> float:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def latencies_ms(fn: Callable[[int], object], n: int, budget_s: float = 0.0,
                 min_n: int = 3) -> tuple[list[float], list]:
    """fn(0..n-1), one at a time; with a budget, stop once it is spent (after at least min_n calls)."""
    lat, out = [], []
    start = time.perf_counter()
    for i in range(n):
        if budget_s and i >= min_n and time.perf_counter() - start > budget_s:
            break
        t = time.perf_counter()
        out.append(fn(i))
        lat.append((time.perf_counter() - t) * 1000)
    return lat, out


@dataclass
class Timing:
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, values: list[float]) -> "Timing":
        return cls(percentile(values, 50), percentile(values, 95))


@dataclass
class StoreResult:
    n: int  # chunks
    store: str  # "faiss-flat" | "faiss-ivf" | "milvus-lite"
    rows_inserted: int  # chunk rows in the store after the build
    sentences: int
    build_s: float  # making the store's indexes in memory (FAISS) or inserting its rows (Milvus)
    save_s: float  # writing the committed index (FAISS); included in build_s for Milvus
    rows_per_s: float  # chunks / (build_s + save_s)
    open_s: float  # Index.load / MilvusHome.load
    rss_mb: float  # RSS growth from opening the committed index and querying it (incl. the Milvus Lite server)
    disk_mb: float
    ann: Timing  # the dense top-10 search alone
    candidates: Timing  # the store's search(): BM25 top k + dense top k, scores
    retrieve: Timing  # RAG.retrieve: terms, candidates, fusion, sentence selection
    recall_at_10: float  # of the ANN search against exact search
    passages_found: float  # share of questions with at least one passage
    questions_timed: int  # questions timed in the slowest phase (a time budget may cut a slow store short)
    notes: list[str] = field(default_factory=list)


@dataclass
class StoresReport:
    scales: list[int]
    questions: int
    query_embed: Timing  # embedding one question with the real embedder (not in `retrieve` above)
    corpus: list[dict]  # per scale: documents, chunks, sentences, build seconds, RSS
    rows: list[StoreResult]
    note: str


def _questions_vectors(questions: Sequence[str], embedder) -> tuple[np.ndarray, Timing]:
    lat, vecs = latencies_ms(lambda i: embedder.embed([questions[i]], query=True)[0], len(questions))
    return np.stack(vecs).astype(np.float32), Timing.of(lat)


def _measure(kind: str, index, bot, questions: list[str], qvecs: np.ndarray, truth: list[list[int]],
             ann: Callable[[np.ndarray], list[int]], k: int = 10, budget_s: float = 0.0) -> dict:
    from rag.retrieve import query_terms
    from rag.stores.faiss_store import Query

    c = bot.config
    ann_lat, found = latencies_ms(lambda i: ann(qvecs[i]), len(qvecs), budget_s)
    recall = float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)]))
    terms = [tuple(query_terms(index, q).all_index_terms()) for q in questions]
    cand_lat, _ = latencies_ms(lambda i: index.store.search(Query(terms[i], qvecs[i], c.top_chunks * 4)),
                               len(questions), budget_s)
    ret_lat, got = latencies_ms(lambda i: bot.retrieve(questions[i]), len(questions), budget_s)
    chunk_ids = {ch.id for ch in index.chunks}
    assert all(p.chunk_id in chunk_ids for r in got for p in r.passages), "a passage from outside the corpus"
    return {"ann": Timing.of(ann_lat), "candidates": Timing.of(cand_lat), "retrieve": Timing.of(ret_lat),
            "recall_at_10": recall, "passages_found": float(np.mean([bool(r.passages) for r in got])),
            "questions_timed": min(len(ann_lat), len(cand_lat), len(ret_lat))}


def bench_stores(base, questions: list[str], real_embedder, scales: list[int],
                 stores: Sequence[str] = ("faiss-flat", "faiss-ivf", "milvus-lite"), workdir: Path | None = None,
                 seed: int = 0, progress: Callable[[str], None] = print, query_budget_s: float = 300.0,
                 milvus_max: int = 0) -> StoresReport:
    """FAISS flat / IVF and Milvus Lite side by side at each scale (see the module docstring);
    Milvus Lite only up to `milvus_max` chunks when that is set (it is slow: see the note)."""
    from rag import RAG
    from rag.config import Config
    from rag.stores.base import lexical_tokens
    from rag.stores.faiss_store import make_bm25, make_faiss
    from rag.stores.index import Index
    from rag.stores.faiss_store import FaissStore

    qvecs, embed_t = _questions_vectors(questions, real_embedder)
    rows: list[StoreResult] = []
    corpus_rows: list[dict] = []
    skipped: list[int] = []
    own_tmp = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="rag-scale-"))
    try:
        for n in scales:
            gc.collect()
            rss0 = rss_mb()
            (index, pool), t_corpus = timed(lambda: synthetic_index(base, n, seed))
            embedder = VectorsFromSentences(pool, np.zeros((1, base.sentence_vectors.shape[1])),
                                            queries=dict(zip(questions, qvecs)), fallback=real_embedder)
            chunk_vectors, sentence_vectors = index.store.vectors()
            corpus_rows.append({"n": n, "documents": len(index.documents), "chunks": len(index.chunks),
                                "sentences": len(index.sentences), "build_s": t_corpus,
                                "rss_mb": rss_mb() - rss0,
                                "sentences_per_chunk": float(np.mean([len(c.sentences) for c in index.chunks]))})
            progress(f"[stores {n:,}] corpus: {len(index.documents):,} articles, {len(index.chunks):,} chunks, "
                     f"{len(index.sentences):,} sentences in {t_corpus:.1f} s")
            exact = make_faiss(chunk_vectors, "flat")  # the truth: exact search, one query at a time as the app searches
            truth = [exact.search(q.reshape(1, -1), 10)[1][0].tolist() for q in qvecs]
            del exact
            bm25, bm25_s = None, 0.0
            for kind in stores:
                if kind == "milvus-lite" and milvus_max and n > milvus_max:
                    skipped.append(n)
                    continue
                gc.collect()
                if kind.startswith("faiss"):
                    if bm25 is None:  # one BM25 index serves both FAISS stores; its time counts for each
                        bm25, bm25_s = timed(lambda: make_bm25([lexical_tokens(c.text) for c in index.chunks]))
                    itype = kind.split("-")[1]
                    store = FaissStore(chunk_vectors, sentence_vectors, index.chunks, itype, lexical=bm25)
                    _, dense_s = timed(lambda: store.dense)
                    folder = workdir / f"{kind}-{n}"
                    built = Index({**index.manifest, "index_type": itype}, index.documents, index.chunks, store)
                    _, save_s = timed(lambda: built.save(folder))
                    del built, store
                    gc.collect()
                    before = rss_mb()
                    loaded, open_s = timed(lambda: load_folder(folder))
                    bot = RAG(Config(index_dir=folder, gate=""), loaded, embedder)
                    ann = lambda v, s=loaded.store: s.search_dense(v, 10)[1].tolist()
                    m = _measure(kind, loaded, bot, questions, qvecs, truth, ann, budget_s=query_budget_s / 3)
                    rows.append(StoreResult(n, kind, int(loaded.store.dense.ntotal), len(loaded.sentences),
                                            dense_s + bm25_s, save_s, n / (dense_s + bm25_s + save_s), open_s,
                                            rss_mb() - before, disk_mb(folder / loaded.version), **m,
                                            notes=[f"dense {dense_s:.1f} s + BM25 {bm25_s:.1f} s"]))
                    del loaded, bot
                elif kind == "milvus-lite":
                    rows.append(_milvus(index, n, workdir, embedder, questions, qvecs, truth, progress,
                                        query_budget_s / 3))
                else:
                    raise ValueError(f"unknown store {kind!r}")
                r = rows[-1]
                progress(f"[stores {n:,}] {kind}: {r.rows_per_s:,.0f} rows/s, ann p95 {r.ann.p95_ms:.2f} ms, "
                         f"retrieve p95 {r.retrieve.p95_ms:.1f} ms, recall {r.recall_at_10:.3f}, "
                         f"+{r.rss_mb:.0f} MB, {r.disk_mb:.0f} MB on disk")
                gc.collect()
            del index, chunk_vectors, sentence_vectors, bm25
            gc.collect()
    finally:
        if own_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
    note = (f"Synthetic corpus: articles of {DOC_SENTENCES} sentences drawn at random (seed {seed}) from the "
            f"{len(base.sentences)} sentences of the bundled articles, one a line, chunked by the product's "
            f"chunker (90 words, 1 sentence overlap); vectors injected through the embedder seam: each sentence "
            f"its real MiniLM embedding, each chunk the normalised sum of its sentences' plus noise (sigma 0.01). "
            f"The vocabulary is the bundled articles' only, so BM25 posting lists are much longer than in a real "
            f"corpus of this size (BM25 times are pessimistic). Queries: the {len(questions)} real eval "
            f"questions, embedded once by the real embedder (p50 {embed_t.p50_ms:.1f} ms per question, not "
            f"included in the times below); one query at a time, each phase of a store stopped after {query_budget_s / 3:.0f} s "
            f"(at least 3 questions: the `timed` column). Milvus Lite {_version('milvus-lite')} runs in this "
            f"process (pure Python threads, no server process). RSS: growth from opening the committed index "
            f"and querying it (for Milvus Lite: from starting it, through the insert, to the queries; child processes counted "
            f"when there are any).")
    lite = [r for r in rows if r.store == "milvus-lite"]
    if skipped and lite:
        r = max(lite, key=lambda r: r.n)
        note += (f" Milvus Lite was not run at {', '.join(f'{n:,}' for n in skipped)} chunks: at {r.n:,} it inserted "
                 f"{r.rows_per_s:,.0f} rows/s and answered an ANN query in {r.ann.p50_ms:,.0f} ms (p50), so "
                 f"{max(skipped):,} chunks would take about {max(skipped) / max(r.rows_per_s, 1e-9) / 3600:.1f} h "
                 f"to insert alone on these 2 cores. A Milvus server (docs/deploy.md) is the engine for that size.")
    return StoresReport(scales, len(questions), embed_t, corpus_rows, rows, note)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(not installed)"


def _milvus(index, n: int, workdir: Path, embedder, questions, qvecs, truth, progress,
            budget_s: float) -> StoreResult:
    from rag import RAG
    from rag.stores import milvus_store as rm
    from rag.config import Config
    from rag.stores.index import Index

    folder = workdir / f"milvus-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    config = Config(gate="", vector_store="milvus", milvus_uri=str(folder / "milvus.db"), milvus_collection=f"scale_{n}")
    home = rm.MilvusHome.of(config)
    try:
        before = rss_mb()
        _ = home.client  # start Milvus Lite's server before timing the insert
        copy = Index(index.manifest, index.documents, index.chunks, index.store)  # save() replaces .store
        _, save_s = timed(lambda: home.save(copy))
        progress(f"[stores {n:,}] milvus-lite: inserted in {save_s:.1f} s")
        del copy
        gc.collect()
        loaded, open_s = timed(home.load)
        progress(f"[stores {n:,}] milvus-lite: opened in {open_s:.1f} s; querying")
        bot = RAG(config, loaded, embedder)
        col = home.col("chunks")
        row_of = loaded.store.row_of

        def ann(v):
            hits = home.client.search(col, data=[v.tolist()], anns_field="vector", limit=10,
                                      search_params={"metric_type": "IP"}, output_fields=[])
            return [row_of[rm._pk(h)] for h in hits[0]]

        m = _measure("milvus-lite", loaded, bot, questions, qvecs, truth, ann, budget_s=budget_s)
        count = home.client.query(col, filter="", output_fields=["count(*)"])[0]["count(*)"]
        result = StoreResult(n, "milvus-lite", int(count), len(loaded.sentences), save_s, 0.0,
                             n / save_s, open_s, rss_mb() - before, disk_mb(folder), **m,
                             notes=["insert of chunks (BM25 function) + sentences + articles; FLAT vector index"])
        del loaded, bot
        return result
    finally:
        home.close()  # stops Milvus Lite's server for the file


# --- concurrency ------------------------------------------------------------------------------------

@dataclass
class AskerRun:
    path: str  # "openai server" | "in-process"
    generator: str
    askers: int
    per_asker: int
    questions: int
    errors: int
    wall_s: float
    per_min: float
    p50_s: float
    p95_s: float
    declined: int
    first_error: str = ""


@dataclass
class ConcurrencyReport:
    generator: str
    gguf: str
    threads: int  # llama.cpp threads on both sides
    cores: int
    server_start_s: float
    runs: list[AskerRun]
    note: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_concurrently(bot, questions: list[str], askers: int, per_asker: int, path: str, name: str) -> AskerRun:
    """`askers` threads, started together, each asking its `per_asker` questions one after another."""
    start = threading.Barrier(askers)
    lock = threading.Lock()
    lat: list[float] = []
    errors: list[str] = []
    declined = [0]

    def asker(a: int) -> None:
        start.wait()
        for j in range(per_asker):
            q = questions[(a * per_asker + j) % len(questions)]
            t = time.perf_counter()
            try:
                answer = bot.ask(q)
            except Exception as exc:  # counted and reported, the others carry on
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                lat.append(time.perf_counter() - t)
                declined[0] += bool(answer.abstained)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=askers) as pool:
        list(pool.map(asker, range(askers)))
    wall = time.perf_counter() - t0
    return AskerRun(path, name, askers, per_asker, len(lat), len(errors), wall, 60 * len(lat) / wall,
                    percentile(lat, 50), percentile(lat, 95), declined[0], errors[0] if errors else "")


def start_llama_server(gguf: Path, alias: str, threads: int, n_ctx: int, log: Path,
                       timeout: float = 300, flash_attn: bool = False) -> tuple[subprocess.Popen, str, float]:
    import httpx

    port = free_port()
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
         "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", str(n_ctx),
         "--flash_attn", str(flash_attn), "--host", "127.0.0.1", "--port", str(port),
         # by default the server cuts a streaming answer short when the next request arrives: each answer
         # then ends early, cleanly, and is declined (8 of 8 in the first run of this bench)
         "--interrupt_requests", "False"],
        stdout=open(log, "w"), stderr=subprocess.STDOUT, env={**os.environ, "OPENAI_API_KEY": ""})
    url = f"http://127.0.0.1:{port}/v1"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the llama.cpp server exited with {proc.returncode}: {log.read_text()[-1500:]}")
        try:
            if httpx.get(url + "/models", timeout=2).status_code == 200:
                return proc, url, time.perf_counter() - t
        except httpx.HTTPError:
            pass
        if time.perf_counter() - t > timeout:
            stop(proc)
            raise RuntimeError(f"the llama.cpp server did not answer within {timeout:.0f} s: {log.read_text()[-1500:]}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a server process, killing it when it does not exit within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def bench_concurrency(config, questions: list[str], embedder, generator: str | None = None, askers: int = 8,
                      per_asker: int = 2, progress: Callable[[str], None] = print) -> ConcurrencyReport:
    """The same questions from `askers` threads through the OpenAI path, then in-process (see the module
    docstring). The server is stopped before the in-process run, so the two never share the cores."""
    from rag import RAG
    from rag.models import physical_cores
    from rag.models.registry import resolve

    name = generator or config.generator
    gguf = resolve(name, config.cache_dir, role="generator").path
    threads = config.n_threads or physical_cores()
    warm = questions[-1]
    runs = []
    with tempfile.TemporaryDirectory(prefix="rag-llama-server-") as tmp:
        proc, url, start_s = start_llama_server(gguf, name, threads, config.n_ctx, Path(tmp) / "server.log",
                                                flash_attn=config.flash_attn)  # as the in-process generator runs
        try:
            progress(f"[concurrency] llama.cpp server up at {url} in {start_s:.1f} s")
            bot = RAG.load(config.replace(generator=f"openai:{url}#{name}"), embedder=embedder)
            bot.ask(warm)  # the server reads the fixed instructions once, as the in-process warm-up does
            runs.append(ask_concurrently(bot, questions, askers, per_asker, "openai server", name))
            progress(f"[concurrency] openai: {runs[-1].per_min:.1f} questions/min, p95 {runs[-1].p95_s:.1f} s")
        finally:
            stop(proc)
    bot = RAG.load(config.replace(generator=name), embedder=embedder)
    bot.warm_up()
    bot.ask(warm)
    runs.append(ask_concurrently(bot, questions, askers, per_asker, "in-process", name))
    progress(f"[concurrency] in-process: {runs[-1].per_min:.1f} questions/min, p95 {runs[-1].p95_s:.1f} s")
    del bot
    gc.collect()
    cores = physical_cores()
    note = (f"{askers} threads start together and each asks {per_asker} questions one after another (the first "
            f"{askers * per_asker} single-turn eval questions). OpenAI path: one RAG object with generator "
            f"`openai:http://127.0.0.1:PORT/v1#{name}` against `python -m llama_cpp.server` (the same GGUF, "
            f"{threads} threads), which queues requests and runs one at a time; in-process: one RAG object "
            f"shared by the threads, whose llama.cpp generator answers one question at a time under its lock. "
            f"Both sides run on the same {cores} physical cores (the server is stopped before the in-process "
            f"run), so neither can add compute: the difference is the HTTP and queueing overhead. One warm-up "
            f"question on each side is not counted.")
    return ConcurrencyReport(name, gguf.name, threads, cores, start_s, runs, note)


# --- report -----------------------------------------------------------------------------------------

def to_dict(report) -> dict:
    return asdict(report)


def markdown(stores: dict | None, concurrency: dict | None) -> list[str]:
    """Markdown lines for the two sections (from their `to_dict` forms)."""
    L: list[str] = []
    if stores:
        L += ["## Stores at scale: FAISS (flat, IVF) vs Milvus Lite", "", stores["note"], "",
              "| chunks | store | rows | insert rows/s (build + save s) | open s | ANN p50 / p95 ms | recall@10 | "
              "candidates p50 / p95 ms | retrieve end-to-end p50 / p95 ms | timed | RSS MB | disk MB |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in stores["rows"]:
            L.append(f"| {r['n']:,} | {r['store']} | {r['rows_inserted']:,} | {r['rows_per_s']:,.0f} "
                     f"({r['build_s'] + r['save_s']:.1f}) | {r['open_s']:.1f} | {r['ann']['p50_ms']:.2f} / "
                     f"{r['ann']['p95_ms']:.2f} | {r['recall_at_10']:.3f} | {r['candidates']['p50_ms']:.1f} / "
                     f"{r['candidates']['p95_ms']:.1f} | {r['retrieve']['p50_ms']:.1f} / {r['retrieve']['p95_ms']:.1f} "
                     f"| {r['questions_timed']} | {r['rss_mb']:,.0f} | {r['disk_mb']:,.0f} |")
        L += ["", "Corpus per scale: " + "; ".join(
            f"{c['n']:,}: {c['documents']:,} articles, {c['sentences']:,} sentences "
            f"({c['sentences_per_chunk']:.2f} per chunk), built in {c['build_s']:.1f} s, +{c['rss_mb']:,.0f} MB"
            for c in stores["corpus"]) + ".",
              "", "ANN: the dense top 10 alone. Candidates: the store's `search` (BM25 top k + dense top k with "
              "their scores; Milvus: one `hybrid_search`). Retrieve: `RAG.retrieve`, what the pipeline runs before "
              "the prompt (query terms, candidates, fusion, sentence selection, constraints). FAISS insert: dense "
              "index + BM25 + `Index.save`; Milvus: `MilvusHome.save` (chunk rows with Milvus's BM25 function, "
              "sentence rows, article rows).", ""]
    if concurrency:
        c = concurrency
        L += [f"## Concurrent askers: OpenAI server vs in-process (`{c['generator']}`)", "", c["note"], "",
              "| path | askers x questions | answered | errors | declined | wall s | questions/min | p50 s | p95 s |",
              "|---|---|---|---|---|---|---|---|---|"]
        for r in c["runs"]:
            L.append(f"| {r['path']} | {r['askers']} x {r['per_asker']} | {r['questions']} | {r['errors']} | "
                     f"{r['declined']} | {r['wall_s']:.1f} | {r['per_min']:.1f} | {r['p50_s']:.1f} | {r['p95_s']:.1f} |")
        errs = [f"{r['path']}: {r['first_error']}" for r in c["runs"] if r["first_error"]]
        L += ["", f"Server start-up (model load until /v1/models answers): {c['server_start_s']:.1f} s."]
        L += [f"First error, {e}" for e in errs]
        L.append("")
    return L
