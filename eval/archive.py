"""A real news archive, end to end: 12,005 Justice Department press releases and 6,325 Wikipedia
current-events days indexed through the product's own ingest and commit, then measured beside the
three-article index, then scaled to 1M chunks with the archive's sentences (eval/archive_scale.py).

    python -m eval.archive                                   # everything (see eval/results/archive.md)
    python -m eval.archive --limit-docs 300 --questions 5 --no-answers --million 20000   # a quick slice
    python -m eval.archive --million 0                       # the archive and the bundled index only

Build: documents from eval/archive_docs.py go to `RAG.add_documents` in batches of `--batch-docs`, each
batch one commit of the index folder (what `rag index add` does with files), so a crash loses at most
one batch and a rerun resumes from the last commit (documents already indexed are skipped; the batches
of every run are logged beside the index, so the build figures cover them all). Progress
bars show documents, chunks and embedding. Measured: build time (embedding and the rest of each commit
apart), chunks per second, RSS, disk; retrieval p50/p95 (`RAG.retrieve`, its parts beside it) and answer
p50/p95 in seconds and in units (eval/unit.py, measured first in the same run) on
eval/archive_questions.jsonl; the same on eval/questions.jsonl over the bundled articles.

Writes eval/results/<out>.json and <out>.md (out: "archive", or "archive-<N>docs" for a slice).
Licences: the press releases are public domain in the US; Wikipedia's Portal:Current events is CC BY-SA 4.0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval import metrics
from eval.archive_docs import LICENCES, news_path, read_archive
from eval.archive_scale import bench_scaled, quality, timed_parts
from eval.run import RESULTS, SETS, load_items, machine, score
from eval.scale import disk_mb, rss_mb

QUESTIONS = Path(__file__).resolve().parent / "archive_questions.jsonl"


class TimedEmbedder:
    """The embedder, with the seconds and texts it spends on documents (not questions) counted."""

    def __init__(self, inner):
        self.inner, self.seconds, self.texts = inner, 0.0, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed(self, texts, *, query: bool = False):
        t = time.perf_counter()
        out = self.inner.embed(texts, query=query)
        if not query:
            self.seconds += time.perf_counter() - t
            self.texts += len(texts)
        return out


@dataclass
class Build:
    name: str
    documents: int  # in the index at the end
    chunks: int
    sentences: int
    batches: int  # commits, over every run that built this index (a crashed run's are kept: see build())
    runs: int  # runs that added batches (1 unless a run was interrupted and resumed)
    build_s: float  # the batches' seconds, embedding included
    embed_s: float  # embedding the new chunks and sentences
    commit_s: float  # the rest: chunking, FAISS, BM25, writing and fsyncing each commit
    chunks_per_s: float  # chunks added / build_s
    texts_embedded: int
    rss_mb: float  # RSS after the build
    peak_rss_mb: float  # of this process so far
    disk_mb: float  # the index folder (the committed version and the one before it)
    version_mb: float  # the committed version alone
    files_mb: dict = field(default_factory=dict)
    statuses: dict = field(default_factory=dict)  # add_documents results: added / unchanged / skipped
    per_batch: list = field(default_factory=list)  # documents, chunks after it, seconds, embed seconds, RSS


def build(name: str, docs: list, config, embedder, batch_docs: int) -> tuple[object, Build]:
    """Index `docs` into config.index_dir through RAG.add_documents, one commit per batch.

    A rerun resumes from the last commit: documents already indexed are skipped. Each committed batch is
    logged beside the index (<index_dir>.batches.jsonl), so the figures cover every run that built it;
    a crash between a commit and its log line loses that batch's seconds, never its documents."""
    from tqdm.auto import tqdm

    from rag import RAG

    timed = TimedEmbedder(embedder)
    bot = RAG.load(config, embedder=timed)  # an empty corpus folder: the first commit holds no documents
    have = bot.index.documents
    todo = [d for d in docs if d.id not in have or have[d.id].sha256 != d.sha256]
    log = Path(config.index_dir).with_name(Path(config.index_dir).name + ".batches.jsonl")
    if not have or not log.exists():
        log.write_text("")
    run = f"{dt.datetime.now().isoformat(timespec='seconds')} {uuid.uuid4().hex[:6]}"
    start_chunks = len(bot.index.chunks)
    docs_bar = tqdm(total=len(docs), initial=len(docs) - len(todo), desc=f"{name} documents", unit="doc", position=0)
    chunks_bar = tqdm(initial=start_chunks, desc=f"{name} chunks", unit="chunk", position=1)
    for i in range(0, len(todo), batch_docs):
        batch = todo[i:i + batch_docs]
        t, e, n = time.perf_counter(), timed.seconds, timed.texts
        before = len(bot.index.chunks)
        statuses: dict[str, int] = {}
        for r in bot.add_documents(batch, progress=True):
            statuses[r.status] = statuses.get(r.status, 0) + 1
        row = {"run": run, "documents": len(batch), "chunks_before": before, "chunks": len(bot.index.chunks),
               "seconds": time.perf_counter() - t, "embed_s": timed.seconds - e, "texts": timed.texts - n,
               "statuses": statuses, "rss_mb": rss_mb()}
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        chunks_bar.update(len(bot.index.chunks) - before)
        docs_bar.update(len(batch))
    docs_bar.close()
    chunks_bar.close()
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    build_s, embed_s = sum(r["seconds"] for r in rows), sum(r["embed_s"] for r in rows)
    added = sum(r["chunks"] - r["chunks_before"] for r in rows)
    statuses = {}
    for r in rows:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    index = bot.index
    version = Path(config.index_dir) / index.version
    result = Build(name, len(index.documents), len(index.chunks), len(index.sentences), len(rows),
                   len({r["run"] for r in rows}), build_s, embed_s, build_s - embed_s,
                   added / build_s if build_s else 0.0, sum(r["texts"] for r in rows), rss_mb(),
                   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, disk_mb(config.index_dir),
                   disk_mb(version), {p.name: disk_mb(p) for p in sorted(version.iterdir())}, statuses, rows)
    bot.embedder = embedder  # questions are embedded by the plain embedder from here on
    return bot, result


def measure(bot, items: list[dict], unit: dict | None, answers: bool, generator: str) -> dict:
    """Retrieval (parts and end to end, ms) and, with `answers`, full answers (s and units) on `items`."""
    bot.retrieve(items[0]["question"])  # the first question builds the vocabulary views: not timed
    parts, rows = timed_parts(bot, items, bot.embedder)
    out = {"questions": len(items), "parts": parts, "quality": quality(rows), "retrieval_rows": rows}
    if not answers:
        return out
    bot.warm_up()
    base, answered = bot.config, []
    for item in items:
        bot.config = base.replace(as_of=item.get("as_of") or base.as_of)
        a = bot.ask(item["question"], [tuple(t) for t in item.get("history") or []], generator=generator)
        answered.append({"id": item["id"], "seconds": a.timings.total, "first_token": a.timings.first_token,
                         "abstained": a.abstained, "answer": a.text, "verdict": a.verdict,
                         "answerable": item["answerable"], **score(item, a.text, a.abstained)})
    bot.config = base
    seconds, first = [r["seconds"] for r in answered], [r["first_token"] for r in answered]
    out["answers"] = {"p50_s": metrics.percentile(seconds, 50), "p95_s": metrics.percentile(seconds, 95),
                      "first_token_p50_s": metrics.percentile(first, 50),
                      "accuracy": metrics.rate([r["correct"] for r in answered if r["answerable"]]),
                      "declined_correctly": metrics.rate([r["correct"] for r in answered if not r["answerable"]]),
                      "rows": answered}
    if unit:
        for k in ("p50", "p95", "first_token_p50"):
            out["answers"][f"{k}_unit"] = out["answers"][f"{k}_s"] / unit["seconds"]
    return out


# --- report ---------------------------------------------------------------------------------------

def _mb(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}" if x >= 0.1 else f"{x * 1024:.0f} KB"


def _row(label: str, b: dict, m: dict) -> str:
    p, a = m["parts"], m.get("answers")
    ans = (f"{a['p50_s']:.1f} / {a['p95_s']:.1f}" + (f" ({a['p50_unit']:.2f} / {a['p95_unit']:.2f} unit)"
                                                      if "p50_unit" in a else "")) if a else "not run"
    rate = b["texts_embedded"] / b["embed_s"] if b["embed_s"] else 0.0
    return (f"| {label} | {b['documents']:,} | {b['chunks']:,} | {b['sentences']:,} | {b['build_s']:,.0f} "
            f"({b['embed_s']:,.0f} + {b['commit_s']:,.0f}) | {b['chunks_per_s']:,.1f} | {b['texts_embedded']:,} "
            f"({rate:,.0f}/s) | {b['rss_mb']:,.0f} | {_mb(b['version_mb'])} ({_mb(b['disk_mb'])}) | "
            f"{p['retrieve']['p50_ms']:.0f} / {p['retrieve']['p95_ms']:.0f} | {m['quality']['evidence_found']:.0%} | "
            f"{ans} | {m['questions']} |")


INDEXES = (("archive", "news archive"), ("bundled", "three articles"))
PARTS = ("embed", "terms", "bm25", "ann", "candidates_fusion", "select", "retrieve")


def _ms(t: dict, digits: int = 0) -> str:
    return f"{t['p50_ms']:.{digits}f} / {t['p95_ms']:.{digits}f}"


def _scale_row(s: dict) -> str:
    g = s["gate_on"]
    build_s = s["corpus_s"] + s["dense_s"] + s["bm25_s"] + s["save_s"]
    return (f"| {s['chunks']:,} | {s['index_type']} | {build_s:,.0f} ({s['corpus_s']:.0f} + {s['dense_s']:.0f} + "
            f"{s['bm25_s']:.0f} + {s['save_s']:.0f}) | {s['open_s']:.1f} | {s['rss_mb']:,.0f} | {s['disk_mb']:,.0f} | "
            f"{s['recall_at_10']:.3f} | {_ms(s['parts']['retrieve'])} | "
            f"{_ms(g['retrieve']) if 'retrieve' in g else 'not run'} | {s['quality']['evidence_found']:.0%} |")


def _scale_section(s: dict) -> list[str]:
    g, q = s["gate_on"], s["quality"]
    gate = f"{_ms(g['retrieve'])} ms" if "retrieve" in g else f"not run ({g.get('skipped', 'gate off')})"
    files = ", ".join(f"{k} {_mb(v)}" for k, v in s["files_mb"].items())
    return ["", f"## FAISS {s['index_type'].upper()} at {s['n']:,} chunks, end to end", "",
            f"{s['archive_documents']:,} archive documents ({s['archive_chunks']:,} chunks, real vectors) plus "
            f"{s['filler_documents']:,} filler articles recombined from {s['pool_sentences']:,} archive sentences "
            f"(eval/archive_scale.py): {s['chunks']:,} chunks, {s['sentences']:,} sentences, "
            f"{s['vocabulary']:,} BM25 terms.", "", "| step | value |", "|---|---|",
            f"| corpus (chunking, injected vectors) | {s['corpus_s']:.0f} s |",
            f"| IVF build / BM25 build / commit | {s['dense_s']:.0f} / {s['bm25_s']:.0f} / {s['save_s']:.0f} s |",
            f"| open (`load_folder`) / first question | {s['open_s']:.1f} / {s['first_retrieve_s']:.1f} s |",
            f"| RSS: build / opened and queried / peak | {s['build_rss_mb']:,.0f} / {s['rss_mb']:,.0f} / "
            f"{s['peak_rss_mb']:,.0f} MB |",
            f"| disk (committed version) | {s['disk_mb']:,.0f} MB: {files} |",
            f"| ANN recall@10 vs exact | {s['recall_at_10']:.3f} |",
            f"| `RAG.retrieve` gate off, p50 / p95 | {_ms(s['parts']['retrieve'])} ms |",
            f"| `RAG.retrieve` gate on, p50 / p95 | {gate} |",
            f"| evidence in passages / right document among them | {q['evidence_found']:.0%} / {q['doc_hit']:.0%} |",
            f"| every number of every article (`Index.numbers`, first use) | {s['numbers_s']:.1f} s |",
            f"| a name not in the vocabulary (fuzzy lookup over all terms) | {s['fuzzy_name_ms']:.0f} ms |"]


def markdown(r: dict) -> str:
    m, u = r["machine"], r.get("unit")
    unit = f", unit {u['seconds']:.2f} s (eval/unit.py, this run)." if u else " (answers not run: no unit)."
    gate = f" {r['gate_note'].rstrip('.')}." if r.get("gate_note") else ""
    L = [f"# A real news archive, end to end ({r['date']})", "",
         f"Machine: {m['physical_cores']} cores, {m['ram_gb']} GiB RAM, GPU: {m['gpu']}. "
         f"Command: `{r['command']}`. Generator `{r['generator']}`{unit}{gate}", "",
         "| index | documents | chunks | sentences | build s (embed + commits) | chunks/s | texts embedded | RSS MB | "
         "disk MB (with previous version) | retrieve p50 / p95 ms | evidence in passages | answer p50 / p95 s | "
         "questions |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    L += [_row(label, r[key]["build"], r[key]["measure"]) for key, label in INDEXES if key in r]
    L += ["", "Retrieval taken apart (p50 / p95 ms): question embedding, query terms, BM25 alone, ANN alone, "
          "candidates + fusion (`retrieve_chunks`), sentence selection (`select_passages`), `RAG.retrieve` end to end.",
          "", "| index | embed | terms | BM25 | ANN | candidates + fusion | selection | retrieve |",
          "|---|---|---|---|---|---|---|---|"]
    rows = [(label, r[key]["measure"]["parts"]) for key, label in INDEXES if key in r]
    rows += [(f"{s['n']:,} chunks, gate off", s["parts"]) for s in r.get("million", [])]
    L += [f"| {label} | " + " | ".join(_ms(p[k], 1) for k in PARTS) + " |" for label, p in rows]
    if r.get("million"):
        L += ["", "FAISS at scale, end to end (`RAG.retrieve` with BM25, dense search, fusion and sentence selection):",
              "", "| chunks | index | build s (corpus + dense + BM25 + commit) | open s | RSS MB opened | disk MB | "
              "recall@10 | retrieve gate off p50 / p95 ms | gate on p50 / p95 ms | evidence in passages |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        L += [_scale_row(s) for s in r["million"]]
        for s in r["million"]:
            L += _scale_section(s)
    L += ["", f"Sources: {LICENCES['doj']}; Wikipedia: {LICENCES['wikipedia']}. Questions: "
          "eval/archive_questions.jsonl (one evidence sentence each). RSS is this process's; disk counts the "
          "committed version and, in brackets, the folder with the previous version kept by the commit.", ""]
    return "\n".join(L)


def _plain(obj):
    return json.loads(json.dumps(obj, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.archive", description=__doc__.split("\n\n")[0])
    ap.add_argument("--news", default=None,
                    help="folder with the two JSON-lines files (default ../shared/datasets/news)")
    ap.add_argument("--limit-docs", type=int, default=0, help="a slice: the questions' documents and others to N")
    ap.add_argument("--questions", type=int, default=30,
                    help="N questions of each set, at an even stride (default 30: all of the archive's; 0: all)")
    ap.add_argument("--no-answers", action="store_true", help="retrieval only: no generation, no unit")
    ap.add_argument("--batch-docs", type=int, default=1000, help="documents per commit")
    ap.add_argument("--million", type=int, default=1_000_000, help="chunks of the scaled IVF index (0: skip)")
    ap.add_argument("--workdir", default=None, help="where the indexes live (default ~/.cache/rag-news/archive)")
    ap.add_argument("--generator", default="", help="generator for the answers (default: the config's)")
    ap.add_argument("--out", default="", help="report name in eval/results (default archive or archive-<N>docs)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from eval.external import DataMissing
    from rag.config import Config
    from rag.errors import ModelError
    from rag.models import make_embedder
    from rag.stores import load_corpus

    try:
        news = news_path(args.news)
    except DataMissing as exc:
        print(f"skipping the archive: {exc}", file=sys.stderr)
        return 2
    base = Config()
    workdir = Path(args.workdir or base.cache_dir / "archive")
    empty = workdir / "empty-corpus"
    empty.mkdir(parents=True, exist_ok=True)
    generator = args.generator or base.generator
    items = load_items(QUESTIONS, args.questions)
    bundled_items = load_items(SETS["questions"], args.questions)
    report = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine(), "generator": generator,
              "command": "python -m eval.archive " + " ".join(argv if argv is not None else sys.argv[1:]),
              "news": str(news), "licences": LICENCES}
    if not args.no_answers:
        from eval.unit import measure as unit

        report["unit"] = unit(generator, config=base).to_dict()
        print(f"unit for {generator}: {report['unit']['seconds']:.2f} s")
    embedder = make_embedder(base)
    embedder.warm_up()
    gate = base.gate
    try:
        from rag.gate import AnswerGate

        AnswerGate(gate, base.cache_dir).warm_up()
    except ModelError as exc:
        report["gate_note"], gate = f"gate off: {str(exc).splitlines()[0]}", ""
        print(report["gate_note"], file=sys.stderr)

    def run(key: str, docs: list, index_dir: Path, questions: list[dict]) -> object:
        config = base.replace(corpus_dir=empty, index_dir=index_dir, gate=gate, generator=generator)
        bot, b = build(key, docs, config, embedder, args.batch_docs)
        print(f"[{key}] {b.documents:,} documents, {b.chunks:,} chunks in {b.build_s:.0f} s (embedding "
              f"{b.texts_embedded:,} texts {b.embed_s:.0f} s), {b.chunks_per_s:.1f} chunks/s, {b.version_mb:.1f} MB")
        m = measure(bot, questions, report.get("unit"), not args.no_answers, generator)
        t, a = m["parts"]["retrieve"], m.get("answers")
        print(f"[{key}] retrieve p50 {t.p50_ms:.0f} ms, p95 {t.p95_ms:.0f} ms"
              + (f"; answer p50 {a['p50_s']:.1f} s, p95 {a['p95_s']:.1f} s" if a else ""))
        report[key] = {"build": b, "measure": m}
        return bot

    with tempfile.TemporaryDirectory(prefix="rag-bundled-") as tmp:
        run("bundled", load_corpus(base.corpus_dir), Path(tmp) / "index", bundled_items)
    first = tuple(d for i in items for d in i.get("doc_ids") or ())
    docs = read_archive(news, args.limit_docs, first)
    bot = run("archive", docs, workdir / f"index-{args.limit_docs or 'all'}", items)
    if args.million:
        index = bot.index
        del bot
        gc.collect()
        report["million"] = [bench_scaled(index, items, embedder, args.million, workdir, gate=gate)]
    out = args.out or ("archive" if not args.limit_docs else f"archive-{args.limit_docs}docs")
    RESULTS.mkdir(parents=True, exist_ok=True)
    plain = _plain(report)
    (RESULTS / f"{out}.json").write_text(json.dumps(plain, indent=1))
    (RESULTS / f"{out}.md").write_text(markdown(plain))
    print(markdown(plain))
    print(f"wrote {RESULTS / (out + '.json')} and {RESULTS / (out + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
