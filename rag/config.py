"""One frozen configuration, loadable from TOML and overridable field by field.

    >>> Config().replace(passages=3).passages
    3
    >>> Config.from_dict({"passage": 3})
    Traceback (most recent call last):
    ...
    rag.errors.ConfigError: unknown config key 'passage' (did you mean 'passages'?)
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_CORPUS = PACKAGE_DIR / "corpus"
REPO_DIR = PACKAGE_DIR.parent


def default_index_dir() -> Path:
    """`index/` beside the package in a checkout, else a per-user folder."""
    env = os.environ.get("RAG_INDEX_DIR")
    if env:
        return Path(env)
    if (REPO_DIR / "pyproject.toml").exists():
        return REPO_DIR / "index"
    return Path.home() / ".local" / "share" / "rag-news" / "index"


def default_cache_dir() -> Path:
    env = os.environ.get("RAG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag-news"


@dataclass(frozen=True)
class Config:
    # --- where things live ---
    corpus_dir: Path = BUNDLED_CORPUS  # articles indexed by `rag index build`
    index_dir: Path = dataclasses.field(default_factory=default_index_dir)  # the built index folder
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)  # assembled model files

    # --- models ---
    embedder: str = "minilm"  # registry name (minilm, mpnet), Hugging Face id, or local folder
    generator: str = "quality"  # registry name (quality, fast, tiny), "repo_id:file.gguf", or a .gguf path
    device: str = "auto"  # auto | cpu | cuda: where the embedder (and a transformers generator) run
    n_threads: int = 0  # llama.cpp threads; 0 = number of physical cores
    n_ctx: int = 2048  # llama.cpp context window in tokens
    n_gpu_layers: int = -1  # layers offloaded when llama.cpp was built with CUDA (ignored on CPU builds)

    # --- chunking ---
    chunk_words: int = 90  # a chunk holds whole sentences, at most about this many words
    chunk_overlap: int = 1  # sentences shared by neighbouring chunks

    # --- index ---
    index_type: str = "auto"  # flat | hnsw | ivf | auto (exact below ivf_from chunks, else IVF)
    ivf_from: int = 250_000  # where exact search passes 20 ms p95 on 2 cores (eval/results/bench.md)

    # --- retrieval ---
    retrieval: str = "hybrid"  # hybrid | lexical | dense
    fusion: str = "weighted"  # weighted (score fusion) | rrf (reciprocal rank fusion)
    lexical_weight: float = 0.7  # share of BM25 in weighted fusion; dense gets the rest
    top_chunks: int = 10  # chunks retrieved before sentence selection
    passages: int = 4  # numbered passages given to the generator
    passage_words: int = 70  # a passage (a sentence plus what it needs) is cut near this length

    # --- grounding ---
    min_relevance: float = 0.30  # decline without generating when the best passage scores below this
    quote_fallback: bool = False  # quote the passage a failed answer reached for; off: +1 point answerable but 23 fewer declines (eval)
    rewrite_followups: bool = True  # rewrite follow-ups into standalone questions using history

    # --- generation ---
    max_answer_tokens: int = 80  # the answer is cut here; answers are one or two sentences
    refusal_threshold: float = -1.0  # the model may decline only when P(it opens with NOT FOUND) >= this;
    #                                  -1 = the value calibrated for the generator (models.REGISTRY)
    temperature: float = 0.0  # 0 = greedy, reproducible answers

    # --- input limits ---
    max_question_chars: int = 1000  # longer questions are refused with a clear error
    max_file_mb: float = 20.0  # larger uploads are skipped with a reason

    def replace(self, **changes) -> "Config":
        return Config.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def public_dict(self) -> dict:
        """JSON-friendly view, for manifests and eval reports."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.to_dict().items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        known = {f.name: f for f in fields(cls)}
        values = {}
        for key, value in data.items():
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"unknown config key '{key}'{hint}")
            values[key] = _coerce(known[key], value)
        config = cls(**values)
        config.validate()
        return config

    @classmethod
    def from_toml(cls, path: str | Path, **overrides) -> "Config":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        data.update(overrides)
        return cls.from_dict(data)

    def validate(self) -> None:
        choices = {
            "retrieval": ("hybrid", "lexical", "dense"),
            "fusion": ("weighted", "rrf"),
            "index_type": ("auto", "flat", "hnsw", "ivf"),
            "device": ("auto", "cpu", "cuda"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        positive = ("chunk_words", "top_chunks", "passages", "passage_words", "max_answer_tokens",
                    "max_question_chars", "n_ctx", "ivf_from")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not (self.refusal_threshold == -1 or 0 <= self.refusal_threshold <= 1):
            raise ConfigError(f"refusal_threshold must be -1 (calibrated) or between 0 and 1, not {self.refusal_threshold}")
        if not 0 <= self.lexical_weight <= 1:
            raise ConfigError(f"lexical_weight must be between 0 and 1, not {self.lexical_weight}")
        if self.chunk_overlap < 0:
            raise ConfigError("chunk_overlap must be 0 or more")


def _coerce(field: dataclasses.Field, value):
    """Turn TOML/CLI values into the field's type: paths from strings, numbers from strings."""
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    try:
        if isinstance(default, Path):
            return Path(value).expanduser()
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field.name} expects {type(default).__name__}, got {value!r}") from None
