"""Run the question set through the Python API and write JSON, Markdown and a chart.

    python -m eval                          # default configuration, full answers
    python -m eval --retrieval-only         # retrieval metrics only, in seconds
    python -m eval --compare                # dense / lexical / hybrid, fast / quality side by side
    python -m eval --config lexical=retrieval=lexical --config big=passages=6

Results go to eval/results/<name>.json (per-question rows, config, model identities) and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from eval import metrics
from rag.config import Config
from rag.errors import RagError

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SETS = {"questions": HERE / "questions.jsonl", "heldout": HERE / "heldout.jsonl"}

# Named configurations for --compare: overrides of the default Config.
PRESETS: dict[str, dict] = {
    "default": {},
    "lexical": {"retrieval": "lexical"},
    "dense": {"retrieval": "dense"},
    "hybrid-rrf": {"fusion": "rrf"},
    "fast": {"generator": "fast"},
    "quality": {"generator": "quality"},
}
COMPARE = ["default", "lexical", "dense", "hybrid-rrf", "fast"]


def load_items(path: Path, limit: int = 0) -> list[dict]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items[:limit] if limit else items


def machine() -> dict:
    import psutil

    info = {"cpus": os.cpu_count(), "physical_cores": psutil.cpu_count(logical=False),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "platform": platform.platform(),
            "python": platform.python_version(), "gpu": "none"}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


class Runner:
    """Shares models between configurations: one embedder and one generator per model name."""

    def __init__(self, index_root: Path):
        self.index_root = index_root
        self.embedders: dict[str, object] = {}
        self.generators: dict[str, object] = {}

    def bot(self, config: Config):
        from rag import RAG
        from rag.embed import SentenceTransformerEmbedder
        from rag.generate import make_generator

        c = config
        emb = self.embedders.get(c.embedder) or SentenceTransformerEmbedder(c.embedder, c.cache_dir, c.device)
        self.embedders[c.embedder] = emb
        key = f"{c.embedder}-{c.chunk_words}-{c.chunk_overlap}-{c.index_type}"
        config = c.replace(index_dir=self.index_root / key)
        bot = RAG.load(config, embedder=emb)
        key = (c.generator, c.refusal_threshold)
        if key not in self.generators:
            self.generators[key] = make_generator(c.generator, c.cache_dir, c.device, c.n_threads,
                                                  c.n_ctx, c.n_gpu_layers, c.temperature, c.refusal_threshold)
        bot._generators[c.generator] = self.generators[key]
        return bot


def run_config(runner: Runner, name: str, config: Config, items: list[dict], retrieval_only: bool,
               progress: bool = True) -> dict:
    from tqdm.auto import tqdm

    bot = runner.bot(config)
    if not retrieval_only:
        bot.warm_up()
    rows = []
    for item in tqdm(items, desc=name, unit="q", disable=not progress):
        history = [tuple(t) for t in item.get("history") or []]
        row = {k: item.get(k) for k in ("id", "kind", "question", "answers", "answerable", "doc_ids", "evidence")}
        row["evidence"] = row["evidence"] or []
        if retrieval_only:
            t = time.perf_counter()
            found = bot.retrieve(item["question"], history)
            row["retrieve_seconds"] = time.perf_counter() - t
            row.update(abstained=False, correct=False, citations=[],
                       passages=[p.text for p in found.passages], relevance=found.relevance)
        else:
            answer = bot.ask(item["question"], history)
            row.update(
                answer=answer.text, raw=answer.raw, verdict=answer.verdict, abstained=answer.abstained,
                standalone=answer.standalone_question,
                citations=[{"n": c.n, "doc_id": c.doc_id, "quote": c.quote} for c in answer.citations],
                passages=[p.text for p in answer.passages], seconds=answer.timings.total,
                first_token=answer.timings.first_token, timings=vars(answer.timings),
                prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens,
                refusal_prob=answer.refusal_prob,
            )
            if item["answerable"]:
                row["correct"] = not answer.abstained and metrics.alias_match(answer.text, item["answers"])
                row["f1"] = 0.0 if answer.abstained else metrics.token_f1(answer.text, item["answers"])
            else:
                row["correct"] = answer.abstained
        row["evidence_rank"] = metrics.retrieval_ranks(row["passages"], row["evidence"]) if item["answerable"] else None
        rows.append(row)
    summary = metrics.summarize(rows)
    if retrieval_only:
        times = [r["retrieve_seconds"] for r in rows]
        summary["latency"] = {"retrieve_p50": metrics.percentile(times, 50), "retrieve_p95": metrics.percentile(times, 95)}
    models = {"embedder": bot.embedder.identity()}
    if not retrieval_only:
        models["generator"] = bot.generator.identity()
    return {"name": name, "config": config.public_dict(), "models": models, "summary": summary, "rows": rows,
            "retrieval_only": retrieval_only}


def write_report(results: list[dict], out_name: str, question_set: str) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    payload = {"date": stamp, "machine": machine(), "question_set": question_set, "runs": results}
    json_path = RESULTS / f"{out_name}.json"
    json_path.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str))
    md_path = RESULTS / f"{out_name}.md"
    md_path.write_text(markdown(payload))
    return json_path, md_path


def markdown(payload: dict) -> str:
    m = payload["machine"]
    lines = [f"# Evaluation: {payload['question_set']} ({payload['date']})", "",
             f"Machine: {m['physical_cores']} physical cores ({m['cpus']} logical), {m['ram_gb']} GiB RAM, "
             f"GPU: {m['gpu']}; Python {m['python']}.", ""]
    runs = payload["runs"]
    if all(r["retrieval_only"] for r in runs):
        lines += ["| config | recall@1 | recall@2 | recall@4 | MRR | retrieve p50 ms | p95 ms |",
                  "|---|---|---|---|---|---|---|"]
        for r in runs:
            s = r["summary"]
            lines.append(f"| {r['name']} | {s['retrieval']['recall@1']:.1%} | {s['retrieval']['recall@2']:.1%} | "
                         f"{s['retrieval']['recall@4']:.1%} | {s['retrieval']['mrr']:.3f} | "
                         f"{s['latency']['retrieve_p50'] * 1000:.0f} | {s['latency']['retrieve_p95'] * 1000:.0f} |")
        return "\n".join(lines) + "\n"
    lines += ["| config | generator | retrieval | answerable right | declined right | citation recall | "
              "citation precision | evidence recall@4 | p50 s | p95 s | first token p50 s |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        s, c = r["summary"], r["config"]
        lines.append(
            f"| {r['name']} | {c['generator']} | {c['retrieval']}/{c['fusion']} | {s['accuracy']:.1%} | "
            f"{s['declined_correctly']:.1%} | {s['citations']['recall']:.1%} | {s['citations']['precision']:.1%} | "
            f"{s['retrieval']['recall@4']:.1%} | {s['latency']['p50']:.2f} | {s['latency']['p95']:.2f} | "
            f"{s['latency']['first_token_p50']:.2f} |")
    for r in runs:
        s = r["summary"]
        lines += ["", f"## {r['name']}", "",
                  f"- questions: {s['questions']} ({s['answerable']} answerable)",
                  f"- token F1 (answerable): {s['token_f1']:.3f}",
                  f"- abstention precision {s['abstention']['precision']:.1%}, recall {s['abstention']['recall']:.1%}, "
                  f"answerable questions declined: {s['abstention']['declined_answerable']}",
                  f"- answers without a citation: {s['citations']['no_citation']}; citations to no passage: "
                  f"{s['citations']['dangling']}; correct answers whose citation holds the answer: "
                  f"{s['citations']['correct_with_supporting_citation']:.1%}",
                  f"- mean tokens: prompt {s['tokens']['prompt_mean']:.0f}, completion {s['tokens']['completion_mean']:.0f}",
                  "- by kind: " + ", ".join(f"{k} {v:.0%}" for k, v in s["by_kind"].items()),
                  "", "Wrong answers:", ""]
        for row in r["rows"]:
            if not row["correct"]:
                lines.append(f"- `{row['id']}` ({row['kind']}) {row['question']} → {row.get('answer', '')!s} "
                             f"_[{row.get('verdict', '')}]_")
    return "\n".join(lines) + "\n"


def chart(results: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in results]
    acc = [r["summary"]["accuracy"] * 100 for r in results]
    dec = [r["summary"]["declined_correctly"] * 100 for r in results]
    p95 = [r["summary"]["latency"].get("p95", 0) for r in results]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    x = range(len(names))
    a1.bar([i - 0.2 for i in x], acc, 0.4, label="answerable right %")
    a1.bar([i + 0.2 for i in x], dec, 0.4, label="unanswerable declined %")
    a1.set_xticks(list(x), names, rotation=20)
    a1.set_ylim(0, 100)
    a1.legend(loc="lower right")
    a1.set_title("Accuracy")
    a2.bar(list(x), p95, color="tab:gray")
    a2.set_xticks(list(x), names, rotation=20)
    a2.set_title("p95 seconds per answer (2-core CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_override(text: str) -> tuple[str, dict]:
    """"name=key=value,key=value" -> (name, {key: value})."""
    name, _, rest = text.partition("=")
    overrides = {}
    for pair in filter(None, rest.split(",")):
        k, _, v = pair.partition("=")
        overrides[k.strip()] = v.strip()
    return name, overrides


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="questions", help="question set: questions | heldout | a .jsonl path")
    ap.add_argument("--compare", action="store_true", help=f"run {', '.join(COMPARE)} side by side")
    ap.add_argument("--config", action="append", default=[], metavar="NAME=KEY=VALUE,...",
                    help="a named configuration (a preset name alone, or overrides); repeatable")
    ap.add_argument("--retrieval-only", action="store_true", help="skip generation: retrieval metrics only")
    ap.add_argument("--limit", type=int, default=0, help="first N questions only")
    ap.add_argument("--out", default="", help="report name under eval/results/")
    ap.add_argument("--base", default="", help="TOML config file the configurations start from")
    args = ap.parse_args(argv)

    path = SETS.get(args.set, Path(args.set))
    items = load_items(path, args.limit)
    base = Config.from_toml(args.base) if args.base else Config()
    if args.compare:
        named = [(n, PRESETS[n]) for n in COMPARE]
        if args.retrieval_only:
            named = [(n, o) for n, o in named if "generator" not in o]
    elif args.config:
        named = [(n, PRESETS[n]) if n in PRESETS and not o else (n, o) for n, o in map(parse_override, args.config)]
    else:
        named = [("default", {})]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    runner = Runner(Path(tempfile.mkdtemp(prefix="rag-eval-index-")))
    results = []
    try:
        for name, overrides in named:
            results.append(run_config(runner, name, base.replace(**overrides), items, args.retrieval_only))
            s = results[-1]["summary"]
            if args.retrieval_only:
                print(f"{name}: evidence recall@4 {s['retrieval']['recall@4']:.1%}, MRR {s['retrieval']['mrr']:.3f}")
            else:
                print(f"{name}: answerable right {s['accuracy']:.1%}, declined right {s['declined_correctly']:.1%}, "
                      f"citation recall {s['citations']['recall']:.1%}, p50 {s['latency']['p50']:.2f}s, "
                      f"p95 {s['latency']['p95']:.2f}s")
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    suffix = "-retrieval" if args.retrieval_only else ""
    out = args.out or ("compare" if args.compare else "-".join(n for n, _ in named)) + suffix
    if args.set != "questions":
        out += f"-{Path(args.set).stem}"
    json_path, md_path = write_report(results, out, path.name)
    print(f"wrote {json_path} and {md_path}")
    if len(results) > 1 and not args.retrieval_only:
        print(f"wrote {chart(results, RESULTS / f'{out}.png')}")
    return 0
