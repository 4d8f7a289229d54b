"""Check the GPU path end to end: the embedder on CUDA, the generator through transformers on CUDA.

    python -m eval.gpu_check --embedder PATH --generator PATH.gguf [--out results.json]

Runs the same questions on the CPU and on the GPU where one is present, and prints where each model
ran and how long each step took. (The default llama.cpp wheel is a CPU build, so on a CUDA machine
without a CUDA build of llama.cpp the generator goes through transformers.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

QUESTIONS = [
    "What cap on Ukraine's military did the first US draft propose?",
    "Where did Kirill Dmitriev travel in late October?",
    "What is the population of Kryvyi Rih?",
]


def run(device: str, embedder: str, generator: str) -> dict:
    import torch

    from rag import RAG
    from rag.config import Config
    from rag.models.hf import TransformersGenerator

    out: dict = {"device": device}
    config = Config(index_dir=Path(tempfile.mkdtemp()) / "index", embedder=embedder, generator=generator,
                    device=device, cache_dir=Path(tempfile.mkdtemp()))
    t = time.perf_counter()
    bot = RAG.load(config)
    out["index_build_s"] = time.perf_counter() - t
    model = bot.embedder.model
    out["embedder_on"] = str(next(model.parameters()).device)
    texts = [c.text for c in bot.index.chunks] * 20
    t = time.perf_counter()
    bot.embedder.embed(texts)
    out["embed_chunks_per_s"] = len(texts) / (time.perf_counter() - t)
    gen = bot.generator
    t = time.perf_counter()
    gen.warm_up()
    out["generator"] = type(gen).__name__
    out["generator_identity"] = gen.identity()  # which GGUF (the H100 record of 2026-11-27 ran "tiny") and dtype
    out["generator_load_s"] = time.perf_counter() - t
    on_torch = isinstance(gen, TransformersGenerator)
    out["generator_on"] = str(next(gen.model.parameters()).device) if on_torch else "llama.cpp"
    out["answers"] = []
    for q in QUESTIONS:
        a = bot.ask(q)
        out["answers"].append({"question": q, "raw": a.raw, "text": a.text, "abstained": a.abstained,
                               "first_token_s": a.timings.first_token, "total_s": a.timings.total,
                               "prompt_tokens": a.prompt_tokens, "completion_tokens": a.completion_tokens})
    if device == "cuda":
        out["max_gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--generator", default="fast")
    ap.add_argument("--devices", default="cuda,cpu")
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    import torch

    report = {"cuda_available": torch.cuda.is_available(),
              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "runs": []}
    for device in args.devices.split(","):
        if device == "cuda" and not torch.cuda.is_available():
            continue
        report["runs"].append(run(device, args.embedder, args.generator))
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
