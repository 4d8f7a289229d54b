"""Benchmark: cold start, indexing, per-stage answer latency, memory, index scaling, and a peer.

    python -m eval.bench                       # everything (2+ hours on 2 cores: stores up to 1M chunks)
    python -m eval.bench --quick               # small scales, 20 questions, no peer
    python -m eval.bench --only scaling --scales 10000,100000,1000000
    python -m eval.bench --only stores --scales 100000,1000000     # FAISS vs Milvus Lite (eval/scale.py)
    python -m eval.bench --only concurrency --askers 8 --per-asker 2

Writes eval/results/bench.json and eval/results/bench.md; the stores and concurrency sections also
go to eval/results/scale.json and scale.md. Targets are goals reported next to the
measurements, not pass/fail tests.
"""

from __future__ import annotations

from rag.stores import new_index, load_folder
import argparse
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval import metrics, scale
from eval.run import RESULTS, SETS, load_items, machine
from rag.config import Config

SECTIONS = ("cold", "indexing", "latency", "scaling", "peer", "stores", "concurrency")
TARGETS = {  # issue 10: ratios to the unit (eval/unit.py) of the default generator, measured in the same run
    "first_token_p50_unit": ("time to first token, p50", "<= 0.15 unit"),
    "answer_p50_unit": ("full answer, p50", "<= 0.30 unit"),
    "answer_p95_unit": ("full answer, p95", "<= 0.50 unit"),
    "cold_start_s": ("cold start (models assembled)", "<= 10 s"),
    "index_build_s": ("seed corpus indexing after model load", "<= 5 s"),
    "search_p95_ms_1m": ("retrieval p95 at 1M chunks, recall@10 >= 0.95", "<= 20 ms"),
    "peer_ratio_p50": ("peer p50 / ours p50, each set, equal or better accuracy", ">= 3x"),
}


def progress(iterable, desc, total=None):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="it", leave=False)


# --- 1. cold start (a fresh process, as a user starting the app) ---------------------------------

COLD_SCRIPT = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
from rag import RAG
from rag.config import Config
t_import = time.perf_counter()
config = Config().replace(index_dir=sys.argv[1], generator=sys.argv[2])
bot = RAG.load(config)
t_index = time.perf_counter()
bot.embedder.warm_up()
t_emb = time.perf_counter()
bot.generator.warm_up()
t_gen = time.perf_counter()
a = bot.ask("What cap on Ukraine's military did the first US draft propose?")
t_first = time.perf_counter()
for q in json.loads(sys.argv[3]):
    bot.ask(q)
print(json.dumps({"import_s": t_import - t0, "index_load_s": t_index - t_import, "embedder_load_s": t_emb - t_index,
                  "generator_load_s": t_gen - t_emb, "ready_s": t_gen - t0, "first_answer_s": t_first - t_gen,
                  "first_answer": a.text, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_cold(config: Config, index_dir: Path, questions: list[str]) -> dict:
    from rag.models import registry as models

    out = {}
    with tempfile.TemporaryDirectory() as cache:  # assembly from the packages into an empty cache
        t = time.perf_counter()
        models.resolve(config.generator, Path(cache), role="generator")
        out["assemble_and_hash_first_s"] = time.perf_counter() - t
        t = time.perf_counter()
        models.resolve(config.generator, Path(cache), role="generator")
        out["resolve_cached_s"] = time.perf_counter() - t
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    for gen in dict.fromkeys([config.generator, "fast", "quality"]):
        r = subprocess.run([sys.executable, "-c", COLD_SCRIPT, str(index_dir), gen, json.dumps(questions)],
                           capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
        if r.returncode:
            raise RuntimeError(r.stderr[-2000:])
        out[gen] = json.loads(r.stdout.strip().splitlines()[-1])
    out["cold_start_s"] = out[config.generator]["ready_s"]
    return out


# --- 2. indexing ----------------------------------------------------------------------------------

def bench_indexing(config: Config, embedder) -> dict:
    from rag.stores.index import Index, corpus_fingerprint, load_corpus

    docs = load_corpus(config.corpus_dir)
    t = time.perf_counter()
    index = new_index(docs, embedder, config.chunk_words, config.chunk_overlap,
                        corpus=corpus_fingerprint(config.corpus_dir))
    build = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        index.save(Path(tmp) / "index")
        save = time.perf_counter() - t
        t = time.perf_counter()
        load_folder(Path(tmp) / "index")
        load = time.perf_counter() - t
    texts = [c.text for c in index.chunks]
    t = time.perf_counter()
    embedder.embed(texts)
    embed_s = time.perf_counter() - t
    return {"documents": len(docs), "chunks": len(index.chunks), "sentences": len(index.sentences),
            "index_build_s": build, "save_s": save, "load_s": load,
            "embed_chunks_per_s": len(texts) / embed_s, "words": sum(len(d.text.split()) for d in docs)}


# --- 3. per-question latency -------------------------------------------------------------------------

STAGES = ("rewrite", "retrieve", "select", "prompt_eval", "generate", "verify", "first_token", "total")


def bench_latency(bot, items: list[dict], generator: str, unit: dict | None = None, scoring: str = "alias") -> dict:
    """Each question once through `bot.ask`; every stage's p50/p95 in seconds and, given the unit
    of this generator (eval/unit.py, same run), as a ratio to it."""
    from eval.run import score

    rows = []
    gen = bot.generator_for(generator)
    gen.warm_up()
    for item in progress(items, f"latency {generator}"):
        history = [tuple(t) for t in item.get("history") or []]
        a = bot.ask(item["question"], history, generator=generator)
        rows.append({"id": item["id"], "kind": item["kind"], "timings": vars(a.timings), "prompt_tokens": a.prompt_tokens,
                     "prompt_evaluated": a.prompt_evaluated, "completion_tokens": a.completion_tokens,
                     "abstained": a.abstained, "answer": a.text, "verdict": a.verdict,
                     "correct": score(item, a.text, a.abstained, scoring)["correct"], "answerable": item["answerable"]})
    out = {"generator": gen.identity(), "questions": len(rows), "unit": unit}
    for stage in STAGES:
        values = [r["timings"][stage] for r in rows]
        out[stage] = {"p50": metrics.percentile(values, 50), "p95": metrics.percentile(values, 95),
                      "mean": float(np.mean(values)) if values else 0.0}
        if unit:
            out[stage].update({f"{k}_unit": out[stage][k] / unit["seconds"] for k in ("p50", "p95", "mean")})
    generated = [r for r in rows if r["completion_tokens"] > 0]
    read_rate = [r["prompt_evaluated"] / r["timings"]["prompt_eval"] for r in generated
                 if r["timings"]["prompt_eval"] > 0 and r["prompt_evaluated"] > 0]
    write_rate = [(r["completion_tokens"] - 1) / r["timings"]["generate"] for r in generated
                  if r["timings"]["generate"] > 0 and r["completion_tokens"] > 1]
    out["tokens"] = {"prompt_mean": float(np.mean([r["prompt_tokens"] for r in generated] or [0])),
                     "prompt_evaluated_mean": float(np.mean([r["prompt_evaluated"] for r in generated] or [0])),
                     "completion_mean": float(np.mean([r["completion_tokens"] for r in generated] or [0])),
                     "read_tok_per_s": float(np.median(read_rate)) if read_rate else 0.0,
                     "write_tok_per_s": float(np.median(write_rate)) if write_rate else 0.0}
    answerable = [r for r in rows if r["answerable"]]
    out["accuracy"] = metrics.rate([r["correct"] for r in answerable])
    out["declined_correctly"] = metrics.rate([r["correct"] for r in rows if not r["answerable"]])
    out["rows"] = rows
    return out


# --- 5. index scaling ---------------------------------------------------------------------------------

def synthetic_vectors(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Mixtures of two real chunk embeddings plus noise, normalised: topical structure like a real
    corpus (clusters around real content), not uniform random points."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        i, j = rng.integers(0, len(base), m), rng.integers(0, len(base), m)
        w = rng.uniform(0.55, 1.0, (m, 1)).astype(np.float32)
        v = w * base[i] + (1 - w) * base[j] + rng.normal(0, 0.035, (m, base.shape[1])).astype(np.float32)
        out[s:s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def bench_scaling(base: np.ndarray, queries: np.ndarray, scales: list[int], k: int = 10) -> list[dict]:
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    results = []
    for n in scales:
        data = synthetic_vectors(base, n)
        exact = faiss.IndexFlatIP(data.shape[1])
        exact.add(data)
        _, truth = exact.search(queries, k)
        configs = [("flat", None)]
        configs += [("hnsw", ef) for ef in (32, 64, 128)]
        configs += [("ivf", nprobe) for nprobe in (8, 16, 32)]
        built: dict[str, tuple] = {}
        for kind, param in progress(configs, f"scaling {n:,}"):
            if kind not in built:
                t = time.perf_counter()
                index = exact if kind == "flat" else _make(kind, data)
                build_s = 0.0 if kind == "flat" else time.perf_counter() - t
                size_mb = len(faiss.serialize_index(index)) / 2**20
                built[kind] = (index, build_s, size_mb)
            index, build_s, size_mb = built[kind]
            if kind == "hnsw":
                index.hnsw.efSearch = param
            if kind == "ivf":
                index.nprobe = param
            lat, found = [], []
            for q in queries:  # one query at a time, as the app searches
                t = time.perf_counter()
                _, ids = index.search(q.reshape(1, -1), k)
                lat.append((time.perf_counter() - t) * 1000)
                found.append(ids[0])
            recall = float(np.mean([len(set(f) & set(tr)) / k for f, tr in zip(found, truth)]))
            results.append({"n": n, "index": kind, "param": param, "build_s": build_s, "size_mb": size_mb,
                            "p50_ms": metrics.percentile(lat, 50), "p95_ms": metrics.percentile(lat, 95),
                            "recall@10": recall})
        del data, exact, built
        gc.collect()
    return results


def _make(kind: str, data: np.ndarray):
    from rag.stores.faiss_store import make_faiss

    return make_faiss(data, kind)  # the product's own index settings


# --- 6. the peer ------------------------------------------------------------------------------------

def bench_peer(config: Config, items: list[dict], ours: dict, generator: str, scoring: str = "alias",
               unit: dict | None = None) -> dict:
    """The LlamaIndex peer on `items` over `config.corpus_dir`, beside our rows on the same items
    (`ours`: bench_latency's result), both scored by the set's rule."""
    from eval import peer
    from eval.run import score
    from rag.models.registry import resolve
    from rag.grounding.verify import is_refusal

    missing = peer.peer_available()
    if missing:
        return {"skipped": f"LlamaIndex is not installed: {missing}"}
    emb = resolve(config.embedder, config.cache_dir, role="embedder")
    gguf = resolve(generator, config.cache_dir, role="generator")
    t = time.perf_counter()
    p = peer.LlamaIndexPeer(str(emb.path), str(gguf.path), str(config.corpus_dir))
    build_s = time.perf_counter() - t
    rows = []
    for item in progress(items, "peer"):
        r = p.answer(item["question"])
        declined = is_refusal(r["text"])
        rows.append({"id": item["id"], "answer": r["text"], "seconds": r["seconds"], "first_token": r["first_token"],
                     "correct": score(item, r["text"], declined, scoring)["correct"],
                     "answerable": item["answerable"], "declined": declined})
        if scoring == "squad":  # the answer quotes SQuAD's paragraphs: they stay in its file (eval.run.redact)
            del rows[-1]["answer"]
    del p
    gc.collect()
    ours_rows = {r["id"]: r for r in ours["rows"]}
    mine = [ours_rows[r["id"]] for r in rows if r["id"] in ours_rows]

    def side(done: list[dict], seconds: list[float], first: list[float]) -> dict:
        out = {"accuracy": metrics.rate([r["correct"] for r in done if r["answerable"]]),
               "declined_correctly": metrics.rate([r["correct"] for r in done if not r["answerable"]]),
               "p50_s": metrics.percentile(seconds, 50), "p95_s": metrics.percentile(seconds, 95),
               "first_token_p50_s": metrics.percentile(first, 50)}
        if unit:
            out.update({k.replace("_s", "_unit"): out[k] / unit["seconds"] for k in ("p50_s", "p95_s", "first_token_p50_s")})
        return out

    summary = {
        "pipeline": "LlamaIndex: SentenceSplitter(256/32), HuggingFaceEmbedding + BM25 fused (QueryFusionRetriever, RRF), "
                    "top 4, default QA prompt, LlamaCPP",
        "corpus": str(config.corpus_dir), "generator": gguf.identity(), "build_s": build_s, "questions": len(rows),
        "peer": side(rows, [r["seconds"] for r in rows], [r["first_token"] for r in rows]),
        "ours": side(mine, [r["timings"]["total"] for r in mine], [r["timings"]["first_token"] for r in mine]),
        "rows": rows,
    }
    summary["ratio_p50"] = summary["peer"]["p50_s"] / max(summary["ours"]["p50_s"], 1e-9)
    summary["ratio_p95"] = summary["peer"]["p95_s"] / max(summary["ours"]["p95_s"], 1e-9)
    return summary


# --- report -------------------------------------------------------------------------------------------

def markdown(report: dict) -> str:
    m = report["machine"]
    L = [f"# Benchmark ({report['date']})", "",
         f"Machine: {m['physical_cores']} cores, {m['ram_gb']} GiB RAM, GPU: {m['gpu']}. "
         f"Default generator: `{report['config']['generator']}`. Command: `{report['command']}`.", ""]
    units = report.get("units") or {}
    if units:
        L += ["## The unit", "", "Raw llama.cpp reading a 480-token prompt from scratch and writing 20 tokens with the "
              "generator's GGUF and thread count, measured at the start of this run (eval/unit.py, median of 3). "
              "Every latency below is also given as a ratio to it: seconds differ several-fold between machines "
              "and runs, the ratio much less.", "", "| generator | unit s | read 480 tokens s | write 20 tokens s |",
              "|---|---|---|---|"]
        L += [f"| `{g}` | {u['seconds']:.2f} | {u['read_s']:.2f} | {u['write_s']:.2f} |" for g, u in units.items()]
        L.append("")
    c = report.get("cold")
    if c:
        L += ["## Cold start", "", "| step | seconds |", "|---|---|",
              f"| assemble + sha256 the generator (first time) | {c['assemble_and_hash_first_s']:.2f} |",
              f"| resolve when already assembled | {c['resolve_cached_s']:.4f} |"]
        for gen in ("fast", "quality"):
            if gen in c:
                g = c[gen]
                L.append(f"| `{gen}`: import {g['import_s']:.2f} + index load {g['index_load_s']:.2f} + embedder "
                         f"{g['embedder_load_s']:.2f} + generator {g['generator_load_s']:.2f} = **ready in {g['ready_s']:.2f}** "
                         f"(first answer {g['first_answer_s']:.2f}; peak RSS {g['peak_rss_mb']:.0f} MB) | {g['ready_s']:.2f}"
                         + (f" ({g['ready_unit']:.2f} unit; first answer {g['first_answer_unit']:.2f} unit)"
                            if "ready_unit" in g else "") + " |")
        L.append("")
    i = report.get("indexing")
    if i:
        L += ["## Indexing", "", f"{i['documents']} articles ({i['words']:,} words) → {i['chunks']} chunks, "
              f"{i['sentences']} sentences: built in **{i['index_build_s']:.2f} s** (chunking + embedding chunks and "
              f"sentences, BM25, FAISS), saved in {i['save_s']:.2f} s, loaded in {i['load_s']:.2f} s. "
              f"Embedding throughput: {i['embed_chunks_per_s']:.0f} chunks/s.", ""]
    for name, lat in report.get("latency", {}).items():
        L += [f"## Per-question latency: `{name}` ({lat['questions']} questions; accuracy {lat['accuracy']:.1%}, "
              f"declined right {lat['declined_correctly']:.1%})", "",
              "| stage | p50 s | p95 s | mean s | p50 unit | p95 unit |", "|---|---|---|---|---|---|"]
        for stage in STAGES:
            s = lat[stage]
            L.append(f"| {stage} | {s['p50']:.3f} | {s['p95']:.3f} | {s['mean']:.3f} | "
                     f"{s.get('p50_unit', float('nan')):.3f} | {s.get('p95_unit', float('nan')):.3f} |")
        t = lat["tokens"]
        L += ["", f"Tokens per answer: prompt {t['prompt_mean']:.0f} (of which {t['prompt_evaluated_mean']:.0f} computed, "
              f"the rest reused from the KV cache), completion {t['completion_mean']:.1f}. "
              f"Reading {t['read_tok_per_s']:.0f} tok/s, writing {t['write_tok_per_s']:.1f} tok/s.", ""]
    sc = report.get("scaling")
    if sc:
        L += ["## Index scaling (synthetic vectors, 384-d)", "", report["scaling_note"], "",
              "| chunks | index | param | build s | size MB | p50 ms | p95 ms | recall@10 |", "|---|---|---|---|---|---|---|---|"]
        for r in sc:
            L.append(f"| {r['n']:,} | {r['index']} | {r['param'] or ''} | {r['build_s']:.1f} | {r['size_mb']:.0f} | "
                     f"{r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['recall@10']:.3f} |")
        L.append("")
    for set_name, p in (report.get("peer") or {}).items():
        if "skipped" in p:
            L += ["## Peer", "", p["skipped"], ""]
            continue
        L += [f"## Peer on `{set_name}`: LlamaIndex, same embedder files and GGUF, same {p['questions']} questions", "",
              p["pipeline"], "", "| pipeline | answerable right | declined right | p50 s (unit) | p95 s (unit) | "
              "first token p50 s (unit) |", "|---|---|---|---|---|---|"]
        for who in ("ours", "peer"):
            s = p[who]
            u = lambda k: f" ({s[k + '_unit']:.2f})" if k + "_unit" in s else ""  # noqa: E731
            L.append(f"| {who} | {s['accuracy']:.1%} | {s['declined_correctly']:.1%} | {s['p50_s']:.2f}{u('p50')} | "
                     f"{s['p95_s']:.2f}{u('p95')} | {s['first_token_p50_s']:.2f}{u('first_token_p50')} |")
        L += ["", f"Peer / ours: **{p['ratio_p50']:.1f}x** at p50, {p['ratio_p95']:.1f}x at p95 "
              f"(index build: peer {p['build_s']:.1f} s).", ""]
    L += ["## Targets", "", "| target | goal | measured |", "|---|---|---|"]
    for key, (label, goal) in TARGETS.items():
        value = report["targets"].get(key)
        L.append(f"| {label} | {goal} | {value if value is not None else 'not measured'} |")
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    ap.add_argument("--scales", default="10000,100000,1000000")
    ap.add_argument("--questions", type=int, default=0, help="N questions of --set at an even stride (0 = all)")
    ap.add_argument("--set", default="heldout", help="our question set the latency section answers (questions, heldout)")
    ap.add_argument("--quick", action="store_true", help="20 questions, scales up to 100k, no peer")
    ap.add_argument("--peer-sets", default="questions,squad-test", help="peer section: question sets, ours and the peer")
    ap.add_argument("--peer-questions", type=int, default=20, help="peer section: questions per set (even stride)")
    ap.add_argument("--out", default="bench")
    ap.add_argument("--stores", default="faiss-flat,faiss-ivf,milvus-lite", help="stores section: which stores")
    ap.add_argument("--store-budget", type=float, default=300.0,
                    help="stores section: seconds of queries per store and scale (at least 3 questions a phase)")
    ap.add_argument("--milvus-max", type=int, default=100_000,
                    help="stores section: Milvus Lite only up to this many chunks (0: every scale)")
    ap.add_argument("--concurrency-generator", default="", help="concurrency section: generator (default: the config's)")
    ap.add_argument("--askers", type=int, default=8, help="concurrency section: concurrent askers")
    ap.add_argument("--per-asker", type=int, default=2, help="concurrency section: questions per asker")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sections = set(args.only.split(","))
    scales = [int(s) for s in args.scales.split(",")]
    n_questions = args.questions
    if args.quick:
        sections -= {"peer"}
        scales = [s for s in scales if s <= 100_000]
        n_questions = n_questions or 20

    from eval.external import DataMissing
    from eval.external.squad import LayoutError
    from eval.run import resolve_set
    from eval.unit import measure
    from rag import RAG
    from rag.models.embed import SentenceTransformerEmbedder

    config = Config()
    items = load_items(SETS[args.set], n_questions)
    report = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine(),
              "config": config.public_dict(), "command": "python -m eval.bench " + " ".join(argv or sys.argv[1:]),
              "targets": {}}
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    emb = SentenceTransformerEmbedder(config.embedder, config.cache_dir, config.device)
    t = time.perf_counter()
    emb.warm_up()
    report["embedder_load_s"] = time.perf_counter() - t
    bot = RAG.load(config.replace(index_dir=tmp / "index"), embedder=emb)
    generators = list(dict.fromkeys([config.generator, "fast", "quality"]))
    if sections & {"cold", "latency", "peer"}:
        # the unit of each generator, first and in this run: every latency below is also a ratio to it
        report["units"] = {g: measure(g, config=config).to_dict() for g in generators}
        for g, u in report["units"].items():
            print(f"unit for {g}: {u['seconds']:.2f} s (read 480 tokens {u['read_s']:.2f} s, write 20 {u['write_s']:.2f} s)")
    units = report.get("units", {})

    if "indexing" in sections:
        report["indexing"] = bench_indexing(config, emb)
        report["targets"]["index_build_s"] = f"{report['indexing']['index_build_s']:.2f} s"
    if "cold" in sections:
        report["cold"] = bench_cold(config, tmp / "index", [i["question"] for i in items[:5]])
        for g in generators:
            if g in report["cold"] and g in units:
                c = report["cold"][g]
                c["ready_unit"], c["first_answer_unit"] = (c["ready_s"] / units[g]["seconds"],
                                                           c["first_answer_s"] / units[g]["seconds"])
        report["targets"]["cold_start_s"] = f"{report['cold']['cold_start_s']:.2f} s"
    if "latency" in sections or "peer" in sections:
        report["latency"] = {}
        for gen in generators:
            report["latency"][gen] = bench_latency(bot, items, gen, units.get(gen))
        d = report["latency"][config.generator]
        for key, stage, q in (("first_token_p50_unit", "first_token", "p50"), ("answer_p50_unit", "total", "p50"),
                              ("answer_p95_unit", "total", "p95")):
            report["targets"][key] = f"{d[stage][q + '_unit']:.2f} unit ({d[stage][q]:.2f} s)"
        rss = report.get("cold", {}).get(config.generator, {}).get("peak_rss_mb")
        if rss:
            report["targets"]["peak_rss_mb"] = f"{rss:.0f} MB"
    if "scaling" in sections:
        base = np.concatenate([bot.index.chunk_vectors, bot.index.sentence_vectors])
        queries = emb.embed([i["question"] for i in load_items(SETS["questions"])], query=True)
        report["scaling"] = bench_scaling(base, queries, scales)
        report["scaling_note"] = (f"Vectors: each a normalised mix of two of the {len(base)} real chunk and sentence "
                                  f"embeddings (weights 0.55-1.0) plus Gaussian noise (sigma 0.035 per dimension); "
                                  f"queries: the {len(queries)} real eval questions, embedded; recall@10 against exact "
                                  f"search; one query at a time.")
        at_1m = [r for r in report["scaling"] if r["n"] == max(scales) and r["recall@10"] >= 0.95]
        if at_1m:
            best = min(at_1m, key=lambda r: r["p95_ms"])
            report["targets"]["search_p95_ms_1m"] = (f"{best['p95_ms']:.2f} ms ({best['index']} {best['param']}, "
                                                     f"recall {best['recall@10']:.3f}) at {max(scales):,}")
    if "peer" in sections:
        report["peer"] = {}
        for name in filter(None, args.peer_sets.split(",")):
            try:
                qs = resolve_set(name)
            except (DataMissing, LayoutError) as exc:  # a SQuAD set without its JSON: say where to get it
                print(f"peer: skipping {name}: {exc}", file=sys.stderr)
                continue
            c = config.replace(corpus_dir=qs.corpus_dir) if qs.corpus_dir else config
            asked = [i for i in load_items(qs.path, args.peer_questions) if not i.get("history")]
            ours_bot = RAG.load(c.replace(index_dir=tmp / f"index-{qs.name}"), embedder=emb)
            ours_bot.set_generator(bot.generator_for(config.generator))  # the same model, already loaded
            ours = bench_latency(ours_bot, asked, config.generator, units.get(config.generator), qs.scoring)
            report["peer"][qs.name] = bench_peer(c, asked, ours, config.generator, qs.scoring,
                                                 units.get(config.generator))
        ratios = {n: p["ratio_p50"] for n, p in report["peer"].items() if "ratio_p50" in p}
        if ratios:
            report["targets"]["peer_ratio_p50"] = ", ".join(f"{n} {r:.1f}x" for n, r in ratios.items())

    single = [i["question"] for i in items if not i.get("history")]
    if "stores" in sections:
        report["stores"] = scale.to_dict(scale.bench_stores(bot.index, single, emb, scales,
                                                            stores=args.stores.split(","),
                                                            query_budget_s=args.store_budget,
                                                            milvus_max=args.milvus_max))
    if "concurrency" in sections:
        report["concurrency"] = scale.to_dict(scale.bench_concurrency(
            config.replace(index_dir=tmp / "index"), single, emb, args.concurrency_generator or None,
            args.askers, args.per_asker))

    RESULTS.mkdir(parents=True, exist_ok=True)
    if "stores" in sections or "concurrency" in sections:
        # the two sections may be run separately: a run replaces its own sections and keeps the other's
        path = RESULTS / "scale.json"
        own = json.loads(path.read_text()) if path.exists() else {}
        for k in ("stores", "concurrency"):
            if k in report:
                own[k] = {**report[k], "date": report["date"], "command": report["command"]}
        own["machine"] = report["machine"]
        path.write_text(json.dumps(own, indent=1, default=str))
        m = report["machine"]
        runs = "; ".join(f"{k}: `{own[k]['command']}` ({own[k]['date']})" for k in ("stores", "concurrency") if k in own)
        (RESULTS / "scale.md").write_text("\n".join(
            ["# Scale", "", f"Machine: {m['physical_cores']} cores, {m['ram_gb']} GiB RAM, GPU: {m['gpu']}. "
             f"Runs: {runs}.", ""] + scale.markdown(own.get("stores"), own.get("concurrency"))))
    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, indent=1, default=str))
    (RESULTS / f"{args.out}.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {RESULTS / (args.out + '.json')} and {RESULTS / (args.out + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
