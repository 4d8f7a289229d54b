"""sentence-transformers embedders (all-MiniLM-L6-v2 by default): text -> unit-length vectors, loaded lazily.

Queries and documents go through separate entry points, so a model that wants prompt
prefixes ("query: ...") can add them without callers knowing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .base import Embedder, pick_device
from .registry import LazyModel


class SentenceTransformerEmbedder(LazyModel, Embedder):
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
    def model(self):
        """The sentence-transformers model (loaded on first use), e.g. to see which device it sits on."""
        self.warm_up()
        return self._model

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
