"""Local, cited question answering over news articles.

    >>> from rag import RAG
    >>> bot = RAG.load()                      # doctest: +SKIP
    >>> bot.ask("What cap did the first draft propose?").text   # doctest: +SKIP
    'The initial US draft would cap it at 600,000 personnel [1].'

Importing this package loads no model: models load on first use and are reused.
"""

from .version import __version__

__all__ = ["RAG", "Answer", "Citation", "Config", "RagError"]


def __getattr__(name):  # lazy, so `import rag` stays instant
    if name == "RAG":
        from .pipeline import RAG

        return RAG
    if name in ("Answer", "Citation", "Timings", "Passage", "Document"):
        from . import types

        return getattr(types, name)
    if name == "Config":
        from .config import Config

        return Config
    if name in ("RagError", "InputError", "ModelError", "DocumentError", "IndexUnusable", "ConfigError"):
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
