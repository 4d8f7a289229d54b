"""External question sets, built from SQuAD 2.0's JSON where it lives: nothing of it is kept in the repo.

    squad-dev, squad-test   the article "Normans": 39 paragraphs, 208 questions (112 unanswerable)
    rhine-dev, rhine-test   the article "Rhine": 44 paragraphs, a seeded sample of 120 questions

The JSON is read from ../shared/datasets/squad2-dev.json beside the project, or from the file given with
`python -m eval --squad-file PATH` (the official dev-v2.0.json has the same layout and gives the same
sets). A set is built once per file content into a cache folder: corpus/*.md (one document per
paragraph), dev.jsonl and test.jsonl (the schema of eval/questions.jsonl). SQuAD 2.0 is CC BY-SA 4.0.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from . import squad

ROOT = Path(__file__).resolve().parents[2]  # the project
SQUAD_FILE = ROOT.parent / "shared" / "datasets" / "squad2-dev.json"
PARTS = ("dev", "test")
FORMAT = 1  # of the cached folders: bump when build() changes what it writes
SOURCES = {  # set -> (article of SQuAD 2.0's development set, questions to keep: 0 = all)
    "squad": ("Normans", 0),
    "rhine": ("Rhine", 120),
}
GET_IT = ("Get SQuAD 2.0's development set (CC BY-SA 4.0): the file dev-v2.0.json from "
          "https://rajpurkar.github.io/SQuAD-explorer/ , then run with --squad-file PATH/dev-v2.0.json "
          f"(or put it at {SQUAD_FILE})")


class DataMissing(FileNotFoundError):
    """The SQuAD JSON a set is built from is not there; the message says where to get it."""


def external_sets() -> dict[str, dict]:
    """"<name>-dev" / "<name>-test" -> {"source", "part", "article", "scoring"}; reads no file."""
    return {f"{name}-{part}": {"source": name, "part": part, "article": article, "scoring": "squad"}
            for name, (article, _) in SOURCES.items() for part in PARTS}


def squad_path(path: str | Path | None = None) -> Path:
    """The SQuAD 2.0 JSON to read: `path`, else ../shared/datasets/squad2-dev.json; DataMissing if absent."""
    chosen = Path(path).expanduser() if path else SQUAD_FILE
    if not chosen.is_file():
        raise DataMissing(f"SQuAD 2.0 JSON not found at {chosen}. {GET_IT}.")
    return chosen


def default_root() -> Path:
    from rag.config import default_cache_dir

    return default_cache_dir() / "eval-sets"


def materialize(name: str, squad_file: str | Path | None = None, root: Path | None = None) -> Path:
    """The folder of set `name` ("squad" or "rhine"), built from the JSON if this content was not built yet."""
    if name not in SOURCES:
        raise KeyError(f"unknown external set {name!r}: use one of {', '.join(SOURCES)}")
    path = squad_path(squad_file)
    raw = path.read_bytes()
    article, sample = SOURCES[name]
    folder = (root or default_root()) / f"{name}-{hashlib.sha256(raw).hexdigest()[:16]}-v{FORMAT}"
    if (folder / "set.json").is_file():
        return folder
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise squad.LayoutError(f"{path} is not JSON ({exc}). {GET_IT}.") from None
    docs, items = squad.build(name, article, sample, data, where=str(path))
    dev, test = squad.split(items, squad.SEED)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))  # then renamed: never half-written
    (work / "corpus").mkdir()
    for file_name, text in docs.items():
        (work / "corpus" / file_name).write_text(text, encoding="utf-8")
    for part, rows in (("dev", dev), ("test", test)):
        (work / f"{part}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
    meta = {"scoring": "squad", "source": str(path), "article": article, "sample": sample, "seed": squad.SEED,
            "licence": "CC BY-SA 4.0 (SQuAD 2.0; paragraphs from Wikipedia)", "documents": len(docs),
            "questions": len(items), "dev": len(dev), "test": len(test)}
    (work / "set.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    try:
        os.rename(work, folder)
    except OSError:  # another process built it first: theirs is the same
        if not (folder / "set.json").is_file():
            raise
        _remove(work)
    return folder


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
