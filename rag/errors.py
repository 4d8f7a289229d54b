"""The errors a user can meet. Each message says what to do next.

    RagError
    ├── InputError        a question or argument the pipeline cannot take
    ├── DocumentError     a file that cannot be read or indexed
    ├── IndexUnusable     the index folder is missing, stale or corrupt
    ├── ModelError        a model package is missing or a file fails its hash
    ├── ConfigError       an unknown or invalid configuration key
    ├── FetchError        a web page or feed that cannot be fetched or read
    │   └── FetchRefused  ... refused on purpose: not http(s), or a private address
    └── Busy              every answer slot is taken and the waiting line is full: try again
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: catch this to handle every error the package raises on purpose."""


class InputError(RagError, ValueError):
    """The question (or another argument) is empty, too long or malformed."""


class DocumentError(RagError):
    """A document could not be read: unsupported type, unreadable, empty or binary."""


class IndexUnusable(RagError):
    """The index is missing, stale (built from other articles or settings) or corrupt."""


class IndexMissing(IndexUnusable):
    pass


class IndexStale(IndexUnusable):
    pass


class IndexCorrupt(IndexUnusable):
    pass


class ModelError(RagError):
    """A model file is missing, its package is not installed, or it fails its sha256 check."""


class ModelHashMismatch(ModelError):
    pass


class ConfigError(RagError, ValueError):
    """A configuration file or override has an unknown key or a bad value."""


class FetchError(RagError):
    """A web page or feed could not be fetched or read: no answer in time, too large, an error
    status, a type that is not a page or feed, a redirect loop, or a feed that is not well-formed."""


class FetchRefused(FetchError):
    """Fetching was refused on purpose: not http(s), or an address that is not public (private,
    loopback, link-local) while `fetch_allow_private` is off."""


class Busy(RagError):
    """Too many questions at once: all answer slots are taken and the waiting line is full (rag/slots.py)."""


class MissingExtra(RagError, ImportError):
    """An optional dependency is not installed; the message names the pip command."""


def require(module: str, extra: str = ""):
    """Import an optional or heavy dependency, or fail with the exact install command.

    >>> require("json").__name__
    'json'
    """
    import importlib

    fix = f"pip install -e '.[{extra}]'" if extra else "pip install -e .  (or `make setup`)"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtra(f"{module} is not installed ({exc}). Run: {fix}") from exc
    except ImportError as exc:  # installed, but one of its own dependencies is missing or broken
        raise MissingExtra(f"{module} is installed but cannot be imported: {exc}. Run: {fix}") from exc
