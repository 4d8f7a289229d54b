"""The gate's model card: measured on its test split, written beside the weights.

    python -m rag.gate.card                      # rag/gate/weights/README.md, from gate.json + a test run

The test split is the 5 SQuAD 2.0 development articles the gate never trained or calibrated on
(rag/gate/data.py), read as the product reads them: every passage window of the question's paragraph
scored, the best one taken. Reported: AUROC of answerable vs unanswerable questions (best window),
how often the best window holds the answer, and pair AUROC against each kind of negative.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "weights"


def evaluate(folder: Path, datasets: Path, split: str = "test", questions: int = 600, seed: int = 1) -> dict:
    """Question-level and pair-level results of the gate in `folder` on a split."""
    from . import AnswerGate
    from .train import _question_sample, auroc

    gate = AnswerGate(str(folder))
    gate.warm_up()
    qs = _question_sample(datasets, split, questions, seed)
    best, top1, t, n = [], [], time.perf_counter(), 0
    for q in qs:
        s = [g.prob for g in gate.score(q["question"], [(q["title"], w) for w in q["windows"]])]
        n += len(s)
        best.append(max(s))
        if q["answerable"] and any(q["holds"]):
            top1.append(q["holds"][int(np.argmax(s))])
    labels = [int(q["answerable"]) for q in qs]
    return {"split": split, "questions": len(qs), "unanswerable": len(qs) - sum(labels),
            "question_auroc": round(auroc(best, labels), 4), "best_window_holds_answer": round(float(np.mean(top1)), 4),
            "pairs_per_second": round(n / (time.perf_counter() - t), 1)}


def write(folder: Path, results: dict) -> Path:
    meta = json.loads((folder / "gate.json").read_text())
    curve = meta.get("curve", [])
    lines = [
        "# The answer gate",
        "",
        "A cross-encoder that reads (question, passage) and gives the probability that the passage answers",
        "the question, with a span head that points at the answer's words. Trained here from the bundled",
        f"embedder's weights ({meta['base']['model_id']}, sha256 `{meta['base']['sha256'][:16]}…`) by",
        "`python -m rag.gate.train` (seed, settings and data below); the word embeddings are the embedder's",
        "and are not stored here. `gate.safetensors`: float16; `calibration.json`: the calibrated decision",
        "fitted by `python -m eval.calibrate` on the calibration split.",
        "",
        "## Data (read from ../shared/datasets, never copied; split by article)",
        "",
        "- SQuAD 2.0 development set: 20 articles train, 5 calibrate, 5 test (the test results below);",
        "  Normans and Rhine are never used (the project's external test sets).",
        "- SQuAD 1.1 training set (86k answerable questions), the first 10 SQuAD 2.0 training articles,",
        "  SQuADShifts Reddit and Amazon reviews (half of their questions).",
        "- Pairs: the answer's sentence (alone or with the one before), another sentence of the paragraph,",
        "  the closest sentence of another paragraph, the question with a year, number, ordinal, name or",
        "  opposite swapped for another from the same article (against the answer's sentence), and SQuAD",
        "  2.0's own unanswerable questions against their two closest sentences.",
        "- Licences: SQuAD 1.1 and 2.0 CC BY-SA 4.0 (Rajpurkar et al. 2016, 2018); SQuADShifts CC BY 4.0",
        "  (Miller et al. 2020). The weights are a derivative work: CC BY-SA 4.0, with this attribution;",
        "  the base model is Apache-2.0.",
        "",
        "## Training",
        "",
        "| setting | value |", "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in meta.get("settings", {}).items()]
    lines += ["", "Learning curve (calibration split: pair AUROC; per question, best window: AUROC and how often it",
              "holds the answer):", "", "| pairs seen | minutes | pair AUROC | vs unanswerable | vs swapped | "
              "question AUROC | best window holds answer |", "|---|---|---|---|---|---|---|"]
    for c in curve:
        lines.append(f"| {c['pairs']:,} | {c['minutes']} | {c['auroc']:.3f} | {c.get('auroc_unans', 0):.3f} | "
                     f"{c.get('auroc_swap', 0):.3f} | {c['q_auroc']:.3f} | {c['q_top1']:.3f} |")
    r = results
    lines += ["", f"## Test split ({r['questions']} questions, {r['unanswerable']} unanswerable)", "",
              f"- AUROC, answerable vs unanswerable (best window of the paragraph): **{r['question_auroc']:.3f}**",
              f"- the best window holds the answer: **{r['best_window_holds_answer']:.1%}** of answerable questions",
              f"- scoring speed on this machine: {r['pairs_per_second']} pairs/s (torch, CPU)", ""]
    path = folder / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    from .train import datasets as default_datasets

    ap = argparse.ArgumentParser(prog="python -m rag.gate.card", description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", default=str(WEIGHTS))
    ap.add_argument("--datasets", default=default_datasets)
    ap.add_argument("--questions", type=int, default=600)
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    results = evaluate(folder, Path(args.datasets), questions=args.questions)
    (folder / "test-results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results), "->", write(folder, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
