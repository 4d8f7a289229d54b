"""The gate's training script on a tiny invented sample: a few steps, a checkpoint, a resume that goes
on from it, an export that loads and scores. Uses the bundled embedder's weights (the base model)."""

from __future__ import annotations

import json

import pytest

from .conftest import SHARED_CACHE


def article(title: str, i: int) -> dict:
    context = (f"The town of {title} built {100 + i} new homes in {1990 + i}. "
               f"Its mayor, Ada {title}son, opened the library on a Monday. The river floods every spring.")
    start = context.index(str(100 + i))
    return {"title": title, "paragraphs": [{"context": context, "qas": [
        {"id": f"{title}-1", "question": f"How many homes did {title} build?", "is_impossible": False,
         "answers": [{"text": str(100 + i), "answer_start": start}]},
        {"id": f"{title}-2", "question": f"How many bridges did {title} build?", "is_impossible": True, "answers": []},
        {"id": f"{title}-3", "question": f"When did {title} build the new homes?", "is_impossible": False,
         "answers": [{"text": str(1990 + i), "answer_start": context.index(str(1990 + i))}]},
    ]}]}


@pytest.fixture
def datasets(tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    towns = ["Arlo", "Brisk", "Calder", "Dunmore", "Elwick", "Farrow", "Glenby", "Hartle", "Ivel", "Jessop",
             "Kelby", "Lorne", "Marsh", "Norby"]
    (folder / "squad2-dev.json").write_text(json.dumps({"data": [article(t, i) for i, t in enumerate(towns)]}))
    (folder / "squad11-train.json").write_text(json.dumps(
        {"data": [article(t + "ton", i) for i, t in enumerate(towns)]}))
    return folder


def test_a_few_steps_checkpoint_resume_and_export(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(SHARED_CACHE))
    from rag.gate import AnswerGate
    from rag.gate.train import main

    out, export = tmp_path / "out", tmp_path / "export"
    args = [f"--datasets={datasets}", f"--out={out}", f"--export={export}", "--pairs=48", "--batch=8",
            "--eval_every=3", "--ckpt_every=100", "--val_pairs=12", "--val_questions=4", "--log_every=1"]
    main(args + ["--max_steps=3"])  # stops after 3 of 6 steps, with a checkpoint and a validation row
    assert (out / "ckpt.pt").exists() and not (export / "gate.safetensors").exists()
    curve = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [c["step"] for c in curve] == [3] and 0.0 <= curve[0]["auroc"] <= 1.0
    main(args + ["--resume"])  # goes on from step 3 to the end, then exports
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [3, 6]
    meta = json.loads((export / "gate.json").read_text())
    assert meta["settings"]["pairs"] == 48 and meta["base"]["name"] == "minilm" and len(meta["curve"]) == 2
    gate = AnswerGate(str(export))
    scores = gate.score("How many homes did Arlo build?", [("Arlo", "The town of Arlo built 100 new homes.")] * 2)
    assert len(scores) == 2 and all(0.0 < s.prob < 1.0 for s in scores)
    assert scores[0].prob == pytest.approx(scores[1].prob, abs=1e-5)  # the same pair, the same score (to rounding)


def test_resume_refuses_a_checkpoint_of_another_run(datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_CACHE_DIR", str(SHARED_CACHE))
    from rag.gate.train import main

    out = tmp_path / "out"
    base = [f"--datasets={datasets}", f"--out={out}", f"--export={tmp_path / 'e'}", "--batch=8", "--val_pairs=8",
            "--val_questions=2", "--eval_every=100"]
    main(base + ["--pairs=16", "--max_steps=1"])
    with pytest.raises(SystemExit, match="another run"):
        main(base + ["--pairs=32", "--resume"])
