"""External question sets, vendored with their licences (see each folder's ATTRIBUTION.md).

A set is a folder eval/external/<name>/ holding corpus/ (the documents the index is built from),
dev.jsonl and test.jsonl (the schema of eval/questions.jsonl) and set.json ({"scoring": "squad", ...}).
make_sets.py regenerates them from the fetched sources.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("dev", "test")


def external_sets(root: Path = HERE) -> dict[str, dict]:
    """"<name>-dev" / "<name>-test" -> {"path", "corpus_dir", "scoring"} for every folder with a set.json."""
    sets = {}
    for meta_path in sorted(root.glob("*/set.json")):
        folder = meta_path.parent
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        for part in PARTS:
            sets[f"{folder.name}-{part}"] = {"path": folder / f"{part}.jsonl", "corpus_dir": folder / "corpus",
                                             "scoring": meta.get("scoring", "alias")}
    return sets
