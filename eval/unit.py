"""The latency unit: raw llama.cpp reading a 480-token prompt from scratch and writing 20 tokens,
with the same GGUF and thread count as the generator it measures, in the same run.

Seconds differ several-fold between these machines (and between runs on one); a ratio to the unit
does not. It is the naive single-shot pipeline: no KV cache reuse, no retrieval, no checks.

    python -m eval.unit             # the default generator's unit
    python -m eval.unit fast quality
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import asdict, dataclass

PROMPT_TOKENS = 480
WRITE_TOKENS = 20
# Ordinary news prose, so tokens per word are typical; repeated until the prompt is 480 tokens.
FILLER = ("Officials met on Tuesday to discuss the draft agreement, which would set limits on the size of "
          "the armed forces, the use of frozen assets and the future of the disputed regions. Negotiators "
          "said the talks were constructive but that several points remained open, and a second round is "
          "expected later this month in a neutral country. ")


@dataclass(frozen=True)
class Unit:
    generator: str  # the registry name or path it was measured for
    seconds: float  # median of the repeats
    read_s: float  # reading the 480 tokens (median)
    write_s: float  # writing the 20 tokens (median)
    repeats: int
    n_threads: int

    def ratio(self, seconds: float) -> float:
        return seconds / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


def measure(generator: str = "", repeats: int = 3, config=None) -> Unit:
    """The unit for a local GGUF generator (a registry name, "repo:file.gguf" or a path): its own
    fresh llama.cpp context, so nothing is cached from the product's contexts."""
    import llama_cpp

    from rag.config import Config
    from rag.models.base import physical_cores
    from rag.models.registry import resolve

    config = config or Config()
    name = generator or config.generator
    if name.startswith("openai:"):
        raise ValueError(f"the unit is measured with a local GGUF; {name!r} is a server (use the GGUF it serves)")
    path = resolve(name, config.cache_dir, role="generator").path
    threads = config.n_threads or physical_cores()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=1024, n_threads=threads, n_threads_batch=threads,
                          n_batch=512, verbose=False, seed=0)
    ids = llm.tokenize(FILLER.encode(), add_bos=False)
    prompt = ([llm.token_bos()] if llm.token_bos() >= 0 else []) + (ids * (PROMPT_TOKENS // len(ids) + 1))
    prompt = prompt[:PROMPT_TOKENS]
    reads, writes = [], []
    for _ in range(repeats + 1):  # the first run warms the weights into memory and is dropped
        llm.reset()  # from scratch: no prefix of the last run is reused
        t = time.perf_counter()
        llm.eval(prompt)
        t_read = time.perf_counter()
        for _ in range(WRITE_TOKENS):  # exactly 20 tokens, whatever they are (no stop on EOS)
            token = llm.sample(top_k=1, temp=0.0)
            llm.eval([token])
        t_end = time.perf_counter()
        reads.append(t_read - t)
        writes.append(t_end - t_read)
    reads, writes = reads[1:], writes[1:]
    totals = [r + w for r, w in zip(reads, writes)]
    del llm
    return Unit(name, statistics.median(totals), statistics.median(reads), statistics.median(writes),
                repeats, threads)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [""]
    for name in names:
        u = measure(name)
        print(f"{u.generator}: unit {u.seconds:.2f} s (read 480 tokens {u.read_s:.2f} s = "
              f"{PROMPT_TOKENS / u.read_s:.0f} tok/s, write 20 tokens {u.write_s:.2f} s = "
              f"{WRITE_TOKENS / u.write_s:.1f} tok/s; {u.n_threads} threads, median of {u.repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
