"""transformers: the same GGUF weights, dequantised, on a GPU that llama.cpp was not built for."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from ..errors import ModelError, require
from ..prompt import REFUSAL_MARKER, STOP
from .base import LOAD_LOCK, Generator, Usage
from .registry import LazyModel


class TransformersGenerator(LazyModel, Generator):
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
                 refusal_threshold: float = 0.0, dtype: str | None = None):
        super().__init__(name, cache_dir)
        self.device = device
        self.refusal_threshold = refusal_threshold
        self.dtype = dtype  # "float32" (None) | "float16" | "bfloat16"
        self._model = None
        self._tok = None

    def identity(self) -> dict:
        return {"runtime": f"transformers ({self.device}, {self._dtype_name()})", **self.resolved.identity()}

    def _dtype_name(self) -> str:
        return self.dtype or "float32"

    def warm_up(self) -> None:
        with LOAD_LOCK:
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

    @property
    def model(self):
        """The transformers model (loaded on first use), e.g. to see which device it sits on."""
        self.warm_up()
        return self._model

    @property
    def tokenizer(self):
        """The model's tokenizer (loaded on first use)."""
        self.warm_up()
        return self._tok

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

