"""Generators: chat messages in, streamed text pieces out.

`LlamaCppGenerator` runs GGUF models on the CPU (or a CUDA build of llama.cpp);
`TransformersGenerator` runs the same GGUF through transformers on a GPU. Both reuse the
KV cache of an unchanged prompt prefix where the runtime allows it, so fixed instructions go first.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

from .errors import ModelError, require
from .models import LazyModel


REFUSAL_MARKER = "NOT"  # first word of prompt.NOT_FOUND


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refusal_prob: float = -1.0  # probability the model gave the refusal marker as its first token (-1: unknown)
    prompt_evaluated: int = 0  # prompt tokens actually computed (the rest came from the KV cache)


@runtime_checkable
class Generator(Protocol):
    """Yields the answer's text in pieces; fills `usage` once the stream ends."""

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]: ...


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


BUSY_TIMEOUT = 300.0  # seconds a question waits for the model before it is told to try again
_LOAD_LOCK = threading.Lock()

STOP = ["<|im_end|>", "<|endoftext|>", "\n\n", "Question:", "Passages:"]


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


class LlamaCppGenerator(LazyModel):
    def __init__(self, name: str = "fast", cache_dir: Path | None = None, n_threads: int = 0,
                 n_ctx: int = 2048, n_gpu_layers: int = -1, temperature: float = 0.0,
                 refusal_threshold: float = 0.0, prompt_lookup: int = 0, flash_attn: bool = False):
        super().__init__(name, cache_dir)
        self.prompt_lookup = prompt_lookup  # draft tokens guessed from the prompt per step (0: off)
        self.flash_attn = flash_attn
        # Calibrated refusal: the model may open with the refusal marker only when it puts at least
        # this probability on it; otherwise it must answer (and verification judges the answer).
        self.refusal_threshold = refusal_threshold
        self.n_threads = n_threads or physical_cores()
        self.n_ctx = n_ctx
        self.n_gpu_layers = n_gpu_layers
        self.temperature = temperature
        self._llm = None
        self._sibling: LlamaCppGenerator | None = None
        self._lock = threading.Lock()  # one llama.cpp context: one generation at a time

    def identity(self) -> dict:
        return {"runtime": "llama.cpp", **self.resolved.identity()}

    def warm_up(self) -> None:
        with _LOAD_LOCK:  # two first questions at once load the model once
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

    def sibling(self) -> "LlamaCppGenerator":
        """A second context on the same (memory-mapped, shared) weights, created once."""
        if self._sibling is None:
            self._sibling = LlamaCppGenerator(self.name, self.cache_dir, self.n_threads, self.n_ctx,
                                              self.n_gpu_layers, self.temperature,
                                              prompt_lookup=self.prompt_lookup, flash_attn=self.flash_attn)
            self._sibling._resolved = self._resolved
            self._sibling._sibling = self._sibling
        return self._sibling

    def _refusal_gate(self, usage: Usage):
        """A logits processor that reads the first token's distribution and, when the refusal
        marker is not likely enough, takes it off the table for that token."""
        import numpy as np
        from llama_cpp import LogitsProcessorList

        marker = self._llm.tokenize(REFUSAL_MARKER.encode(), add_bos=False, special=False)[:1]
        seen = []

        def gate(input_ids, scores):
            if not seen:
                seen.append(True)
                shifted = np.exp(scores - scores.max())
                usage.refusal_prob = float(shifted[marker].sum() / shifted.sum())
                if usage.refusal_prob < self.refusal_threshold:
                    scores[marker] = -np.inf
            return scores

        return LogitsProcessorList([gate])

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
                messages=messages, max_tokens=max_tokens, temperature=self.temperature, top_k=1,
                top_p=1.0, min_p=0.0, repeat_penalty=1.0, stop=STOP, stream=True, seed=0,
                logits_processor=self._refusal_gate(usage) if self.refusal_threshold > 0 else None,
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


class TransformersGenerator(LazyModel):
    """The same GGUF weights through transformers (dequantised): the natural GPU path.

    Decoding is the llama.cpp path's: greedy, no repetition penalty, no sampling settings taken from
    the model's files, the same stop strings (generation ends when one is written or the stream is
    closed), and the same calibrated refusal gate on the first token.

    float32 by default, on the GPU too: llama.cpp computes in float32, so that is the closest match,
    and these models are small (the 1.5B takes about 7 GB). Measured against llama.cpp on the CPU
    (greedy, 15 eval questions, the 0.5B): float16 wrote the same answers as float32, bfloat16 drifted
    further (fewer shared tokens, one answer collapsed to a bare "4"). float16 halves the memory for a
    bigger GGUF, but Qwen2 models are known to overflow in it; bfloat16 cannot overflow.
    """

    def __init__(self, name: str = "fast", cache_dir: Path | None = None, device: str = "cuda",
                 temperature: float = 0.0, refusal_threshold: float = 0.0, dtype: str | None = None):
        super().__init__(name, cache_dir)
        self.device = device
        self.temperature = temperature  # kept for the interface: decoding is greedy, as llama.cpp's (top_k=1)
        self.refusal_threshold = refusal_threshold
        self.dtype = dtype  # "float32" (None) | "float16" | "bfloat16"
        self._model = None
        self._tok = None

    def identity(self) -> dict:
        return {"runtime": f"transformers ({self.device}, {self._dtype_name()})", **self.resolved.identity()}

    def _dtype_name(self) -> str:
        return self.dtype or "float32"

    def warm_up(self) -> None:
        with _LOAD_LOCK:
            if self._model is not None:
                return
            require("gguf", "gpu")
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            path = self.resolved.path
            tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=getattr(torch, self._dtype_name()),
            ).to(self.device).eval()
            self._tok, self._model = tok, model
            # generate() fills every setting a call leaves unset from the model's own generation config:
            # keep nothing there but the special tokens, so decoding is exactly what generation_config() says
            model.generation_config = self.generation_config(1)

    def generation_config(self, max_tokens: int):
        """Greedy decoding and nothing else: no defaults from the model's files (repetition penalty,
        temperature, top-k/top-p) can make it differ from the llama.cpp path."""
        from transformers import GenerationConfig

        tok = self._tok
        stop_ids = [i for i in (tok.convert_tokens_to_ids("<|im_end|>"), tok.eos_token_id)
                    if isinstance(i, int) and i >= 0 and i != tok.unk_token_id]
        pad = tok.pad_token_id if tok.pad_token_id is not None else (stop_ids or [0])[0]
        return GenerationConfig(max_new_tokens=max_tokens, do_sample=False, num_beams=1, repetition_penalty=1.0,
                                no_repeat_ngram_size=0, eos_token_id=list(dict.fromkeys(stop_ids)) or None,
                                pad_token_id=pad, bos_token_id=tok.bos_token_id)

    def _refusal_gate(self, usage: Usage):
        """LlamaCppGenerator._refusal_gate for transformers: reads the first token's distribution and,
        when the refusal marker is not likely enough, takes it off the table for that token."""
        import torch
        from transformers import LogitsProcessor

        marker = self._tok.encode(REFUSAL_MARKER, add_special_tokens=False)[:1]
        threshold = self.refusal_threshold

        class Gate(LogitsProcessor):
            seen = False

            def __call__(self, input_ids, scores):
                if not self.seen:
                    self.seen = True
                    usage.refusal_prob = float(torch.softmax(scores[0].float(), -1)[marker].sum())
                    if usage.refusal_prob < threshold:
                        scores = scores.clone()
                        scores[:, marker] = -float("inf")
                return scores

        return Gate()

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]:
        self.warm_up()
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        inputs = self._tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True).to(self.device)
        streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)
        done = threading.Event()  # set when a stop string is written or the consumer goes away

        class StopWhenDone(StoppingCriteria):  # without it, generate() ran on to max_tokens after a stop string
            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), done.is_set(), dtype=torch.bool, device=input_ids.device)

        gate = [self._refusal_gate(usage)] if self.refusal_threshold > 0 else []
        config = self.generation_config(max_tokens)
        result = {}

        def run():
            try:
                with torch.inference_mode():
                    result["out"] = self._model.generate(
                        **inputs, generation_config=config, streamer=streamer,
                        logits_processor=LogitsProcessorList(gate),
                        stopping_criteria=StoppingCriteriaList([StopWhenDone()]))
            except BaseException as exc:  # the consumer must not wait forever on a streamer nobody ends
                result["error"] = exc
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        text = ""
        try:
            for piece in streamer:
                if not piece:
                    continue
                text += piece
                cut = min((text.find(s) for s in STOP if s in text), default=-1)
                if cut >= 0:
                    yield piece[: max(0, len(piece) - (len(text) - cut))]
                    break
                yield piece
        finally:
            done.set()
            thread.join()
        if "error" in result:
            raise ModelError(f"transformers could not generate with {self.resolved.path.name}: "
                             f"{result['error']}") from result["error"]
        usage.prompt_tokens = usage.prompt_evaluated = int(inputs["input_ids"].shape[1])
        written = result["out"][0, usage.prompt_tokens:].tolist() if "out" in result else []
        if written and written[-1] in (config.eos_token_id or []):
            written.pop()  # the end-of-turn token is not part of the answer (llama.cpp does not count it)
        usage.completion_tokens = len(written)


def make_generator(config=None, name: str | None = None, *legacy, **legacy_kw) -> Generator:
    """The generator a name stands for, configured from `config` (the registry of generators).

    - "openai:http://host:port/v1#model": a model behind an OpenAI-compatible server (rag/openai_compat.py);
    - anything else ("quality", "fast", "repo:file.gguf", a .gguf path): the GGUF in-process, through
      llama.cpp wherever it can use the hardware, or transformers on a GPU llama.cpp was not built for.

        >>> from rag.config import Config
        >>> type(make_generator(Config(), "openai:http://127.0.0.1:9/v1#m")).__name__
        'OpenAIGenerator'
        >>> type(make_generator(Config(device="cpu"), "fast")).__name__
        'LlamaCppGenerator'

    The older call `make_generator(name, cache_dir, device, n_threads, ...)` still works.
    """
    from .config import Config

    if isinstance(config, str):  # the older positional form: (name, cache_dir, device, n_threads, ...)
        keys = ("cache_dir", "device", "n_threads", "n_ctx", "n_gpu_layers", "temperature", "refusal_threshold")
        fields = dict(zip(keys, (name, *legacy)), **legacy_kw)
        config, name = Config(**{k: v for k, v in fields.items() if v is not None}), config
    config = config or Config()
    name = name or config.generator
    for prefix, factory in GENERATORS.items():
        if name.startswith(prefix):
            return factory(config, name)
    return _local_generator(config, name)


def _openai_generator(config, name: str) -> Generator:
    from .models import refusal_threshold as calibrated
    from .openai_compat import OpenAIGenerator, parse_reference

    # the refusal threshold calibrated for a registry model of the same name ("#fast"), unless configured
    threshold = calibrated(parse_reference(name)[1], config.refusal_threshold)
    return OpenAIGenerator(name, temperature=config.temperature, refusal_threshold=threshold)


GENERATORS = {"openai:": _openai_generator}  # name prefix -> factory(config, name); the rest run in-process


def _local_generator(config, name: str) -> Generator:
    """llama.cpp wherever it can use the hardware; transformers on a GPU that llama.cpp was not built for."""
    from .embed import pick_device

    c = config
    if pick_device(c.device) == "cuda":
        try:
            import llama_cpp

            cuda_llama = llama_cpp.llama_supports_gpu_offload()
        except ImportError:
            cuda_llama = False
        if not cuda_llama:
            from .models import refusal_threshold as calibrated

            return TransformersGenerator(name, c.cache_dir, device="cuda", temperature=c.temperature,
                                         refusal_threshold=calibrated(name, c.refusal_threshold))
    from .models import refusal_threshold as calibrated

    return LlamaCppGenerator(name, c.cache_dir, n_threads=c.n_threads, n_ctx=c.n_ctx, n_gpu_layers=c.n_gpu_layers,
                             temperature=c.temperature, refusal_threshold=calibrated(name, c.refusal_threshold),
                             prompt_lookup=c.prompt_lookup, flash_attn=c.flash_attn)


__all__ = ["Generator", "LlamaCppGenerator", "TransformersGenerator", "Usage", "make_generator"]
