"""Text -> unit-length vectors. One protocol method; the real embedder loads lazily.

Queries and documents go through separate entry points, so a model that wants prompt
prefixes ("query: ...") can add them without callers knowing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .models import LazyModel


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


class SentenceTransformerEmbedder(LazyModel):
    """sentence-transformers model from the registry ("minilm"), a local folder or a hub id."""

    role = "embedder"

    def __init__(self, name: str = "minilm", cache_dir: Path | None = None, device: str = "auto",
                 batch_size: int = 32):
        super().__init__(name, cache_dir)
        self.device = device
        self.batch_size = batch_size
        self._model = None

    def identity(self) -> dict:
        """Name, model id and weights hash: checked without loading the model."""
        r = self.resolved
        return {"name": self.name, "model_id": r.model_id, "sha256": r.sha256}

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(self.resolved.path), device=pick_device(self.device))

    @property
    def dim(self) -> int:
        self.warm_up()
        get = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(get())

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encode = self._model.encode_query if query else self._model.encode_document
        vectors = encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def make_embedder(config) -> Embedder:
    """The embedder `config.embedder` names: "openai:http://host:port/v1#model" for a server's
    /embeddings (rag/openai_compat.py), else a sentence-transformers model run in-process.

        >>> from rag.config import Config
        >>> type(make_embedder(Config(embedder="openai:http://127.0.0.1:9/v1#e"))).__name__
        'OpenAIEmbedder'
    """
    if config.embedder.startswith("openai:"):
        from .openai_compat import OpenAIEmbedder

        return OpenAIEmbedder(config.embedder)
    return SentenceTransformerEmbedder(config.embedder, config.cache_dir, config.device)
