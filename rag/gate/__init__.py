"""The answer gate: a small cross-encoder, trained here, that tells whether a passage answers a question.

    gate = AnswerGate()                                   # the committed weights (registry name "gate")
    [s.prob for s in gate.score("When did the crisis begin?", [("1973 oil crisis", "It began in October 1973.")])]

    model.py   the network (MiniLM encoder + answer and span heads), save/load
    data.py    training pairs from SQuAD-layout files (split by article, made-up hard negatives)
    train.py   the training script (fixed seed, checkpoints, resume)
    score.py   batched scoring with a loaded network
    weights/   the committed gate (float16) and its card

`prob` is the network's own belief (trained on balanced-ish pairs, not calibrated); the pipeline turns
it, with the generator's signals, into one calibrated probability (rag/gate/calibrate.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass(frozen=True)
class GateScore:
    prob: float  # the gate's belief that the passage answers the question, 0..1
    span: str = ""  # the passage's words its span head picks as the answer ("" when it picks none)


class AnswerGate:
    """The trained gate, loaded on first use: a registry name ("gate") or a folder holding
    gate.safetensors and gate.json (a training run's export)."""

    role = "gate"

    def __init__(self, name: str = "gate", cache_dir: Path | None = None, base: str = "minilm",
                 batch: int = 16, max_span_tokens: int = 30):
        self.name, self.base, self.batch, self.max_span_tokens = name, base, batch, max_span_tokens
        self.cache_dir = cache_dir
        self._net = self._tok = self._meta = None
        self._lock = threading.Lock()

    def identity(self) -> dict:
        r = self._resolve()
        return {"name": self.name, "model_id": r.model_id, "sha256": r.sha256}

    def _resolve(self):
        from ..config import default_cache_dir
        from ..models.registry import resolve

        return resolve(self.name, self.cache_dir or default_cache_dir(), "gate")

    def warm_up(self) -> None:
        with self._lock:
            if self._net is not None:
                return
            from transformers import AutoTokenizer

            from ..config import default_cache_dir
            from ..models.registry import resolve
            from .model import load

            base = resolve(self.base, self.cache_dir or default_cache_dir(), "embedder").path
            self._tok = AutoTokenizer.from_pretrained(str(base))
            self._net, self._meta = load(self._resolve().path, base)

    def decision(self, generator: str):
        """The calibrated decision fitted for this gate and a generator (calibration.json beside the
        weights: by generator name, "*" for any other); None when the gate has no calibration."""
        from .calibrate import Decision

        path = self._resolve().path / "calibration.json"
        if not path.exists():
            return None
        import json

        fitted = json.loads(path.read_text())["generators"]
        key = generator if generator in fitted else "*"
        return Decision.from_dict(fitted[key]) if key in fitted else None

    def score(self, question: str, passages: Sequence[tuple[str, str]]) -> list[GateScore]:
        """One score per (title, passage text), in order."""
        if not passages:
            return []
        self.warm_up()
        import torch

        from .model import MAX_TOKENS, passage_text

        seconds = [passage_text(t, p) for t, p in passages]
        out: list[GateScore] = []
        with torch.inference_mode():
            for k in range(0, len(seconds), self.batch):
                part = seconds[k:k + self.batch]
                enc = self._tok([question] * len(part), [s for s, _ in part], truncation="only_second",
                                max_length=MAX_TOKENS, padding=True, return_offsets_mapping=True,
                                return_tensors="pt")
                logit, start, end = self._net(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
                probs = torch.sigmoid(logit).tolist()
                for i, prob in enumerate(probs):
                    out.append(GateScore(prob, self._span(enc, i, start[i], end[i], part[i])))
        return out

    def _span(self, enc, i: int, start, end, second: tuple[str, int]) -> str:
        """The best span (start <= end, at most max_span_tokens) if it beats "no answer" ([CLS])."""
        import torch

        n = start.shape[0]
        scores = start.unsqueeze(1) + end.unsqueeze(0)
        allowed = torch.ones(n, n, dtype=torch.bool).triu().tril(self.max_span_tokens - 1)
        allowed[0, :] = allowed[:, 0] = False
        scores = scores.masked_fill(~allowed, -1e9)
        best = int(scores.argmax())
        s, e = divmod(best, n)
        if scores[s, e] <= start[0] + end[0]:
            return ""
        offsets = enc["offset_mapping"][i]
        text, head = second
        a, b = int(offsets[s][0]), int(offsets[e][1])
        return text[max(a, head):b].strip()
