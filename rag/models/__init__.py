"""Models: the protocols, the pinned registry, and the back-ends that run them.

    base.py           Generator and Embedder protocols, Usage
    registry.py       pinned PyPI packages -> assembled, sha256-checked files
    files.py          ... the files themselves: located in packages, assembled, hashed
    embed.py          sentence-transformers embedders
    llama.py          llama.cpp generators (CPU, or a CUDA build)
    hf.py             transformers generators (a GPU llama.cpp was not built for)
    openai_compat.py  a generator or an embedder behind an OpenAI-compatible server
    openai_client.py  ... its HTTP client: reference, timeouts, bounded retries

This module is the back-end switch: `make_generator` and `make_embedder` are the only places that
pick one. Nothing heavy is imported here: each back-end loads its runtime on first use.
"""

from __future__ import annotations

from ..config import Config
from .base import Embedder, Generator, Usage, complete, pick_device
from .embed import SentenceTransformerEmbedder
from .hf import TransformersGenerator
from .llama import LlamaCppGenerator
from .openai_compat import PREFIX as OPENAI, OpenAIEmbedder, OpenAIGenerator, parse_reference
from .registry import REGISTRY, refusal_threshold, resolve


def make_generator(config=None, name: str | None = None) -> Generator:
    """The generator a name stands for, configured from `config`.

    - "openai:http://host:port/v1#model": a model behind an OpenAI-compatible server;
    - anything else ("quality", "fast", "repo:file.gguf", a .gguf path): the GGUF in-process, through
      llama.cpp wherever it can use the hardware, or transformers on a GPU llama.cpp was not built for.

        >>> from rag.config import Config
        >>> type(make_generator(Config(), "openai:http://127.0.0.1:9/v1#m")).__name__
        'OpenAIGenerator'
        >>> type(make_generator(Config(device="cpu"), "fast")).__name__
        'LlamaCppGenerator'
    """
    c = config or Config()
    name = name or c.generator
    if name.startswith(OPENAI):
        # the refusal threshold calibrated for a registry model of the same name ("#fast"), unless configured
        threshold = refusal_threshold(parse_reference(name)[1], c.refusal_threshold)
        return OpenAIGenerator(name, temperature=c.temperature, refusal_threshold=threshold)
    threshold = refusal_threshold(name, c.refusal_threshold)
    if pick_device(c.device) == "cuda" and not _llama_has_gpu():
        return TransformersGenerator(name, c.cache_dir, device="cuda", refusal_threshold=threshold)
    return LlamaCppGenerator(name, c.cache_dir, n_threads=c.n_threads, n_ctx=c.n_ctx, n_gpu_layers=c.n_gpu_layers,
                             refusal_threshold=threshold, prompt_lookup=c.prompt_lookup, flash_attn=c.flash_attn)


def _llama_has_gpu() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


def make_embedder(config) -> Embedder:
    """The embedder `config.embedder` names: "openai:http://host:port/v1#model" for a server's
    /embeddings, else a sentence-transformers model run in-process.

        >>> from rag.config import Config
        >>> type(make_embedder(Config(embedder="openai:http://127.0.0.1:9/v1#e"))).__name__
        'OpenAIEmbedder'
    """
    if config.embedder.startswith(OPENAI):
        return OpenAIEmbedder(config.embedder)
    return SentenceTransformerEmbedder(config.embedder, config.cache_dir, config.device)


__all__ = ["Embedder", "Generator", "Usage", "complete", "make_embedder", "make_generator", "LlamaCppGenerator",
           "TransformersGenerator", "OpenAIGenerator", "OpenAIEmbedder", "SentenceTransformerEmbedder",
           "REGISTRY", "resolve"]
