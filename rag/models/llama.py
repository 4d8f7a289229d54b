"""llama.cpp: GGUF models on the CPU (or a CUDA build), with the prompt's fixed prefix kept in the KV
cache and prompt-lookup decoding as an option."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from ..errors import ModelError, require
from ..prompt import REFUSAL_MARKER, STOP
from .base import LOAD_LOCK, Generator, Usage, physical_cores
from .registry import LazyModel

BUSY_TIMEOUT = 300.0  # seconds a question waits for the model before it is told to try again


class PassageLookup:
    """Draft tokens for speculative decoding, read from the prompt itself: answers copy their
    passages' words, so after the last `ngram` tokens written, the tokens that followed the same
    n-gram in the prompt are a good guess. The latest occurrence wins (the passages sit at the end
    of the prompt; the worked examples at its start). The model checks every guess in one batch, so a
    greedy answer is the one it would have written anyway, in fewer steps.

        >>> import numpy as np
        >>> PassageLookup(ngram=2, tokens=3)(np.array([5, 6, 7, 8, 9, 1, 6, 7, 4, 2, 6, 7], np.intc)).tolist()
        [4, 2, 6]
    """

    def __init__(self, ngram: int = 2, tokens: int = 8):
        self.ngram, self.tokens = ngram, tokens

    def __call__(self, input_ids, /, **kwargs):
        import numpy as np

        ids = np.asarray(input_ids)
        for n in range(min(self.ngram, len(ids) - 1), 0, -1):
            tail = ids[-n:]
            windows = np.lib.stride_tricks.sliding_window_view(ids[:-1], n)
            hits = np.nonzero(np.all(windows == tail, axis=1))[0]
            for start in hits[::-1] + n:
                if start < len(ids) - n:  # not the tail itself
                    return ids[start:start + self.tokens].astype(np.intc)
        return np.array([], dtype=np.intc)


_SPECULATIVE = None


def _speculative_llama():
    """llama_cpp.Llama that computes logits only where they are sampled. Given a draft model,
    llama-cpp-python turns on logits for every token, the prompt's included: for a 1.5B Qwen that is a
    vocabulary-sized row (152k floats) per prompt token, about 15% more work on the prompt and a
    1.2 GB array. Here a prompt batch gets logits for its last token only, as without a draft, and a
    batch of one written token plus its guesses gets them for each (written against llama-cpp-python
    0.3.36's Llama.eval)."""
    global _SPECULATIVE
    if _SPECULATIVE is None:
        from llama_cpp import Llama

        class SpeculativeLlama(Llama):
            def eval(self, tokens):
                self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
                guesses = len(tokens) <= 1 + getattr(self.draft_model, "tokens", 0)
                for i in range(0, len(tokens), self.n_batch):
                    batch = tokens[i:i + self.n_batch]
                    self._batch.set_batch(batch=batch, n_past=self.n_tokens, logits_all=guesses)
                    self._ctx.decode(self._batch)
                    self.input_ids[self.n_tokens:self.n_tokens + len(batch)] = batch
                    self.n_tokens += len(batch)
                    self._requires_eval = False

        SpeculativeLlama.__module__ = __name__
        _SPECULATIVE = SpeculativeLlama
    return _SPECULATIVE


class LlamaCppGenerator(LazyModel, Generator):
    """Greedy decoding (top_k=1): the same answer for the same prompt."""

    def __init__(self, name: str = "fast", cache_dir: Path | None = None, n_threads: int = 0,
                 n_ctx: int = 2048, n_gpu_layers: int = -1, refusal_threshold: float = 0.0,
                 prompt_lookup: int = 0, flash_attn: bool = False):
        super().__init__(name, cache_dir)
        self.prompt_lookup = prompt_lookup  # draft tokens guessed from the prompt per step (0: off)
        self.flash_attn = flash_attn
        # Calibrated refusal: the model may open with the refusal marker only when it puts at least
        # this probability on it; otherwise it must answer (and verification judges the answer).
        self.refusal_threshold = refusal_threshold
        self.n_threads = n_threads or physical_cores()
        self.n_ctx = n_ctx
        self.n_gpu_layers = n_gpu_layers
        self._llm = None
        self._sibling: LlamaCppGenerator | None = None
        self._lock = threading.Lock()  # one llama.cpp context: one generation at a time

    def identity(self) -> dict:
        return {"runtime": "llama.cpp", **self.resolved.identity()}

    def warm_up(self) -> None:
        with LOAD_LOCK:  # two first questions at once load the model once
            if self._llm is None:
                self._load()

    def _load(self) -> None:
        llama_cpp = require("llama_cpp")
        gpu = self.n_gpu_layers if llama_cpp.llama_supports_gpu_offload() else 0
        speculative = self.prompt_lookup > 0
        try:
            self._llm = (_speculative_llama() if speculative else llama_cpp.Llama)(
                model_path=str(self.resolved.path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                n_threads_batch=self.n_threads, n_gpu_layers=gpu, n_batch=512, verbose=False, seed=0,
                flash_attn=self.flash_attn,
                draft_model=PassageLookup(tokens=self.prompt_lookup) if speculative else None,
            )
        except ValueError as exc:
            raise ModelError(f"llama.cpp could not load {self.resolved.path}: {exc}") from None

    def second_context(self) -> "LlamaCppGenerator":
        """A second context on the same (memory-mapped, shared) weights, created once."""
        if self._sibling is None:
            self._sibling = LlamaCppGenerator(self.name, self.cache_dir, self.n_threads, self.n_ctx,
                                              self.n_gpu_layers, prompt_lookup=self.prompt_lookup,
                                              flash_attn=self.flash_attn)
            self._sibling._resolved = self._resolved
            self._sibling._sibling = self._sibling
        return self._sibling

    def _reader(self, usage: Usage):
        """A logits processor that reads the model's own confidence: the probability of the refusal
        marker as the first token (and, when that is below the threshold, takes the marker off the
        table for that token), and the mean log-probability of the tokens it writes (greedy: each
        step's best token)."""
        import numpy as np
        from llama_cpp import LogitsProcessorList

        marker = self._llm.tokenize(REFUSAL_MARKER.encode(), add_bos=False, special=False)[:1]
        logprobs: list[float] = []

        def read(input_ids, scores):
            top = scores.max()
            shifted = np.exp(scores - top)
            if not logprobs and usage.refusal_prob < 0:
                usage.refusal_prob = float(shifted[marker].sum() / shifted.sum())
                if usage.refusal_prob < self.refusal_threshold:
                    scores[marker] = -np.inf
                    shifted[marker] = 0.0
            best = int(np.argmax(scores))
            logprobs.append(float(np.log(shifted[best] / shifted.sum())))
            usage.answer_logprob = float(np.mean(logprobs))
            return scores

        return LogitsProcessorList([read])

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        """Stream the answer. The context is held only while pieces are wanted: a consumer that stops
        early (closes the stream, or drops it) hands it back at once."""
        self.warm_up()
        if not self._lock.acquire(timeout=BUSY_TIMEOUT):
            raise ModelError(f"the model has been busy for {BUSY_TIMEOUT:.0f} s with another answer. "
                             f"Try again, or raise the app's concurrency only with more model contexts.")
        chunks = None
        try:
            chunks = self._llm.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=0.0, top_k=1,
                top_p=1.0, min_p=0.0, repeat_penalty=1.0, stop=STOP, stream=True, seed=0,
                logits_processor=self._reader(usage),
            )
            before = self._llm._input_ids.tolist()  # what the KV cache holds from the last call
            n = 0
            try:
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        n += 1
                        yield piece
            finally:  # also when the consumer stops early (the answer was complete)
                ids = self._llm._input_ids.tolist()
                usage.completion_tokens = n
                usage.prompt_tokens = max(0, len(ids) - n)
                reused = 0
                for a, b in zip(before, ids[:usage.prompt_tokens]):
                    if a != b:
                        break
                    reused += 1
                usage.prompt_evaluated = usage.prompt_tokens - reused
        finally:
            if chunks is not None:
                chunks.close()
            self._lock.release()

