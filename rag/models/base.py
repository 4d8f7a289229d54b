"""What every model back-end promises: the protocols, the usage record, and small helpers.

A generator streams text pieces for chat messages; an embedder turns texts into unit vectors. Each
protocol has one required method; a back-end subclasses it to inherit the optional ones.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence, runtime_checkable

import numpy as np

LOAD_LOCK = threading.Lock()  # one model load at a time in a process: two first questions load once


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refusal_prob: float = -1.0  # probability the model gave the refusal marker as its first token (-1: unknown)
    prompt_evaluated: int = 0  # prompt tokens actually computed (the rest came from the KV cache)
    answer_logprob: float = 0.0  # mean log-probability of the written tokens (0: unknown)


@runtime_checkable
class Generator(Protocol):
    """Yields the answer's text in pieces; fills `usage` once the stream ends.

    `second_context()` is optional: a generator whose runtime keeps a prompt cache returns a second
    context on the same weights, so that a side question (rewriting a follow-up, a second look) never
    evicts the answer prompt's cached prefix. The default is the generator itself."""

    def stream(self, messages: list[dict], max_tokens: int, usage: Usage) -> Iterator[str]: ...

    def second_context(self) -> "Generator":
        return self


def complete(generator: Generator, max_tokens: int = 48):
    """`complete(messages) -> str` on a generator's second context: what rewriting and the second look use."""
    side = generator.second_context()
    return lambda messages: "".join(side.stream(messages, max_tokens, Usage()))


@runtime_checkable
class Embedder(Protocol):
    """Returns a float32 array of shape (len(texts), dim) whose rows have unit L2 norm."""

    dim: int

    def identity(self) -> dict: ...

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1

