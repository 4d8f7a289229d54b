"""The index folder on disk: versioned data folders, one atomic commit point, one writer at a time.

    index/
      manifest.json    the commit point: the manifest of the committed version, whose `data` names
                       the folder holding its files (and `previous` the one before)
      v-000042/        that version's files, never changed once committed
      v-000041/        the previous version, kept until the next commit
      LOCK             writers hold an exclusive flock on it (the holder's pid is written inside)

A commit writes a new `v-N/` folder, fsyncs every file and folder in it and the index folder, then
writes the new manifest to a temporary file, fsyncs it, renames it over `manifest.json` (atomic) and
fsyncs the index folder again. A reader therefore always finds a whole version, old or new, and a
crash at any point leaves one. Leftovers (uncommitted `v-N/` folders, temporary files) are removed
by the next commit or by the next load that finds no writer at work.

An index folder written by rag-news before versioned folders (files beside `manifest.json`) still
loads; the first commit moves it to this layout.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from ..errors import RagError

POINTER = "manifest.json"
LOCK = "LOCK"
VERSION = re.compile(r"^v-(\d{6,})$")
LEGACY_FILES = ("documents.jsonl", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy",
                "dense.faiss", "lexical")
LOCK_TIMEOUT = 300.0  # seconds a writer waits for another writer before giving up

# The steps of a commit, in order. `on_step` (None in normal use) is called with each, so a test can
# stop a saving process at any of them and kill it there.
STEPS = ("begin", "writing", "written", "synced", "pointer-written", "switched", "committed",
         "collecting", "done")
on_step: Callable[[str], None] | None = None


def step(name: str) -> None:
    if on_step is not None:
        on_step(name)


# --- reading the commit point -----------------------------------------------------------------
def stamp(folder: Path) -> tuple | None:
    """A cheap identity of the committed version (one stat call): it changes with every commit."""
    try:
        st = os.stat(Path(folder) / POINTER)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def version_number(name: str | None) -> int:
    """'v-000042' -> 42; an index in the old layout (no version folder) is version 0."""
    m = VERSION.match(name or "")
    return int(m.group(1)) if m else 0


def read_pointer(folder: Path) -> dict | None:
    """The committed manifest, or None when there is none or it cannot be read."""
    try:
        return json.loads((Path(folder) / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --- writing ----------------------------------------------------------------------------------
def commit(folder: Path, manifest: dict, write: Callable[[Path], None]) -> tuple[str, tuple | None]:
    """Write a new version with `write(data_folder)` and make it the committed one.

    The caller holds `writing(folder)`. Returns the new version's name and its stamp.
    """
    folder = Path(folder)
    step("begin")
    current = read_pointer(folder)
    previous = current.get("data") if current else None
    taken = [version_number(p.name) for p in folder.iterdir() if VERSION.match(p.name)]
    name = f"v-{max(taken + [version_number(previous)]) + 1:06d}"
    data = folder / name
    pointer = {"data": name, "previous": previous, **manifest}
    tmp = folder / f".{POINTER}.tmp-{os.getpid()}"
    data.mkdir()
    try:
        write(data)
        step("written")
        fsync_tree(data)
        fsync_dir(folder)
        step("synced")
        write_synced(tmp, json.dumps(pointer, indent=2, ensure_ascii=False))
        step("pointer-written")
    except BaseException:  # an error (not a crash): the committed version stays, and nothing is left over
        shutil.rmtree(data, ignore_errors=True)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.replace(tmp, folder / POINTER)
    step("switched")
    fsync_dir(folder)
    new_stamp = stamp(folder)
    step("committed")
    collect(folder, pointer)
    step("done")
    return name, new_stamp


def leftovers(folder: Path, pointer: dict) -> list[Path]:
    """What the committed version (`pointer`) does not need: other version folders than it and the
    previous one, temporary files, and the old layout's files once a versioned commit replaced them."""
    keep = {pointer.get("data"), pointer.get("previous")}
    return [p for p in sorted(Path(folder).iterdir())
            if (VERSION.match(p.name) and p.name not in keep) or ".tmp-" in p.name
            or (pointer.get("data") and p.name in LEGACY_FILES)]


def collect(folder: Path, pointer: dict) -> None:
    for p in leftovers(folder, pointer):
        step("collecting")
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                p.unlink()


def recover(folder: Path) -> None:
    """Tidy up after an interrupted write, when no writer is at work (never waits for one).

    - the old layout's crash window (`index/` renamed away, the new folder not yet in place):
      the renamed-away index is put back;
    - version folders and temporary files no committed version needs are removed.
    """
    folder = Path(folder)
    if not folder.exists():
        for old in sorted(folder.parent.glob(f".{folder.name}.old-*"), reverse=True):
            if (old / POINTER).is_file():
                with contextlib.suppress(OSError):
                    os.rename(old, folder)
                break
    if not (folder / POINTER).is_file():
        return  # without a commit point, every version folder may still hold documents to keep
    pointer = read_pointer(folder)
    if pointer is None or not leftovers(folder, pointer):
        return
    try:
        with writing(folder, timeout=0) as got:
            pointer = read_pointer(folder) if got else None
            if pointer is not None:
                collect(folder, pointer)
    except OSError:  # a read-only folder: reading it is still fine
        pass


def version_folders(folder: Path) -> list[Path]:
    """Complete version folders (their own manifest written), newest first."""
    found = [p for p in Path(folder).iterdir() if VERSION.match(p.name) and (p / POINTER).is_file()] \
        if Path(folder).is_dir() else []
    return sorted(found, key=lambda p: version_number(p.name), reverse=True)


def write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(path: Path, text: str) -> None:
    """Replace a small file whole (temporary file, fsync, rename, fsync the folder)."""
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write_synced(tmp, text)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under root, folders after their contents."""
    for dirpath, _, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


# --- one writer at a time -------------------------------------------------------------------------
class _Lock:
    def __init__(self):
        self.thread_lock = threading.RLock()  # threads of this process
        self.depth = 0
        self.fd: int | None = None  # the flock on LOCK (other processes)


_locks: dict[str, _Lock] = {}
_locks_guard = threading.Lock()


@contextlib.contextmanager
def writing(folder: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[bool]:
    """Hold the index folder's writer lock: an flock on `LOCK` for other processes, and a re-entrant
    lock for other threads. With timeout=0, yields False at once when another writer holds it;
    otherwise waits up to `timeout` seconds, then raises a RagError that says who holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _locks_guard:
        lock = _locks.setdefault(str(folder.resolve()), _Lock())
    deadline = time.monotonic() + timeout
    got = lock.thread_lock.acquire(timeout=timeout) if timeout > 0 else lock.thread_lock.acquire(blocking=False)
    if not got:
        if timeout <= 0:
            yield False
            return
        raise _busy(folder, timeout)
    try:
        if lock.depth == 0:
            lock.fd = _flock(folder / LOCK, deadline, timeout)
            if lock.fd is None:
                yield False
                return
        lock.depth += 1
        try:
            yield True
        finally:
            lock.depth -= 1
            if lock.depth == 0:
                os.close(lock.fd)  # releases the flock
                lock.fd = None
    finally:
        lock.thread_lock.release()


def _flock(path: Path, deadline: float, timeout: float) -> int | None:
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if timeout <= 0:
                os.close(fd)
                return None
            if time.monotonic() >= deadline:
                os.close(fd)
                raise _busy(path.parent, timeout) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _busy(folder: Path, timeout: float) -> RagError:
    try:
        holder = f"process {int((folder / LOCK).read_text().split()[0])}"
    except (OSError, ValueError, IndexError):
        holder = "another process or thread"
    return RagError(f"the index at {folder} is being changed by {holder}, and it did not finish within "
                    f"{timeout:.0f}s. Wait for it (or stop it), then try again.")
