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
import math
import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from .coerce import coerce, default_fix, refuse
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


# the grounding rule families (rag/grounding/verify.py); the guard against instructions is always on
RULE_FAMILIES = ("numbers", "constraints")  # the families the ablation kept (eval/results/ablation-rules.md)
REMOVED_RULES = frozenset({"names", "quotes", "terms", "roles", "kind", "relevance"})  # measured, no gain


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
    vector_store: str = "faiss"  # faiss (the index folder) | milvus (a Milvus collection; docs/deploy.md)
    milvus_uri: str = ""  # vector_store = "milvus": a file path (Milvus Lite) or http://host:19530 (a server)
    milvus_token: str = ""  # ... "user:password" or an API key, when the server wants one ($MILVUS_TOKEN if empty)
    milvus_collection: str = "rag_news"  # ... name prefix of the collections (letters, digits, _)

    # --- retrieval ---
    retrieval: str = "hybrid"  # hybrid | lexical | dense
    fusion: str = "weighted"  # weighted (score fusion) | rrf (reciprocal rank fusion)
    lexical_weight: float = 0.7  # share of BM25 in weighted fusion; dense gets the rest
    top_chunks: int = 10  # chunks retrieved before sentence selection
    passages: int = 4  # numbered passages given to the generator (3: 13-15% faster, but loses evidence ranked 4th)
    passage_words: int = 70  # a passage (a sentence plus what it needs) is cut near this length

    # --- time ---
    as_of: str = ""  # the date questions are asked on (YYYY-MM-DD; "" = today): "latest", "last week" and
    #                  the articles that exist are read against it (archives, tests, the temporal eval)
    passage_dates: bool = True  # show each dated passage's date and outlet, and today's date, to the model
    recency_weight: float = 0.5  # "latest" questions: the newest relevant report gains this, the next half of it, ...

    # --- the answer gate and the decision (rag/gate, docs/grounding.md) ---
    gate: str = "gate"  # the trained answer gate: registry name, or a folder with gate.safetensors; "" = off
    gate_candidates: int = 8  # sentences the gate reads per question; the best of them become the passages
    gate_weight: float = 0.5  # share of the gate's score in ranking the passages (the rest: retrieval's own)
    max_risk: float = 0.45  # answer only when the calibrated P(right) keeps the share of wrong answers below this
    #                         (0.45: tied best overall on the dev sets, and better on our own; docs/grounding.md)
    early_decline_loss: float = 0.02  # decline before generating below the P(right) that loses at most this share
    #                                   of the right answers on the calibration split; 0 = always generate
    rules: str = "all"  # grounding rule families that may veto an answer ("all", "none", or a comma list of
    #                     numbers, constraints; the guard against instructions is always on)

    # --- grounding ---
    min_relevance: float = 0.30  # decline without generating when the best passage scores below this
    second_look: bool = True  # when the model declines or fails verification, ask again one passage at a time
    second_look_relevance: float = 0.5  # ... only when the best passage matches the question at least this well
    second_look_passages: int = 2  # ... and only for this many of the best passages
    rewrite_followups: bool = True  # rewrite follow-ups into standalone questions using history

    # --- generation ---
    max_answer_tokens: int = 80  # the answer is cut here; answers are one or two sentences
    stop_at_citation: bool = True  # stop writing once a sentence has ended with its citation ("... [2].")
    refusal_threshold: float = -1.0  # the model may decline only when P(it opens with NOT FOUND) >= this;
    #                                  -1 = the value calibrated for the generator (models.REGISTRY)
    temperature: float = 0.0  # OpenAI-compatible servers only (0 = greedy); local models always decode greedily
    prompt_lookup: int = 0  # llama.cpp: tokens guessed from the passages per step, checked in one batch (0: off; slower on CPU)
    flash_attn: bool = True  # llama.cpp: fused attention kernels (3-5% faster on 2 CPU cores)

    # --- input limits ---
    max_question_chars: int = 1000  # longer questions are refused with a clear error
    max_file_mb: float = 20.0  # larger uploads are skipped with a reason

    # --- web pages and feeds (docs/feeds.md) ---
    fetch_allow_private: bool = False  # fetch from private, loopback and link-local addresses too (local test servers)
    fetch_timeout_s: float = 20.0  # seconds to connect, and to wait for the next bytes; a whole download gets 3x this
    fetch_max_mb: float = 5.0  # a page or feed larger than this is refused (the download stops at the cap)
    feed_max_entries: int = 30  # new or updated articles fetched from one feed per refresh (the rest: next refresh)
    feed_max_mb: float = 50.0  # megabytes downloaded for one feed per refresh, its articles' pages included
    feed_refresh_minutes: int = 60  # the app refreshes subscribed feeds this often, in the background; 0 = off

    def __post_init__(self) -> None:
        """Coerce and check every field, however the Config was made: `Config(corpus_dir="x")` gets a
        Path, exactly as from a TOML file; a bad value raises ConfigError naming the field and the fix."""
        for f in fields(self):
            object.__setattr__(self, f.name, coerce(f, getattr(self, f.name)))
        self.validate()

    @property
    def rule_set(self) -> frozenset:
        """The enabled rule families."""
        names = {r.strip() for r in self.rules.split(",") if r.strip()}
        if "all" in names:
            return frozenset(RULE_FAMILIES)
        return frozenset(names - {"none"})

    def replace(self, **changes) -> "Config":
        return Config.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def public_dict(self) -> dict:
        """JSON-friendly view, for manifests and eval reports."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.to_dict().items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        if not isinstance(data, dict):
            raise ConfigError(f"a configuration is a table of key = value pairs, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(f"unknown config key {str(key)!r}{hint}")
        return cls(**data)  # __post_init__ coerces and validates

    @classmethod
    def from_toml(cls, path: str | Path, **overrides) -> "Config":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read ({exc.strerror or exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        data.update(overrides)
        return cls.from_dict(data)

    def validate(self) -> None:
        """Raise ConfigError for the first field with a bad value, naming the field and the fix."""
        for check in (_check_choices, _check_counts, _check_shares, _check_limits, _check_names):
            check(self)


def _check_choices(c: Config) -> None:
    choices = {
        "retrieval": ("hybrid", "lexical", "dense"),
        "fusion": ("weighted", "rrf"),
        "index_type": ("auto", "flat", "hnsw", "ivf"),
        "device": ("auto", "cpu", "cuda"),
        "vector_store": ("faiss", "milvus"),
    }
    for name, allowed in choices.items():
        if getattr(c, name) not in allowed:
            refuse(name, getattr(c, name), f"must be one of {', '.join(allowed)}", f"{name} = \"{allowed[0]}\"")


def _check_counts(c: Config) -> None:
    """Whole numbers: sizes of at least 1, counts of 0 or more."""
    positive = ("chunk_words", "top_chunks", "passages", "passage_words", "max_answer_tokens",
                "max_question_chars", "n_ctx", "ivf_from", "feed_max_entries")
    for name in positive:
        if getattr(c, name) < 1:
            refuse(name, getattr(c, name), "must be at least 1", _default_fix(name))
    if not 0 <= c.prompt_lookup <= 32:
        refuse("prompt_lookup", c.prompt_lookup, "must be between 0 (off) and 32 guessed tokens",
               _default_fix("prompt_lookup"))
    for name, low in (("chunk_overlap", 0), ("n_threads", 0), ("n_gpu_layers", -1)):
        if getattr(c, name) < low:
            refuse(name, getattr(c, name), f"must be {low} or more", _default_fix(name))


def _check_shares(c: Config) -> None:
    """The decision's and retrieval's settings: thresholds and shares between 0 and 1, the rules, the date."""
    if not (c.refusal_threshold == -1 or 0 <= c.refusal_threshold <= 1):
        refuse("refusal_threshold", c.refusal_threshold, "must be -1 (calibrated) or between 0 and 1",
               "refusal_threshold = -1")
    if c.as_of and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", c.as_of):
        refuse("as_of", c.as_of, "must be a date written YYYY-MM-DD, or empty for today", 'as_of = "2025-11-30"')
    for name in ("gate_weight", "max_risk", "early_decline_loss", "recency_weight"):
        if not 0 <= getattr(c, name) <= 1:
            refuse(name, getattr(c, name), "must be between 0 and 1", _default_fix(name))
    from_rules = {r.strip() for r in c.rules.split(",") if r.strip()} - {"all", "none"}
    unknown = from_rules - set(RULE_FAMILIES)
    if unknown:
        gone = sorted(unknown & REMOVED_RULES)
        why = f" ({', '.join(gone)}: removed, the ablation showed no gain; eval/results/ablation-rules.md)" if gone else ""
        refuse("rules", c.rules, f"names unknown rule families {sorted(unknown)}{why}; known: {', '.join(RULE_FAMILIES)}",
               'rules = "all"')
    if c.gate_candidates < 1:
        refuse("gate_candidates", c.gate_candidates, "must be at least 1", _default_fix("gate_candidates"))
    if not 0 <= c.lexical_weight <= 1:
        refuse("lexical_weight", c.lexical_weight, "must be between 0 and 1", _default_fix("lexical_weight"))


def _check_limits(c: Config) -> None:
    """Sizes, times and other real numbers: finite, and above 0 where 0 means nothing."""
    for name in ("fetch_timeout_s", "fetch_max_mb", "feed_max_mb"):
        if not (math.isfinite(getattr(c, name)) and getattr(c, name) > 0):
            refuse(name, getattr(c, name), "must be a number above 0", _default_fix(name))
    if c.feed_refresh_minutes < 0:
        refuse("feed_refresh_minutes", c.feed_refresh_minutes, "must be 0 (off) or more minutes",
               _default_fix("feed_refresh_minutes"))
    if not (math.isfinite(c.max_file_mb) and c.max_file_mb > 0):
        refuse("max_file_mb", c.max_file_mb, "must be a number of megabytes above 0", _default_fix("max_file_mb"))
    if not (math.isfinite(c.temperature) and c.temperature >= 0):
        refuse("temperature", c.temperature, "must be 0 or more", _default_fix("temperature"))
    if not math.isfinite(c.min_relevance):
        refuse("min_relevance", c.min_relevance, "must be a finite number", _default_fix("min_relevance"))


def _check_names(c: Config) -> None:
    """The Milvus address and collection, and the models: named, and well-formed."""
    if c.vector_store == "milvus" and not c.milvus_uri.strip():
        refuse("milvus_uri", c.milvus_uri, "must name a Milvus Lite file or a server when vector_store = \"milvus\"",
               'milvus_uri = "index/milvus.db"  (Milvus Lite) or "http://host:19530"')
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", c.milvus_collection):
        refuse("milvus_collection", c.milvus_collection, "must be letters, digits and _, not starting with a digit",
               _default_fix("milvus_collection"))
    for name in ("embedder", "generator"):
        if not getattr(c, name).strip():
            refuse(name, getattr(c, name), "must name a model", _default_fix(name))


def _default_fix(name: str) -> str:
    return default_fix(next(f for f in fields(Config) if f.name == name))
