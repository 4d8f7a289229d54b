"""Which grounding rules earn their place once the answer gate decides: an ablation on the dev sets.

    python -m eval.ablate                        # questions, squad-dev, rhine-dev (+ temporal-dev)
    python -m eval.ablate --sets questions --limit 10

Each question is answered once with every rule off (the calibrated decision alone: max_risk 1, no early
declines); then, for each variant (all rules; all but one family; none; one family alone), the rules
are applied to the same answer as the pipeline applies them (the early declines they make, the
verification that can veto or re-cite an answer) and the configured decision is applied after, so
every variant is judged on the same answers. Writes eval/results/ablation-rules.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

from eval import metrics
from eval.run import RESULTS, Runner, load_items, operate, resolve_set, score
from rag.config import RULE_FAMILIES, Config
from rag.gate.calibrate import Signals, risk_coverage
from rag.recency import oldest_first

DEV_SETS = ["questions", "squad-dev", "rhine-dev", "temporal-dev"]


def variants() -> dict[str, frozenset]:
    out = {"all rules": frozenset(RULE_FAMILIES), "no rules (gate alone)": frozenset()}
    for fam in RULE_FAMILIES:
        out[f"all but {fam}"] = frozenset(RULE_FAMILIES) - {fam}
    for fam in RULE_FAMILIES:
        out[f"only {fam}"] = frozenset({fam})
    return out


def judge(bot, item: dict, scoring: str, rules: frozenset, answer, found, absent, decision, config: Config) -> dict:
    """The row the pipeline would give for this answer under these rules (before the decision)."""
    from rag import decide
    from rag.decide import read_cited
    from rag.grounding.verify import verify

    q = answer.standalone_question
    base = {k: item.get(k) for k in ("id", "kind", "question", "answers", "answerable", "evidence")}
    base["evidence"] = base["evidence"] or []
    signals = Signals(**{k: v for k, v in answer.signals.items() if k in Signals.__dataclass_fields__})
    early = decide.before(bot.index, q, found, absent, config.replace(rules=",".join(rules) or "none"),
                          None, signals)
    declined = {**base, "abstained": True, "correct": not item["answerable"], "citations": [], "f1": 0.0,
                "p_before": decision.p_before(signals), "p_after": -1.0, "verdict": "declined",
                "early_seconds": 0.0, "seconds": answer.timings.total, "first_token": answer.timings.first_token}
    if early or answer.abstained:
        return declined
    text = answer.text if answer.verdict.startswith("rescued") else answer.raw
    v = verify(text, answer.passages, q, rules)
    if not v.ok:
        return declined
    read_cited(signals, v, found, q, bot.gate)
    cited = [p for p in answer.passages if p.n in v.cited]
    row = {**base, "abstained": False, "citations": [{"n": p.n, "quote": p.text} for p in cited],
           "p_before": decision.p_before(signals), "p_after": decision.p_after(signals), "verdict": v.status,
           "early_seconds": 0.0, "seconds": answer.timings.total, "first_token": answer.timings.first_token}
    row.update(score(item, v.text, False, scoring))
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.ablate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default=",".join(DEV_SETS))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", default="ablation-rules")
    ap.add_argument("--from-rows", action="store_true",
                    help="re-judge the rows a previous run saved (<out>-rows.json) at the configured max_risk")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = Config()
    if args.from_rows:
        return report(json.loads((RESULTS / f"{args.out}-rows.json").read_text()), args.out, config)
    runner = Runner(Path(tempfile.mkdtemp(prefix="rag-ablate-")))
    table: dict[str, dict[str, dict]] = {}
    compact: dict[str, dict[str, list]] = {}  # every variant's rows, to choose max_risk and rules offline
    for name in [n.strip() for n in args.sets.split(",") if n.strip()]:
        try:
            qs = resolve_set(name)
        except Exception as exc:  # a set whose data is absent is skipped, saying why
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        c = config.replace(corpus_dir=qs.corpus_dir) if qs.corpus_dir else config
        bot = runner.bot(c.replace(rules="none", max_risk=1.0, early_decline_loss=0.0))
        decision = bot.decision_for(c.generator)
        bot.warm_up()
        rows = {v: [] for v in variants()}
        from tqdm.auto import tqdm

        for item in tqdm(load_items(qs.path, args.limit), desc=name, unit="q"):
            bot.config = bot.config.replace(as_of=item.get("as_of") or "")  # the day it is asked on
            answer = bot.ask(item["question"], [tuple(t) for t in item.get("history") or []])
            found, absent = bot._retrieve(answer.standalone_question, dataclasses.replace(answer.timings),
                                          bot.config, bot.index)  # the same passages, read again,
            found = oldest_first(found)  # numbered as the model read them
            for vname, rules in variants().items():
                rows[vname].append(judge(bot, item, qs.scoring, rules, answer, found, absent, decision,
                                         bot.config.replace(rules=",".join(rules) or "none")))
        t_early, t_after = decision.thresholds(config.max_risk, config.early_decline_loss)
        table[name] = {}
        for vname, rs in rows.items():
            table[name][vname] = summary(rs, t_early, t_after)
        for vname in ("all rules", "no rules (gate alone)"):  # the same answers, the decision off
            table[name][NO_DECISION[vname]] = summary(rows[vname], 0.0, 0.0)
        print(json.dumps(table[name], indent=1))
        keep = ("id", "kind", "answerable", "abstained", "correct", "p_before", "p_after", "verdict")
        compact[name] = {v: [{k: r.get(k) for k in keep} for r in rs] for v, rs in rows.items()}
        write(table, args.out, config)
        (RESULTS / f"{args.out}-rows.json").write_text(json.dumps(compact))
    return 0


NO_DECISION = {"all rules": "all rules, no gate decision", "no rules (gate alone)": "no rules, no decision (the model alone)"}


def summary(rs: list[dict], t_early: float, t_after: float) -> dict:
    """One variant on one set: the rows as the decision leaves them, and the risk-coverage of P(right)."""
    s = metrics.summarize([operate(r, t_early, t_after) for r in rs])
    given = [r for r in rs if not r["abstained"]]
    rc = risk_coverage([r["p_after"] for r in given], [int(r["correct"]) for r in given], total=len(rs))
    return {"answerable_right": s["accuracy"], "declined_right": s["declined_correctly"], "overall": s["overall"],
            "aurc": rc["aurc"], "coverage@5%": rc["coverage@5%"], "coverage@10%": rc["coverage@10%"],
            "questions": len(rs), "answerable": sum(1 for r in rs if r["answerable"])}


def report(compact: dict, out: str, config: Config) -> int:
    """The tables and the risk-coverage chart from saved rows, with today's thresholds."""
    from rag.gate import AnswerGate

    decision = AnswerGate(config.gate, config.cache_dir).decision(config.generator)
    t_early, t_after = decision.thresholds(config.max_risk, config.early_decline_loss)
    filled = {name: {v: [{"early_seconds": 0.0, "first_token": 0.0, "seconds": 0.0, "citations": [], "kind": "", **r}
                         for r in rs] for v, rs in by_variant.items()} for name, by_variant in compact.items()}
    table = {}
    for name, rows in filled.items():
        table[name] = {v: summary(rs, t_early, t_after) for v, rs in rows.items()}
        for v in NO_DECISION:
            table[name][NO_DECISION[v]] = summary(rows[v], 0.0, 0.0)
    write(table, out, config)
    chosen = variant_of(config.rule_set)
    curves = {}
    for name, rows in filled.items():
        given = [r for r in rows[chosen] if not r["abstained"]]
        curves[name] = risk_coverage([r["p_after"] for r in given], [int(r["correct"]) for r in given],
                                     total=len(rows[chosen]))
    print(f"wrote {RESULTS / (out + '.md')} and {risk_png(curves, chosen, RESULTS / (out + '-risk.png'))}")
    return 0


def variant_of(rules: frozenset) -> str:
    """The variant name of a rule set (the configured one, for the chart)."""
    return next((v for v, r in variants().items() if r == rules), "all rules")


def risk_png(curves: dict[str, dict], variant: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, rc in curves.items():
        ax.plot(rc["coverage"], rc["risk"], label=f"{name} (AURC {rc['aurc']:.3f})",
                ls="-" if name in DEV_SETS else "--")
    for level in (0.05, 0.10):
        ax.axhline(level, color="gray", lw=0.8, ls=":")
    ax.set(xlabel="coverage (share of questions answered, most confident first)",
           ylabel="risk (share of answers that are wrong)", xlim=(0, 1), ylim=(0, 0.8),
           title=f"Risk-coverage of the calibrated P(right) ({variant}); dashed: test sets")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(table: dict, out: str, config: Config) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{out}.json").write_text(json.dumps({"max_risk": config.max_risk, "table": table}, indent=1))
    lines = [f"# Ablation of the grounding rules (dev sets, max_risk {config.max_risk:g})", "",
             "Each set: answerable right / declined right (overall right), AURC of the calibrated P(right), "
             "coverage at 5% risk. The same answers for every variant (eval/ablate.py).", ""]
    names = list(table)
    lines += ["| variant | " + " | ".join(names) + " | mean overall (dev sets) |", "|---|" + "---|" * (len(names) + 1)]
    for v in next(iter(table.values())):  # the variants the rows were judged by (the families of that run)
        cells = [f"{t[v]['answerable_right']:.0%} / {t[v]['declined_right']:.0%} ({t[v]['overall']:.0%}), "
                 f"AURC {t[v]['aurc']:.3f}, cov@5% {t[v]['coverage@5%']:.0%}" for t in table.values()]
        dev = [t for n, t in table.items() if n in DEV_SETS] or list(table.values())
        mean = sum(t[v]["overall"] for t in dev) / len(dev)
        lines.append(f"| {v} | " + " | ".join(cells) + f" | {mean:.1%} |")
    (RESULTS / f"{out}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
