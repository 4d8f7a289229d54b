"""FAISS IVF at N chunks end to end, with the real archive's sentences as the text.

    index, embedder, info = scaled_index(archive_index, 1_000_000, keep={"doj-1341", ...})
    row = bench_scaled(archive_index, items, real_embedder, 1_000_000, workdir)

The corpus is the archive index as it is (its documents, chunks and real MiniLM vectors) plus filler
articles of its other sentences, recombined by eval/scale.py (`synthetic_documents`) until the index
holds N chunks. A filler sentence keeps its real embedding and a filler chunk gets the sum of its
sentences' plus noise (eval/scale.py's `VectorsFromSentences`), so nothing is embedded and BM25 sees the
archive's own vocabulary. The questions' documents keep their sentences to themselves (no filler
article repeats them), so finding the right document among N chunks still means something. Filler
articles carry dates drawn from the archive's, so a question asked on a day (as_of) filters them too.

Then the index is committed as the product commits it (`Index.save`, index_type "ivf"), opened again
(`load_folder`), and `RAG.retrieve` is timed end to end with the gate off and on, beside its parts:
embedding the question, query terms, BM25 alone, the ANN search alone, candidates and fusion
(`retrieve_chunks`), and sentence selection (`select_passages`). See `eval/archive.py` for the report.
"""

from __future__ import annotations

import dataclasses
import gc
import shutil
import time
from pathlib import Path

import numpy as np

from eval import metrics
from eval.scale import Timing, VectorsFromSentences, disk_mb, rss_mb, synthetic_documents, timed


def scaled_index(base, n_chunks: int, keep: set[str] = frozenset(), seed: int = 0, index_type: str = "ivf"):
    """(index, embedder, info): `base`'s documents plus filler articles of its sentences to `n_chunks`
    chunks in all (none when it already has that many), vectors injected (see the module docstring)."""
    from rag.stores import new_index

    c = base.manifest["chunking"]
    chunk_vectors, sentence_vectors = base.store.vectors()
    texts = [base.documents[s.doc_id].text[s.start:s.end] for s in base.sentences]
    pool = [t for s, t in zip(base.sentences, texts) if s.doc_id not in keep and "\n" not in t and t.strip()]
    need = n_chunks - len(base.chunks)
    filler = synthetic_documents(pool, need, c["chunk_words"], c["chunk_overlap"], seed) if need > 0 else []
    dates = sorted({d.published for d in base.documents.values() if d.published}) or [""]
    rng = np.random.default_rng(seed)
    filler = [dataclasses.replace(d, id=f"filler-{i:07d}", title=f"Filler article {i}", outlet="Filler",
                                  published=dates[int(rng.integers(len(dates)))]) for i, d in enumerate(filler)]
    known = texts + [ch.text for ch in base.chunks]  # real vectors for the real sentences and chunks
    embedder = VectorsFromSentences(known, np.concatenate([sentence_vectors, chunk_vectors]), seed=seed)
    index = new_index(list(base.documents.values()) + filler, embedder, c["chunk_words"], c["chunk_overlap"],
                      index_type=index_type)
    info = {"archive_documents": len(base.documents), "archive_chunks": len(base.chunks),
            "filler_documents": len(filler), "pool_sentences": len(pool), "documents": len(index.documents),
            "chunks": len(index.chunks), "sentences": len(index.sentences)}
    return index, embedder, info


def timed_parts(bot, items: list[dict], embedder) -> tuple[dict[str, Timing], list[dict]]:
    """Each question's retrieval taken apart (ms), then `bot.retrieve` end to end; and per-question rows
    with where the evidence was found (rank among the passages) and whether a passage came from a
    document of the question's `doc_ids`. `bot.config.as_of` follows each item's `as_of`."""
    from rag.retrieve import query_terms, retrieve_chunks, select_passages

    index, base = bot.index, bot.config
    parts: dict[str, list[float]] = {k: [] for k in ("embed", "terms", "bm25", "ann", "candidates_fusion",
                                                     "select", "retrieve")}
    rows = []
    for item in items:
        bot.config = base.replace(as_of=item.get("as_of") or base.as_of)
        c, q = bot.config, item["question"]
        history = [tuple(t) for t in item.get("history") or []]
        t0 = time.perf_counter()
        qvec = embedder.embed([q], query=True)[0]
        t1 = time.perf_counter()
        terms = query_terms(index, q)
        t2 = time.perf_counter()
        index.store.lexical_scores(terms.all_index_terms())
        t3 = time.perf_counter()
        index.store.search_dense(qvec, c.top_chunks * 4)
        t4 = time.perf_counter()
        hits = retrieve_chunks(index, terms, qvec, c.retrieval, c.fusion, c.lexical_weight, c.top_chunks)
        t5 = time.perf_counter()
        select_passages(index, terms, qvec, hits, max(c.passages, c.gate_candidates), c.passage_words)
        t6 = time.perf_counter()
        found = bot.retrieve(q, history)
        t7 = time.perf_counter()
        for key, (a, b) in zip(parts, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6), (t6, t7)]):
            parts[key].append((b - a) * 1000)
        texts = [p.text for p in found.passages]
        rows.append({"id": item["id"], "answerable": item["answerable"], "retrieve_ms": (t7 - t6) * 1000,
                     "evidence_rank": metrics.retrieval_ranks(texts, item.get("evidence") or [])
                     if item["answerable"] else None,
                     "doc_hit": any(p.doc.id in (item.get("doc_ids") or ()) for p in found.passages),
                     "passage_docs": [p.doc.id for p in found.passages]})
    bot.config = base
    return {k: Timing.of(v) for k, v in parts.items()}, rows


def quality(rows: list[dict]) -> dict:
    """Evidence in the passages and right document among them, over the answerable rows."""
    answerable = [r for r in rows if r["answerable"]]
    ranks = [r["evidence_rank"] for r in answerable]
    return {"answerable": len(answerable), "evidence_found": metrics.recall_at(ranks, 99),
            "evidence_first": metrics.recall_at(ranks, 1), "doc_hit": metrics.rate([r["doc_hit"] for r in answerable])}


def bench_scaled(base, items: list[dict], embedder, n_chunks: int, workdir: Path, gate: str = "gate",
                 seed: int = 0, keep_folder: bool = False, progress=print) -> dict:
    """Build, commit, open and time the scaled index (see the module docstring); one dict for the report."""
    import resource

    from rag import RAG
    from rag.config import Config
    from rag.errors import ModelError
    from rag.stores import load_folder

    keep = {d for item in items for d in item.get("doc_ids") or ()}
    folder = Path(workdir) / f"ivf-{n_chunks}"
    shutil.rmtree(folder, ignore_errors=True)
    gc.collect()
    rss0 = rss_mb()
    (index, _, info), corpus_s = timed(lambda: scaled_index(base, n_chunks, keep, seed))
    progress(f"[{n_chunks:,}] corpus: {info['documents']:,} documents ({info['filler_documents']:,} filler), "
             f"{info['chunks']:,} chunks, {info['sentences']:,} sentences in {corpus_s:.0f} s")
    _, dense_s = timed(lambda: index.store.dense)
    _, bm25_s = timed(lambda: index.store.lexical)
    _, save_s = timed(lambda: index.save(folder))
    progress(f"[{n_chunks:,}] IVF {dense_s:.0f} s, BM25 {bm25_s:.0f} s, commit {save_s:.0f} s")
    build_rss = rss_mb() - rss0
    del index
    gc.collect()
    before = rss_mb()
    loaded, open_s = timed(lambda: load_folder(folder))
    bot = RAG(Config(index_dir=folder, gate=""), loaded, embedder)
    _, first_s = timed(lambda: bot.retrieve(items[0]["question"]))  # vocabulary, sentence rows, outlet terms
    parts, rows = timed_parts(bot, items, embedder)
    progress(f"[{n_chunks:,}] retrieve p50 {parts['retrieve'].p50_ms:.0f} ms, p95 {parts['retrieve'].p95_ms:.0f} ms "
             f"(gate off)")
    qvecs = np.stack([embedder.embed([i["question"]], query=True)[0] for i in items])
    chunk_vectors = loaded.store.vectors()[0]
    exact = np.argpartition(-(chunk_vectors @ qvecs.T), 10, axis=0)[:10].T  # the exact top 10, for recall@10
    found = [loaded.store.search_dense(v, 10)[1] for v in qvecs]
    recall = float(np.mean([len(set(f.tolist()) & set(t.tolist())) / 10 for f, t in zip(found, exact)]))
    _, numbers_s = timed(lambda: loaded.numbers)  # every number of every article: read by the answer checks
    from rapidfuzz import fuzz, process

    vocab = loaded.store.vocabulary
    _, fuzzy_s = timed(lambda: process.extractOne("zqxvorth", tuple(vocab), scorer=fuzz.ratio, score_cutoff=70))
    gate_row: dict = {"gate": gate or "off"}
    if gate:
        try:
            gbot = RAG(Config(index_dir=folder, gate=gate), loaded, embedder)
            gbot.warm_up(generator=False)
            g_parts, g_rows = timed_parts(gbot, items, embedder)
            gate_row.update(retrieve=g_parts["retrieve"], quality=quality(g_rows))
        except ModelError as exc:
            gate_row["skipped"] = str(exc).split("\n")[0]
    version = folder / loaded.version
    result = {
        "n": n_chunks, "index_type": loaded.manifest["index_type"], **info, "corpus_s": corpus_s,
        "dense_s": dense_s, "bm25_s": bm25_s, "save_s": save_s, "open_s": open_s, "first_retrieve_s": first_s,
        "numbers_s": numbers_s, "fuzzy_name_ms": fuzzy_s * 1000, "vocabulary": len(vocab),
        "build_rss_mb": build_rss, "rss_mb": rss_mb() - before, "peak_rss_mb": resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024, "disk_mb": disk_mb(version),
        "files_mb": {p.name: disk_mb(p) for p in sorted(version.iterdir())},
        "recall_at_10": recall, "parts": parts, "quality": quality(rows), "gate_on": gate_row, "rows": rows,
    }
    del bot, loaded
    gc.collect()
    if not keep_folder:
        shutil.rmtree(folder, ignore_errors=True)
    return result
