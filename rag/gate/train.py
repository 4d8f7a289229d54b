"""Train the answer gate. One script, a fixed seed, checkpoints, resume.

    python -m rag.gate.train                       # the committed gate's run (hours on 2 CPU cores)
    python -m rag.gate.train --pairs=2000          # a short run
    python -m rag.gate.train --resume              # go on from the last checkpoint in --out

Reads SQuAD-layout files from ../shared/datasets (or --datasets), never copies them. Prints loss,
pairs per second and the validation result as it goes; writes `--out`/ckpt.pt every `ckpt_every` steps
(atomic), and `--out`/log.jsonl (the learning curve). At the end it exports the gate (float16, frozen
word embeddings left out) to `--export` with gate.json (settings, data, metrics). On a machine with a
GPU the same code trains there.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

# --- the knobs (each overridable: --name=value) ---------------------------------------------
seed = 1337
pairs = 160_000  # training pairs seen in all (the learning-rate schedule spans them): 43% of one pass
batch = 32
lr = 6e-5  # encoder; the heads learn 10x faster
weight_decay = 0.01
warmup = 0.04  # share of steps
span_weight = 0.5  # weight of the span loss beside the answer loss
max_tokens = 128
log_every = 25  # steps
eval_every = 1000
ckpt_every = 200
val_pairs = 1600
val_questions = 160
threads = 0  # 0: torch's default
datasets = str(ROOT.parent / "shared" / "datasets")
out = str(Path.home() / ".cache" / "rag-news" / "gate-train")
export = str(ROOT / "rag" / "gate" / "weights")
limit = 0  # use only this many pairs of each split (a quick run, the fast test)
device = "auto"
resume = False
export_only = False  # export the last checkpoint in --out as it is, and stop
max_steps = 0  # stop this run after so many steps (a checkpoint is written; --resume goes on); 0: run to the end


def main(argv: list[str] | None = None) -> dict:
    knobs = {k: v for k, v in globals().items() if isinstance(v, (int, float, str, bool))
             and not k.startswith("_") and k not in ("ROOT", "annotations")}
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for k, v in knobs.items():
        if isinstance(v, bool):
            parser.add_argument(f"--{k}", action="store_true", default=v)
        else:
            parser.add_argument(f"--{k}", type=type(v), default=v)
    cfg = vars(parser.parse_args(argv))
    return train(cfg)


def train(cfg: dict) -> dict:
    import torch

    from ..models import REGISTRY, resolve
    from ..config import default_cache_dir
    from . import data
    from .model import build, save

    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    dev = "cuda" if cfg["device"] == "auto" and torch.cuda.is_available() else \
        ("cpu" if cfg["device"] == "auto" else cfg["device"])
    base = resolve("minilm", default_cache_dir(), "embedder").path
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base))
    outdir = Path(cfg["out"])
    outdir.mkdir(parents=True, exist_ok=True)
    datasets_dir = Path(cfg["datasets"])
    if not (datasets_dir / "squad2-dev.json").exists():
        sys.exit(data.missing_data_message(datasets_dir))

    t0 = time.time()
    train_set = _tokenized(tok, datasets_dir, "train", cfg, outdir)
    val_set = _tokenized(tok, datasets_dir, "calib", cfg, outdir)
    print(f"data: {len(train_set['label']):,} training pairs, {len(val_set['label']):,} calibration pairs "
          f"({time.time() - t0:.0f} s)", flush=True)
    gc.collect()
    gc.freeze()  # millions of token lists: keep the cyclic collector from walking them at every step
    val_idx = _stratified(val_set, cfg["val_pairs"], cfg["seed"])
    questions = _question_sample(datasets_dir, "calib", cfg["val_questions"], cfg["seed"])

    torch.manual_seed(cfg["seed"])
    net = build(base).to(dev)
    body = [p for n, p in net.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    heads = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg["lr"]}, {"params": heads, "lr": cfg["lr"] * 10}],
                            weight_decay=cfg["weight_decay"])
    steps = max(1, cfg["pairs"] // cfg["batch"])
    warm = max(1, int(steps * cfg["warmup"]))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    batches = _batches(train_set, cfg["batch"], steps, cfg["seed"])
    step, curve = 0, []
    ckpt = outdir / "ckpt.pt"
    if (cfg["resume"] or cfg["export_only"]) and ckpt.exists():
        state = torch.load(ckpt, map_location=dev, weights_only=False)
        if state["run"] != _run_key(cfg):
            sys.exit(f"{ckpt} is from another run (other data or settings); start afresh without --resume "
                     f"or pass --out to a new folder")
        net.load_state_dict(state["net"], strict=False)
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step, curve = state["step"], state["curve"]
        torch.set_rng_state(state["rng"])
        print(f"resumed at step {step:,} of {steps:,}", flush=True)

    if cfg["export_only"]:
        if not ckpt.exists():
            sys.exit(f"no checkpoint in {outdir}")
        steps = step  # export what the checkpoint holds
    bce = torch.nn.BCEWithLogitsLoss()
    ce = torch.nn.CrossEntropyLoss()
    net.train()
    seen, busy, loss_sum, loss_n = 0, 0.0, 0.0, 0
    t_run = time.time()
    stop_at = min(steps, step + cfg["max_steps"]) if cfg["max_steps"] else steps
    while step < stop_at:
        idx = batches[step]
        t_step = time.time()
        ids, mask, types, label, s_pos, e_pos = _collate(train_set, idx, dev)
        logit, start, end = net(ids, mask, types)
        loss = bce(logit, label) + cfg["span_weight"] * 0.5 * (ce(start, s_pos) + ce(end, e_pos))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        seen += len(idx)
        busy += time.time() - t_step
        loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
        if step % cfg["log_every"] == 0 or step == steps:
            rate = seen / max(busy, 1e-9)  # training only, validation left out
            eta = (steps - step) * cfg["batch"] / max(rate, 1e-9)
            print(f"step {step:,}/{steps:,}  loss {loss_sum / loss_n:.4f}  {rate:.1f} pairs/s  "
                  f"lr {sched.get_last_lr()[0]:.2e}  eta {eta / 60:.0f} min", flush=True)
            loss_sum, loss_n = 0.0, 0
        if step % cfg["eval_every"] == 0 or step == steps:
            metrics = validate(net, tok, val_set, val_idx, questions, dev, cfg["max_tokens"])
            metrics.update(step=step, pairs=step * cfg["batch"], minutes=round((time.time() - t_run) / 60, 1))
            curve.append(metrics)
            _append(outdir / "log.jsonl", metrics)
            print("validation " + "  ".join(f"{k} {v}" for k, v in metrics.items()), flush=True)
            net.train()
        if step % cfg["ckpt_every"] == 0 or step in (steps, stop_at):
            _checkpoint(ckpt, net, opt, sched, step, curve, cfg)
    if step < steps:
        print(f"stopped at step {step:,} of {steps:,}; go on with --resume", flush=True)
        return curve[-1] if curve else {}
    meta = {
        "base": {"name": "minilm", "model_id": REGISTRY["minilm"].model_id, "sha256": REGISTRY["minilm"].sha256},
        "max_tokens": cfg["max_tokens"],
        "settings": {k: cfg[k] for k in ("seed", "pairs", "batch", "lr", "weight_decay", "warmup",
                                         "span_weight", "max_tokens")},
        "data": {name: family for name, family, *_ in data.SOURCES},
        "curve": curve,
    }
    path = save(net.to("cpu"), Path(cfg["export"]), meta)
    print(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB), sha256 {_sha256(path)}", flush=True)
    return curve[-1] if curve else {}


# --- data ------------------------------------------------------------------------------------
def _run_key(cfg: dict) -> str:
    keys = ("seed", "pairs", "batch", "lr", "max_tokens", "limit", "span_weight", "weight_decay", "warmup")  # not max_steps
    return hashlib.sha256(json.dumps({k: cfg[k] for k in keys}, sort_keys=True).encode()).hexdigest()[:16]


def _tokenized(tok, datasets_dir: Path, split: str, cfg: dict, outdir: Path) -> dict:
    """Pairs of a split as token ids (cached in --out, keyed by the data files and settings)."""
    import torch

    from . import data
    from .model import passage_text

    files = sorted(p for p in datasets_dir.glob("*.json"))
    key = hashlib.sha256(json.dumps([split, cfg["seed"], cfg["limit"], cfg["max_tokens"],
                                     [(f.name, f.stat().st_size) for f in files],
                                     Path(data.__file__).read_text()]).encode()).hexdigest()[:16]
    cache = outdir / f"pairs-{split}-{key}.pt"
    if cache.exists():
        return torch.load(cache, weights_only=False)
    print(f"building {split} pairs from {datasets_dir} (sentence splitting takes minutes) ...", flush=True)
    pairs = data.build(datasets_dir, split, cfg["seed"], cfg["limit"] or None)
    seconds, offsets = zip(*(passage_text(p.title, p.passage) for p in pairs)) if pairs else ((), ())
    enc = tok([p.question for p in pairs], list(seconds), truncation="only_second",
              max_length=cfg["max_tokens"], return_offsets_mapping=True)
    starts, ends = [], []
    for i, p in enumerate(pairs):
        s = e = 0
        if p.label == 1:
            a, b = p.answer_start + offsets[i], p.answer_end + offsets[i]
            seq = enc.sequence_ids(i)
            for t, ((x, y), sid) in enumerate(zip(enc["offset_mapping"][i], seq)):
                if sid == 1 and y > a and not s:
                    s = t  # the first passage token that ends after the answer starts
                if sid == 1 and x < b:
                    e = t  # the last passage token that starts before the answer ends
            if not s or e < s:
                s = e = 0  # the answer was cut off by truncation
        starts.append(s)
        ends.append(e)
    out = {"ids": enc["input_ids"], "types": enc["token_type_ids"],
           "label": [p.label for p in pairs], "start": starts, "end": ends,
           "kind": [p.kind for p in pairs], "group": [p.group for p in pairs]}
    tmp = cache.with_suffix(".tmp")
    torch.save(out, tmp)
    tmp.replace(cache)
    return out


def _batches(ds: dict, size: int, steps: int, seed: int) -> list[list[int]]:
    """Batches of similar length (less padding), in a seeded order; as many epochs as `steps` needs."""
    rng = random.Random(seed)
    n = len(ds["label"])
    out: list[list[int]] = []
    while len(out) < steps:
        order = list(range(n))
        rng.shuffle(order)
        block = size * 50
        epoch = []
        for i in range(0, n, block):
            part = sorted(order[i:i + block], key=lambda j: len(ds["ids"][j]))
            epoch += [part[k:k + size] for k in range(0, len(part), size)]
        rng.shuffle(epoch)
        out += epoch
    return out[:steps]


def _collate(ds: dict, idx: list[int], dev: str):
    import torch

    width = max(len(ds["ids"][j]) for j in idx)
    ids = torch.zeros(len(idx), width, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for r, j in enumerate(idx):
        n = len(ds["ids"][j])
        ids[r, :n] = torch.tensor(ds["ids"][j])
        types[r, :n] = torch.tensor(ds["types"][j])
        mask[r, :n] = 1
    label = torch.tensor([float(ds["label"][j]) for j in idx])
    s = torch.tensor([ds["start"][j] for j in idx])
    e = torch.tensor([ds["end"][j] for j in idx])
    return ids.to(dev), mask.to(dev), types.to(dev), label.to(dev), s.to(dev), e.to(dev)


def _stratified(ds: dict, n: int, seed: int) -> list[int]:
    """A fixed validation sample with every kind of pair in it."""
    rng = random.Random(seed)
    by_kind: dict[str, list[int]] = {}
    for i, k in enumerate(ds["kind"]):
        by_kind.setdefault(k, []).append(i)
    each = max(1, n // max(1, len(by_kind)))
    return sorted(i for ids in by_kind.values() for i in rng.sample(ids, min(each, len(ids))))


def _question_sample(datasets_dir: Path, split: str, n: int, seed: int) -> list[dict]:
    """SQuAD 2.0 dev questions of a split with every window of their paragraph: the gate's real task
    (is any passage of this paragraph an answer?)."""
    from . import data
    from ..text import sentence_spans

    raw = json.loads((datasets_dir / "squad2-dev.json").read_text())["data"]
    titles = [a["title"] for a in raw]
    items = []
    for art in raw:
        if data.split_of(art["title"], "dev", titles) != split:
            continue
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                items.append((art["title"].replace("_", " "), para["context"], qa))
    rng = random.Random(seed)
    items = rng.sample(items, min(n, len(items)))
    out = []
    for title, context, qa in items:
        wins = [context[a:b] for a, b, _ in data.passage_windows(context)]
        answers = [a["text"] for a in qa.get("answers", []) if a.get("text")]
        out.append({"question": qa["question"], "title": title, "windows": wins,
                    "answerable": not qa.get("is_impossible") and bool(answers),
                    "holds": [any(t in w for t in answers) for w in wins]})
    return out


# --- validation ---------------------------------------------------------------------------------
def validate(net, tok, ds: dict, idx: list[int], questions: list[dict], dev: str, max_tokens: int) -> dict:
    """Pair AUROC by kind of negative, and per question (best window of the paragraph): AUROC of
    answerable vs unanswerable, and how often the best window holds the answer."""
    import torch

    from .score import score_pairs

    net.eval()
    scores = []
    with torch.no_grad():
        for k in range(0, len(idx), 64):
            part = idx[k:k + 64]
            ids, mask, types, *_ = _collate(ds, part, dev)
            scores += torch.sigmoid(net(ids, mask, types)[0]).tolist()
    labels = [ds["label"][j] for j in idx]
    kinds = [ds["kind"][j] for j in idx]
    out = {"auroc": round(auroc(scores, labels), 4)}
    pos = [s for s, k in zip(scores, kinds) if k == "pos"]
    for kind in sorted(set(kinds) - {"pos"}):
        neg = [s for s, k in zip(scores, kinds) if k == kind]
        out[f"auroc_{kind}"] = round(auroc(pos + neg, [1] * len(pos) + [0] * len(neg)), 4)
    best, top1 = [], []
    for q in questions:
        s = score_pairs(net, tok, [q["question"]] * len(q["windows"]),
                        [q["title"]] * len(q["windows"]), q["windows"], dev, max_tokens)
        best.append(max(s))
        if q["answerable"] and any(q["holds"]):
            top1.append(q["holds"][int(np.argmax(s))])
    out["q_auroc"] = round(auroc(best, [int(q["answerable"]) for q in questions]), 4)
    out["q_top1"] = round(float(np.mean(top1)), 4) if top1 else 0.0
    return out


def auroc(scores, labels) -> float:
    """Area under the ROC curve by ranks (ties share a rank); 0.5 when one class is missing.

    >>> auroc([0.9, 0.8, 0.1], [1, 0, 0])
    1.0
    """
    s, y = np.asarray(scores, float), np.asarray(labels, int)
    n1, n0 = int(y.sum()), int((1 - y).sum())
    if n1 == 0 or n0 == 0:
        return 0.5
    order = s.argsort()
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):  # average ranks of ties
        tie = s == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _checkpoint(path: Path, net, opt, sched, step: int, curve: list, cfg: dict) -> None:
    import torch

    from .model import trainable_state

    tmp = path.with_suffix(".tmp")
    torch.save({"net": trainable_state(net), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "step": step, "curve": curve, "rng": torch.get_rng_state(), "run": _run_key(cfg),
                "cfg": cfg}, tmp)
    os.replace(tmp, path)


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


if __name__ == "__main__":
    main()
