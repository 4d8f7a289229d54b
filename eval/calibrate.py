"""Fit the calibrated decision (rag/gate/weights/calibration.json) on the calibration split.

    python -m eval.calibrate                       # the default generator; ~40 min on 2 cores
    python -m eval.calibrate --generator fast --per-article 30

The calibration split: our own questions (eval/questions.jsonl, the dev set we look at) and the
SQuAD 2.0 development articles the gate holds out for calibration (rag/gate/data.py: 5 articles,
never trained on, never the Normans or Rhine test articles), each article's paragraphs indexed as
documents, a seeded sample of its questions (half of them adversarially unanswerable).

Every question is answered with nothing declined on purpose (max_risk 1, no early declines, no rule
vetoes), so each one yields its signals and, when the model answered, whether that answer is right.
Two logistic regressions are fitted on them (rag/gate/calibrate.py): before generating (the gate's
scores) and after (with the generator's signals and the gate's reading of the cited passage). The
rows are kept in the file, so thresholds for any max_risk come from the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

from eval.external import squad as squad_sets
from eval.external import squad_path
from eval.run import HERE, Runner, load_items, score
from rag.config import Config
from rag.gate import data as gate_data
from rag.gate.calibrate import AFTER, BEFORE, Calibrator, Decision, Signals, features

WEIGHTS = Path(__file__).resolve().parents[1] / "rag" / "gate" / "weights"
GENERATOR_FREE = BEFORE + ("cited_gate", "span_agree", "rescued")  # "*": any generator without its own fit
COLLECT = {"max_risk": 1.0, "early_decline_loss": 0.0, "rules": "none"}


def calibration_sets(squad_file: Path, per_article: int, seed: int, root: Path) -> list[tuple[str, Path, Path | None, str]]:
    """(name, questions.jsonl, corpus folder or None, scoring) of every calibration set."""
    data = json.loads(Path(squad_file).read_text(encoding="utf-8"))
    titles = [a["title"] for a in data["data"]]
    out = [("questions", HERE / "questions.jsonl", None, "alias")]
    for title in titles:
        if gate_data.split_of(title, "dev", titles) != "calib":
            continue
        name = "calib-" + "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
        docs, items = squad_sets.build(name, title, per_article, data, where=str(squad_file))
        folder = root / name
        (folder / "corpus").mkdir(parents=True, exist_ok=True)
        for file_name, text in docs.items():
            (folder / "corpus" / file_name).write_text(text, encoding="utf-8")
        (folder / "questions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
        out.append((name, folder / "questions.jsonl", folder / "corpus", "squad"))
    return out


def collect(runner: Runner, config: Config, sets, limit: int = 0, progress: bool = True) -> list[dict]:
    """One row per question: the signals, and whether the answer the pipeline would give is right."""
    from tqdm.auto import tqdm

    rows = []
    for name, path, corpus, scoring in sets:
        c = config.replace(**COLLECT, **({"corpus_dir": corpus} if corpus else {}))
        bot = runner.bot(c)
        bot.warm_up()
        for item in tqdm(load_items(path, limit), desc=name, unit="q", disable=not progress):
            answer = bot.ask(item["question"], [tuple(t) for t in item.get("history") or []])
            given = not answer.abstained
            right = bool(given and score(item, answer.text, False, scoring)["correct"])
            rows.append({"set": name, "id": item["id"], "answerable": item["answerable"], "given": given,
                         "right": right, "signals": answer.signals, "verdict": answer.verdict,
                         "seconds": answer.timings.total})
    return rows


FOLDS = 5


def fit(rows: list[dict], after_names=AFTER, folds: int = FOLDS) -> Decision:
    """The two models, fitted on the rows (before: every row; after: the rows with an answer).

    The rows kept for thresholds carry out-of-fold probabilities: each row is scored by the models
    fitted on the other folds (folds by question set and id, so a question never scores itself), and a
    threshold for max_risk is not chosen on the very points the models were fitted to."""
    decision = _fit(rows, after_names)
    oof: list[tuple[float, float, int]] = [(0.0, -1.0, 0)] * len(rows)
    fold_of = [zlib.crc32(f"{r['set']}/{r['id']}".encode()) % folds for r in rows]
    for k in range(folds):
        train = [r for r, f in zip(rows, fold_of) if f != k]
        if sum(r["right"] for r in train) < 2 or sum(1 - r["right"] for r in train) < 2:
            continue
        d = _fit(train, after_names)
        for i, (r, f) in enumerate(zip(rows, fold_of)):
            if f == k:
                s = Signals(**r["signals"])
                oof[i] = (round(d.p_before(s), 5), round(d.p_after(s), 5) if r["given"] else -1.0, int(r["right"]))
    decision.rows = oof
    return decision


def _fit(rows: list[dict], after_names) -> Decision:
    sig = [Signals(**r["signals"]) for r in rows]
    before = Calibrator.fit([features(s, BEFORE) for s in sig], [int(r["right"]) for r in rows], BEFORE)
    given = [(s, r) for s, r in zip(sig, rows) if r["given"]]
    after = Calibrator.fit([features(s, after_names) for s, _ in given], [int(r["right"]) for _, r in given],
                           after_names)
    return Decision(before, after)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--generator", default="quality", help="the generator to fit for (registry name)")
    ap.add_argument("--per-article", type=int, default=50, help="questions sampled from each SQuAD article")
    ap.add_argument("--limit", type=int, default=0, help="at most N questions of each set (a quick run)")
    ap.add_argument("--squad-file", default=None, help="SQuAD 2.0 JSON (default ../shared/datasets/squad2-dev.json)")
    ap.add_argument("--gate", default="gate", help="the gate to calibrate (registry name or folder)")
    ap.add_argument("--out", default="", help="calibration.json to write (default: beside the gate's weights)")
    ap.add_argument("--rows", default="", help="reuse rows saved by an earlier run instead of answering again")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = Config(generator=args.generator, gate=args.gate)
    out = Path(args.out) if args.out else (Path(args.gate) if Path(args.gate).is_dir() else WEIGHTS) / "calibration.json"
    rows_file = out.with_name(f"calibration-rows-{args.generator}.jsonl")
    if args.rows:
        rows = [json.loads(line) for line in Path(args.rows).read_text().splitlines() if line.strip()]
    else:
        root = Path(tempfile.mkdtemp(prefix="rag-calib-"))
        sets = calibration_sets(squad_path(args.squad_file), args.per_article, 0, root / "sets")
        t = time.time()
        rows = collect(Runner(root / "indexes"), config, sets, args.limit)
        print(f"answered {len(rows)} questions in {(time.time() - t) / 60:.1f} min", file=sys.stderr)
        rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fitted = json.loads(out.read_text())["generators"] if out.exists() else {}
    fitted[args.generator] = _with_meta(fit(rows), rows, args)
    if args.generator == Config().generator or "*" not in fitted:
        fitted["*"] = _with_meta(fit(rows, GENERATOR_FREE), rows, args)
    out.write_text(json.dumps({"format": 1, "generators": fitted}, indent=1) + "\n")
    for name in (args.generator, "*"):
        d = Decision.from_dict(fitted[name])
        print(name, {r: d.thresholds(r, 0.02) for r in (0.05, 0.1, 0.2)})
    print(f"wrote {out}")
    return 0


def _with_meta(decision: Decision, rows: list[dict], args) -> dict:
    decision.meta = {"generator": args.generator, "questions": len(rows),
                     "answerable": sum(r["answerable"] for r in rows), "given": sum(r["given"] for r in rows),
                     "right": sum(r["right"] for r in rows), "sets": sorted({r["set"] for r in rows}),
                     "per_article": args.per_article, "collect": COLLECT}
    return decision.to_dict()


if __name__ == "__main__":
    sys.exit(main())
