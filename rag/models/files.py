"""Model files on disk: parts located inside installed packages, assembled, and sha256-checked.

Packages are never imported (their code never runs): a part is found through `find_spec` or the
distribution's file list. A checked file is remembered in `verified.json` in the cache folder (by
path, size and mtime), so an unchanged file is not hashed again on every start.

    >>> import hashlib, tempfile; from pathlib import Path
    >>> f = Path(tempfile.mkdtemp()) / "m.bin"; _ = f.write_bytes(b"abc")
    >>> file_sha256(f) == hashlib.sha256(b"abc").hexdigest()
    True
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import zipfile
from pathlib import Path

from ..errors import ModelError, ModelHashMismatch
from .spec import ModelSpec


# --- locating package files without importing (running) the packages ------------------

def _package_root(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def part_path(spec: ModelSpec, part: str) -> Path:
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
            part_path(spec, part)
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

def assemble(spec: ModelSpec, target: Path, progress: bool) -> None:
    """Concatenate the parts into target (through a temp file) and check the hash on the way."""
    parts = [part_path(spec, p) for p in spec.parts]
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


def unzip(spec: ModelSpec, folder: Path, progress: bool) -> None:
    archive = folder.with_suffix(".zip")
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as out:
        for part in spec.parts:
            with open(part_path(spec, part), "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    archive.unlink()
