"""The feeds subscribed to, and what each refresh learnt, in `feeds.json` inside the index folder.

    {"format": "rag-news feeds", "version": 1, "feeds": [{"url": ..., "etag": ..., "seen": {...}}, ...]}

`seen` maps each entry's GUID to the document it became ({"doc": id, "fp": the entry's fingerprint,
"url": its canonical URL}), so a refresh fetches only new and changed entries. The file is small and
is written whole, atomically (temporary file, fsync, rename, fsync the folder), under its own lock
(`feeds.lock`), so the app's background refresh and `rag feed` in another process never lose each
other's changes. It is written only after the articles it names were committed to the index: a
crash in between makes the next refresh fetch those entries again, and find them indexed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import RagError

FILE = "feeds.json"
LOCK = "feeds.lock"
FORMAT, VERSION = "rag-news feeds", 1
MAX_SEEN = 5000  # GUIDs remembered per feed (the oldest are forgotten; an entry seen again is deduplicated by URL)


@dataclass
class FeedState:
    url: str  # as subscribed
    title: str = ""  # the feed's own title
    added: str = ""  # when it was subscribed (ISO time, UTC)
    etag: str = ""  # from the last full fetch, sent back as If-None-Match
    last_modified: str = ""  # ... sent back as If-Modified-Since
    last_refresh: str = ""  # the last attempt (ISO time, UTC)
    last_success: str = ""  # the last attempt that worked
    last_error: str = ""  # what went wrong in the last attempt ("" when nothing did)
    last_counts: dict = field(default_factory=dict)  # {"added": n, "replaced": n, "unchanged": n, "skipped": n}
    seen: dict = field(default_factory=dict)  # GUID -> {"doc": id, "fp": fingerprint, "url": canonical URL}

    @property
    def articles(self) -> int:
        """Documents this feed has indexed (several GUIDs can share one)."""
        return len({s.get("doc") for s in self.seen.values() if s.get("doc")})


def path(index_dir: Path) -> Path:
    return Path(index_dir) / FILE


def load(index_dir: Path) -> list[FeedState]:
    """The subscriptions (none when the file does not exist); RagError naming the fix when it is damaged."""
    p = path(index_dir)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise RagError(f"{p} cannot be read ({exc}). Fix it or delete it (the indexed articles stay; "
                       f"subscribe again with `rag feed add URL`)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise RagError(f"{p} is not a version-{VERSION} rag-news feeds file. Delete it (the indexed articles "
                       f"stay) and subscribe again with `rag feed add URL`")
    known = {f.name for f in dataclasses.fields(FeedState)}
    try:
        return [FeedState(**{k: v for k, v in row.items() if k in known}) for row in data.get("feeds", [])]
    except TypeError as exc:
        raise RagError(f"{p} has a malformed feed entry ({exc}). Fix it or delete it") from None


def save(index_dir: Path, feeds: list[FeedState]) -> None:
    for f in feeds:
        if len(f.seen) > MAX_SEEN:
            f.seen = dict(list(f.seen.items())[-MAX_SEEN:])
    text = json.dumps({"format": FORMAT, "version": VERSION, "feeds": [dataclasses.asdict(f) for f in feeds]},
                      ensure_ascii=False, indent=1)
    _write_atomic(path(index_dir), text)


@contextlib.contextmanager
def editing(index_dir: Path) -> Iterator[list[FeedState]]:
    """Read the subscriptions under the lock, let the caller change the list, and save it."""
    with locked(index_dir):
        feeds = load(index_dir)
        yield feeds
        save(index_dir, feeds)


def find(feeds: list[FeedState], url: str) -> FeedState | None:
    from .web import canonical_url

    key = canonical_url(url)
    return next((f for f in feeds if canonical_url(f.url) == key), None)


@contextlib.contextmanager
def locked(index_dir: Path, name: str = LOCK) -> Iterator[None]:
    """An exclusive flock on `name` in the index folder (`feeds.lock`: the file's read-change-write),
    against other processes and other threads alike (each call opens the file anew)."""
    import fcntl

    Path(index_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(index_dir) / name, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomic(target: Path, text: str) -> None:
    # not named "*.tmp-*": the index's commit removes such leftovers from the folder
    tmp = target.with_name(f".{target.name}.writing-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
