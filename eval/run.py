"""Run question sets through the Python API and write JSON, Markdown and a chart.

    python -m eval                          # default configuration on our own questions, full answers
    python -m eval --set squad-dev          # any named set; an external set brings its own corpus
    python -m eval --set squad-dev --squad-file dev-v2.0.json   # built from this SQuAD 2.0 JSON
    python -m eval --retrieval-only         # retrieval metrics only, in seconds
    python -m eval --compare                # every set, dev and test, in one table
    python -m eval --compare --sets questions,squad-dev --limit 20
    python -m eval --ablations              # dense / lexical / hybrid, fast / quality side by side
    python -m eval --config lexical=retrieval=lexical --config big=passages=6

Sets: questions, heldout (our own, over the bundled articles) and squad-dev/-test (Normans), rhine-dev/-test
(Rhine), built from SQuAD 2.0's JSON (eval/external: ../shared/datasets/squad2-dev.json, or --squad-file);
without that file they are skipped, with where to get it. Each set is scored by its own rule: "alias" (ours: an accepted alias occurs
in the answer) or "squad" (a normalised gold answer occurs in the answer; SQuAD EM/F1 beside it). A
decline is right exactly when the question is unanswerable.

Results go to eval/results/<name>.json (per-question rows, config, model identities) and .md. Rows of
the SQuAD sets keep ids, questions and scores, not the texts that quote its paragraphs (see `redact`).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from eval import metrics
from rag.gate.calibrate import risk_coverage
from eval.external import DataMissing, external_sets, materialize
from eval.external.squad import LayoutError
from rag.config import Config
from rag.errors import RagError

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SETS = {"questions": HERE / "questions.jsonl", "heldout": HERE / "heldout.jsonl"}  # ours, over the bundled articles


@dataclass(frozen=True)
class QuestionSet:
    name: str
    path: Path | None  # the .jsonl of questions; None for an external set not built yet (see `ready`)
    corpus_dir: Path | None = None  # the documents to index; None: the configuration's own corpus
    scoring: str = "alias"  # alias | squad (see the module docstring)
    source: str = ""  # the external set it is part of ("squad", "rhine"), built from SQuAD's JSON


def question_sets() -> dict[str, QuestionSet]:
    """Every named set, in report order: ours first, then each external set's dev and test (not built)."""
    sets = {name: QuestionSet(name, path) for name, path in SETS.items()}
    for name, info in external_sets().items():
        sets[name] = QuestionSet(name, None, None, info["scoring"], info["source"])
    for part in ("dev", "test"):  # dated news: the answer depends on the day the question is asked
        sets[f"temporal-{part}"] = QuestionSet(f"temporal-{part}", None, None, "temporal", "temporal")
    return sets


def ready(qs: QuestionSet, squad_file: str | Path | None = None) -> QuestionSet:
    """The set with its questions and corpus on disk: an external one is built from the SQuAD JSON
    (`squad_file`, else ../shared/datasets/squad2-dev.json); DataMissing, saying where to get it, if absent."""
    if qs.path is not None:
        return qs
    if qs.source == "temporal":
        from eval.temporal import materialize as temporal

        folder = temporal()
    else:
        folder = materialize(qs.source, squad_file)
    part = qs.name.rsplit("-", 1)[1]
    return dataclasses.replace(qs, path=folder / f"{part}.jsonl", corpus_dir=folder / "corpus")


def resolve_set(name: str, squad_file: str | Path | None = None) -> QuestionSet:
    """A set by name, ready to run, or a .jsonl path (scored as ours, over the configuration's corpus)."""
    sets = question_sets()
    if name in sets:
        return ready(sets[name], squad_file)
    path = Path(name)
    if path.suffix == ".jsonl" and path.is_file():
        return QuestionSet(path.stem, path)
    raise SystemExit(f"unknown question set {name!r}: use one of {', '.join(sets)} or a .jsonl path")

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
    """The set's questions; with `limit`, that many taken at an even stride, so a short run still
    samples every kind (our sets are ordered by kind)."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not limit or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


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
        self.gates: dict[str, object] = {}

    @staticmethod
    def generator_key(c: Config) -> tuple:
        """What a generator is built from: configurations equal here share one loaded model."""
        return c.generator, c.refusal_threshold, c.prompt_lookup, c.flash_attn

    def bot(self, config: Config):
        from rag import RAG
        from rag.models.embed import SentenceTransformerEmbedder
        from rag.models import make_generator

        c = config
        emb = self.embedders.get(c.embedder) or SentenceTransformerEmbedder(c.embedder, c.cache_dir, c.device)
        self.embedders[c.embedder] = emb
        corpus = hashlib.sha256(str(Path(c.corpus_dir).resolve()).encode()).hexdigest()[:8]  # one index per corpus
        key = f"{corpus}-{c.embedder}-{c.chunk_words}-{c.chunk_overlap}-{c.index_type}"
        config = c.replace(index_dir=self.index_root / key)
        gate = None
        if c.gate:
            from rag.gate import AnswerGate

            gate = self.gates.setdefault(c.gate, AnswerGate(c.gate, c.cache_dir))
        bot = RAG.load(config, embedder=emb, gate=gate)
        key = self.generator_key(c)
        if key not in self.generators:
            self.generators[key] = make_generator(c, c.generator)
        bot.set_generator(self.generators[key], c.generator)
        return bot


def off_question(answer) -> str:
    """For an answer that stands: '' when its cited passages keep to the question's constraints
    (years, dates, qualifiers, names), else what they lack. Counted over every set in the report."""
    from rag.grounding.verify import Asked, keeps_to_question

    if answer.abstained:
        return ""
    cited = [p for p in answer.passages if p.n in {c.n for c in answer.citations}]
    return keeps_to_question(cited, Asked.of(answer.standalone_question), answer.passages)


def score(item: dict, text: str, abstained: bool, scoring: str = "alias") -> dict:
    """The row fields that judge one answer by its set's rule.

    >>> score({"answerable": True, "answers": ["Rollo"]}, "Their leader was Rollo [1].", False, "squad")
    {'correct': True, 'em': 0.0, 'f1': 0.4}
    >>> score({"answerable": False, "answers": []}, "The articles don't say.", True)
    {'correct': True}
    """
    if scoring == "temporal":  # stale and future values flagged; a future value given at all is wrong
        from eval.temporal import score_temporal

        out = score_temporal(item, text, abstained)
        out["correct"] = out["correct"] and not out["mentions_future"]
        return out
    if not item["answerable"]:
        return {"correct": abstained}
    pred = "" if abstained else text
    if scoring == "squad":
        return {"correct": not abstained and metrics.squad_contains(pred, item["answers"]),
                "em": metrics.squad_exact(pred, item["answers"]), "f1": metrics.squad_f1(pred, item["answers"])}
    return {"correct": not abstained and metrics.alias_match(pred, item["answers"]),
            "f1": metrics.token_f1(pred, item["answers"])}


# The eval answers every question with nothing declined on purpose (max_risk 1, no early declines), so
# each question has its calibrated probability and, where the model answered, whether that was right;
# the configured decision is then applied to these rows (`operate`), exactly as the pipeline applies it,
# and the risk-coverage curve comes from the same rows.
COLLECT = {"max_risk": 1.0, "early_decline_loss": 0.0}


def run_config(runner: Runner, name: str, config: Config, items: list[dict], retrieval_only: bool,
               progress: bool = True, scoring: str = "alias") -> dict:
    from tqdm.auto import tqdm

    collect = bool(config.gate) and not retrieval_only
    bot = runner.bot(config.replace(**COLLECT) if collect else config)
    decision = bot.decision_for(config.generator) if collect else None
    if not retrieval_only:
        bot.warm_up()
    rows = []
    for item in tqdm(items, desc=name, unit="q", disable=not progress):
        history = [tuple(t) for t in item.get("history") or []]
        row = {k: item.get(k) for k in ("id", "kind", "question", "answers", "answerable", "doc_ids", "evidence")}
        row["evidence"] = row["evidence"] or []
        if item.get("as_of") or bot.config.as_of != config.as_of:  # the day this question is asked on
            bot.config = bot.config.replace(as_of=item.get("as_of") or config.as_of)
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
                refusal_prob=answer.refusal_prob, off_question=off_question(answer), signals=answer.signals,
            )
            row.update(score(item, answer.text, answer.abstained, scoring))
            if decision is not None:
                row.update(_probabilities(decision, answer))
        row["evidence_rank"] = metrics.retrieval_ranks(row["passages"], row["evidence"]) if item["answerable"] else None
        rows.append(row)
    collected = rows
    if decision is not None:
        t_early, t_after = decision.thresholds(config.max_risk, config.early_decline_loss)
        rows = [operate(r, t_early, t_after) for r in rows]
    summary = metrics.summarize(rows)
    if scoring == "temporal":
        summary["stale"] = sum(bool(r.get("stale")) for r in rows)
        summary["future"] = sum(bool(r.get("future")) for r in rows)
    if decision is not None:
        given = [r for r in collected if not r["abstained"]]
        summary["risk_coverage"] = risk_coverage([r["p_after"] for r in given], [int(r["correct"]) for r in given],
                                                 total=len(collected))
        summary["decision"] = {"max_risk": config.max_risk, "early_decline_loss": config.early_decline_loss,
                               "t_early": t_early, "t_after": t_after,
                               "declined_early": sum(r.get("declined_early", False) for r in rows)}
    if retrieval_only:
        times = [r["retrieve_seconds"] for r in rows]
        summary["latency"] = {"retrieve_p50": metrics.percentile(times, 50), "retrieve_p95": metrics.percentile(times, 95)}
    models = {"embedder": bot.embedder.identity()}
    if not retrieval_only:
        models["generator"] = bot.generator.identity()
    if bot.gate is not None:
        models["gate"] = bot.gate.identity()
    out = {"name": name, "config": config.public_dict(), "models": models, "summary": summary, "rows": rows,
           "retrieval_only": retrieval_only, "scoring": scoring}
    if decision is not None:  # every answer as given, so another max_risk can be judged without answering again
        out["collected"] = collected
    return out


def _probabilities(decision, answer) -> dict:
    from rag.gate.calibrate import Signals

    s = Signals(**answer.signals)
    t = answer.timings
    return {"p_before": decision.p_before(s), "p_after": decision.p_after(s) if not answer.abstained else -1.0,
            "early_seconds": t.rewrite + t.retrieve + t.select + t.gate}


def operate(row: dict, t_early: float, t_after: float) -> dict:
    """A row as the configured decision leaves it: declined before generating when p_before is below
    t_early (it then took only the time to its passages), declined when p_after is below t_after, and
    a second look the pipeline would not have taken (p_before below t_after) rescues nothing.

    >>> r = {"answerable": True, "abstained": False, "correct": True, "citations": [{"n": 1}], "seconds": 5.0,
    ...      "p_before": 0.2, "p_after": 0.9, "early_seconds": 0.1, "verdict": "verified"}
    >>> operate(r, 0.3, 0.5)["abstained"], operate(r, 0.1, 0.5)["abstained"], operate(r, 0.1, 0.95)["abstained"]
    (True, False, True)
    """
    if "p_before" not in row:
        return row
    out = dict(row)
    early = row["p_before"] < t_early
    missed_look = str(row.get("verdict", "")).startswith("rescued") and row["p_before"] < t_after
    if early or missed_look or (not row["abstained"] and row["p_after"] < t_after):
        out.update(abstained=True, citations=[], correct=not row["answerable"], f1=0.0, declined_early=early)
        out.update({k: 0.0 for k in ("em",) if k in row})
        out.update({k: False for k in ("stale", "future", "mentions_future") if k in row})
        if early:
            out["seconds"] = out["first_token"] = row["early_seconds"]
    return out


def run_sets(runner: Runner, sets: list[QuestionSet], config: Config | dict[str, Config], retrieval_only: bool,
             limit: int = 0, progress: bool = True, save=None, squad_file: str | Path | None = None) -> list[dict]:
    """One run of `config` per set, each over its own corpus (a separate index per corpus); given
    several named configurations, each one on every set ("set · name"), side by side.
    `save(results)` is called after each run, so a long run that is stopped keeps what it measured."""
    configs = config if isinstance(config, dict) else {"": config}
    results = []
    for qs in sets:
        qs = ready(qs, squad_file)
        for cname, cfg in configs.items():
            c = cfg.replace(corpus_dir=qs.corpus_dir) if qs.corpus_dir else cfg
            name = f"{qs.name} · {cname}" if cname else qs.name
            results.append(run_config(runner, name, c, load_items(qs.path, limit), retrieval_only, progress,
                                      qs.scoring))
            print(headline(results[-1]))
            if save is not None:
                save(results)
    return results


def headline(result: dict) -> str:
    s = result["summary"]
    if result["retrieval_only"]:
        return f"{result['name']}: evidence recall@4 {s['retrieval']['recall@4']:.1%}, MRR {s['retrieval']['mrr']:.3f}"
    line = (f"{result['name']}: answerable right {s['accuracy']:.1%}, declined right {s['declined_correctly']:.1%}, "
            f"citation support {s['citation_support']:.1%}, p50 {s['latency']['p50']:.2f}s, p95 {s['latency']['p95']:.2f}s")
    if "squad" in s:
        line += f", SQuAD EM {s['squad']['em']:.1%} F1 {s['squad']['f1']:.1%}"
    return line


# what a row of a SQuAD set leaves out of the report: texts that quote SQuAD's paragraphs
QUOTING = ("evidence", "passages", "answer", "raw")


def redact(run: dict) -> dict:
    """A run as the report keeps it: a set built from SQuAD (scoring "squad") keeps each row's id,
    question, gold answers, scores, verdict and timings, but not the passages, evidence or answer
    texts, which quote its paragraphs: those stay in SQuAD's file, not in this repo.

    >>> redact({"scoring": "squad", "rows": [{"id": "q", "answer": "Rollo [1].", "citations": [{"n": 1, "quote": "x"}]}]})
    {'scoring': 'squad', 'rows': [{'id': 'q', 'citations': [{'n': 1}]}]}
    """
    if run.get("scoring") != "squad":
        return run
    run = copy.deepcopy(run)
    for row in run["rows"] + run.get("collected", []):
        for key in QUOTING:
            row.pop(key, None)
        for c in row.get("citations") or []:
            c.pop("quote", None)
    return run


def write_report(results: list[dict], out_name: str, question_set: str, by_set: bool = False,
                 units: dict | None = None) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    payload = {"date": stamp, "machine": machine(), "question_set": question_set, "by_set": by_set,
               "units": units or {}, "runs": [redact(r) for r in results]}
    json_path = RESULTS / f"{out_name}.json"
    json_path.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str))
    md_path = RESULTS / f"{out_name}.md"
    md_path.write_text(markdown(payload))
    return json_path, md_path


def _pct(x: float) -> str:
    return f"{x:.1%}"


def in_units(seconds: float, run: dict, units: dict | None) -> str:
    """"5.86 (0.54)": seconds, and the ratio to the unit of the run's generator when it was measured."""
    unit = (units or {}).get(run["config"]["generator"])
    return f"{seconds:.2f} ({seconds / unit['seconds']:.2f})" if unit else f"{seconds:.2f}"


def table(runs: list[dict], by_set: bool, units: dict | None = None) -> list[str]:
    """The headline table: one row per set (by_set) or per configuration; latencies also in units
    (eval/unit.py) when `units` holds the unit of each generator, measured in the same run."""
    u = " (unit)" if units else ""
    if all(r["retrieval_only"] for r in runs):
        head = ["set" if by_set else "config", "questions", "answerable", "recall@1", "recall@2", "recall@3", "recall@4",
                "MRR", "retrieve p50 ms", "p95 ms"]
        rows = [[r["name"], str(s["questions"]), str(s["answerable"]), _pct(s["retrieval"]["recall@1"]),
                 _pct(s["retrieval"]["recall@2"]), _pct(s["retrieval"]["recall@3"]), _pct(s["retrieval"]["recall@4"]),
                 f"{s['retrieval']['mrr']:.3f}",
                 f"{s['latency']['retrieve_p50'] * 1000:.0f}", f"{s['latency']['retrieve_p95'] * 1000:.0f}"]
                for r in runs for s in [r["summary"]]]
    elif by_set:
        head = ["set", "questions", "answerable right", "declined right", "citation support", "SQuAD EM", "SQuAD F1",
                "evidence shown", "AURC", "coverage @5% / @10% risk", "stale", "declined early",
                "second look (rescued)", f"p50 s{u}", f"p95 s{u}", f"first token p50 s{u}"]
        rows = [[r["name"], f"{s['questions']} ({s['questions'] - s['answerable']} unanswerable)",
                 _pct(s["accuracy"]), _pct(s["declined_correctly"]), _pct(s["citation_support"]),
                 _pct(s["squad"]["em"]) if "squad" in s else "–", _pct(s["squad"]["f1"]) if "squad" in s else "–",
                 _pct(s["retrieval"]["recall@4"]),
                 f"{s['risk_coverage']['aurc']:.3f}" if "risk_coverage" in s else "–",
                 (f"{_pct(s['risk_coverage']['coverage@5%'])} / {_pct(s['risk_coverage']['coverage@10%'])}"
                  if "risk_coverage" in s else "–"),
                 str(s["stale"]) if "stale" in s else "–",
                 str(s["decision"]["declined_early"]) if "decision" in s else "–",
                 f"{_pct(s['second_look']['share'])} ({s['second_look']['rescued']})" if "second_look" in s else "–",
                 in_units(s["latency"]["p50"], r, units), in_units(s["latency"]["p95"], r, units),
                 in_units(s["latency"]["first_token_p50"], r, units)]
                for r in runs for s in [r["summary"]]]
    else:
        head = ["config", "generator", "retrieval", "answerable right", "declined right", "citation support",
                "citation recall", "citation precision", "evidence recall@4", f"p50 s{u}", f"p95 s{u}",
                f"first token p50 s{u}"]
        rows = [[r["name"], c["generator"], f"{c['retrieval']}/{c['fusion']}", _pct(s["accuracy"]),
                 _pct(s["declined_correctly"]), _pct(s["citation_support"]), _pct(s["citations"]["recall"]),
                 _pct(s["citations"]["precision"]), _pct(s["retrieval"]["recall@4"]),
                 in_units(s["latency"]["p50"], r, units), in_units(s["latency"]["p95"], r, units),
                 in_units(s["latency"]["first_token_p50"], r, units)]
                for r in runs for s, c in [(r["summary"], r["config"])]]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(row) + " |" for row in rows]


def markdown(payload: dict) -> str:
    m = payload["machine"]
    runs = payload["runs"]
    lines = [f"# Evaluation: {payload['question_set']} ({payload['date']})", "",
             f"Machine: {m['physical_cores']} physical cores ({m['cpus']} logical), {m['ram_gb']} GiB RAM, "
             f"GPU: {m['gpu']}; Python {m['python']}.", ""]
    units = payload.get("units") or {}
    if units:
        lines += ["Latency also as a ratio to the unit: raw llama.cpp reading a 480-token prompt and writing 20 "
                  "tokens with the same GGUF, measured at the start of this run (eval/unit.py): " +
                  ", ".join(f"`{g}` {u['seconds']:.2f} s" for g, u in units.items()) + ".", ""]
    lines += table(runs, payload.get("by_set", False), units)
    if all(r["retrieval_only"] for r in runs):
        return "\n".join(lines) + "\n"
    lines += ["", "Answerable right: ours, an accepted alias occurs in the answer; SQuAD sets, a normalised gold "
              "answer occurs in it (EM/F1: SQuAD's own, on the answer with citation markers removed). Declined "
              "right: unanswerable questions declined. Citation support: answered, answerable questions citing a "
              "passage that holds a gold answer or the evidence."]
    for r in runs:
        s = r["summary"]
        lines += ["", f"## {r['name']}", "",
                  f"- questions: {s['questions']} ({s['answerable']} answerable), scored by the {r['scoring']} rule",
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
                said = row.get("answer", "(answer not kept: it quotes SQuAD)" if r["scoring"] == "squad" else "")
                lines.append(f"- `{row['id']}` ({row['kind']}) {row['question']} → {said!s} "
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


def risk_chart(results: list[dict], path: Path) -> Path | None:
    """The risk-coverage curve of each run (answering the most confident first), one line per set."""
    runs = [r for r in results if "risk_coverage" in r["summary"]]
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in runs:
        rc = r["summary"]["risk_coverage"]
        ax.plot(rc["coverage"], rc["risk"], label=f"{r['name']} (AURC {rc['aurc']:.3f})")
    ax.axhline(0.05, color="gray", lw=0.8, ls=":")
    ax.axhline(0.10, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of answers that are wrong)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 0.7)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Risk-coverage by calibrated P(right)")
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
    sets = question_sets()
    ap = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="questions", help=f"question set: {' | '.join(sets)} | a .jsonl path")
    ap.add_argument("--compare", action="store_true", help="every set (or --sets), dev and test, in one table")
    ap.add_argument("--sets", default="", metavar="A,B,C", help="restrict --compare to these sets")
    ap.add_argument("--ablations", action="store_true", help=f"run {', '.join(COMPARE)} side by side on --set")
    ap.add_argument("--config", action="append", default=[], metavar="NAME=KEY=VALUE,...",
                    help="a named configuration (a preset name alone, or overrides); repeatable")
    ap.add_argument("--retrieval-only", action="store_true", help="skip generation: retrieval metrics only")
    ap.add_argument("--limit", type=int, default=0, help="N questions of each set, at an even stride")
    ap.add_argument("--out", default="", help="report name under eval/results/")
    ap.add_argument("--base", default="", help="TOML config file the configurations start from")
    ap.add_argument("--no-unit", action="store_true", help="skip measuring the latency unit (eval/unit.py)")
    ap.add_argument("--squad-file", default=None, metavar="PATH",
                    help="SQuAD 2.0 JSON the squad and rhine sets are built from (default: "
                         "../shared/datasets/squad2-dev.json; the official dev-v2.0.json works too)")
    args = ap.parse_args(argv)
    if args.sets and not args.compare:
        ap.error("--sets goes with --compare; for one set use --set NAME")
    if args.compare and args.ablations:
        ap.error("--compare runs configurations on every set; name them with --config, not --ablations")

    base = Config.from_toml(args.base) if args.base else Config()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    runner = Runner(Path(tempfile.mkdtemp(prefix="rag-eval-index-")))
    suffix = "-retrieval" if args.retrieval_only else ""
    named = [(n, PRESETS[n]) if n in PRESETS and not o else (n, o) for n, o in map(parse_override, args.config)]
    if args.ablations:
        named = [(n, PRESETS[n]) for n in COMPARE if not (args.retrieval_only and "generator" in PRESETS[n])]
    # the sets first: one whose data is absent is skipped (saying where to get it) before any model loads
    if args.compare:
        names = [n.strip() for n in args.sets.split(",") if n.strip()] or list(sets)
    else:
        names = [args.set]
    chosen, skipped = [], {}
    for n in names:
        try:
            chosen.append(resolve_set(n, args.squad_file))
        except (DataMissing, LayoutError) as exc:
            skipped.setdefault(str(exc), []).append(n)
    for reason, missed in skipped.items():
        print(f"skipping {', '.join(missed)}: {reason}", file=sys.stderr)
    if not chosen:
        return 1
    units = {}
    if not args.retrieval_only and not args.no_unit:
        from eval.unit import measure

        for gen in dict.fromkeys(base.replace(**o).generator for _, o in named or [("", {})]):
            if not gen.startswith("openai:"):
                units[gen] = measure(gen, config=base).to_dict()
                print(f"unit for {gen}: {units[gen]['seconds']:.2f} s")
    try:
        if args.compare:
            label = ", ".join(qs.name for qs in chosen)
            out, by_set = args.out or "compare" + suffix, True
            configs = {n: base.replace(**o) for n, o in named} if named else base
            results = run_sets(runner, chosen, configs, args.retrieval_only, args.limit,
                               save=lambda done: write_report(done, out, label, by_set, units))
        else:
            qs = chosen[0]
            named = named or [("default", {})]
            items = load_items(qs.path, args.limit)
            results = []
            for name, overrides in named:
                config = base.replace(**overrides)
                config = config.replace(corpus_dir=qs.corpus_dir) if qs.corpus_dir else config
                results.append(run_config(runner, name, config, items, args.retrieval_only, scoring=qs.scoring))
                print(headline(results[-1]))
            out = args.out or ("ablations" if args.ablations else "-".join(n for n, _ in named)) + suffix
            if qs.name != "questions" and not args.out:
                out += f"-{qs.name}"
            label, by_set = qs.name, False
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    json_path, md_path = write_report(results, out, label, by_set, units)
    print(f"wrote {json_path} and {md_path}")
    if len(results) > 1 and not args.retrieval_only:
        print(f"wrote {chart(results, RESULTS / f'{out}.png')}")
    curve = risk_chart(results, RESULTS / f"{out}-risk.png")
    if curve is not None:
        print(f"wrote {curve}")
    return 0
