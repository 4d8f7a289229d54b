"""The vendored external sets are well-formed, split as promised, and run through the eval per set."""

import json
from collections import Counter
from pathlib import Path

import pytest

from eval import metrics
from eval.external import external_sets
from eval.external.make_sets import evidence_sentence, split, stratified_sample
from rag.ingest import read_document, scan

EXTERNAL = Path(__file__).resolve().parent.parent / "eval" / "external"
SETS = external_sets()
FOLDERS = sorted({info["path"].parent for info in SETS.values()})


def items(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_there_are_two_external_sets_each_with_dev_and_test():
    assert {f.name for f in FOLDERS} >= {"squad", "rhine"}
    for folder in FOLDERS:
        assert {f"{folder.name}-dev", f"{folder.name}-test"} <= set(SETS)
        text = (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
        assert "CC BY-SA 4.0" in text and "commit" in text, folder
        assert json.loads((folder / "set.json").read_text())["scoring"] == "squad"


def test_squad_normans_has_the_published_counts():
    """SQuAD 2.0 dev, article "Normans": 208 questions, 112 of them unanswerable, 39 paragraphs."""
    rows = items(EXTERNAL / "squad" / "dev.jsonl") + items(EXTERNAL / "squad" / "test.jsonl")
    assert len(rows) == 208
    assert sum(not r["answerable"] for r in rows) == 112
    assert len(scan(EXTERNAL / "squad" / "corpus")) == 39


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_dev_and_test_are_disjoint_halves_stratified_by_answerable(folder):
    dev, test = items(folder / "dev.jsonl"), items(folder / "test.jsonl")
    dev_ids, test_ids = {r["id"] for r in dev}, {r["id"] for r in test}
    assert len(dev_ids) == len(dev) and len(test_ids) == len(test)  # no duplicate ids
    assert not dev_ids & test_ids
    assert not {r["question"] for r in dev} & {r["question"] for r in test}  # no question asked in both
    assert abs(len(dev) - len(test)) <= 2
    assert abs(sum(r["answerable"] for r in dev) - sum(r["answerable"] for r in test)) <= 1
    assert 0.25 <= sum(not r["answerable"] for r in dev + test) / len(dev + test) <= 0.6


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_every_item_is_consistent_and_its_evidence_is_verbatim(folder):
    docs = {d.id: d for d in (read_document(p) for p in scan(folder / "corpus"))}
    assert all(d.title and d.text for d in docs.values())
    for r in items(folder / "dev.jsonl") + items(folder / "test.jsonl"):
        assert set(r) >= {"id", "question", "answers", "answerable", "kind", "doc_ids", "evidence"}, r["id"]
        assert r["question"].strip(), r["id"]
        if r["answerable"]:
            assert r["answers"] and r["doc_ids"] and r["evidence"], r["id"]
            for quote in r["evidence"]:
                assert any(quote in docs[d].text for d in r["doc_ids"]), f"{r['id']}: evidence not verbatim: {quote!r}"
            assert metrics.squad_contains(" ".join(r["evidence"]), r["answers"]), f"{r['id']}: no answer in evidence"
        else:
            assert r["answers"] == [] and r["evidence"] == [] and r["doc_ids"] == [], r["id"]


def test_split_is_seeded_stratified_and_keeps_order():
    rows = [{"id": str(i), "answerable": i % 4 != 0} for i in range(40)]
    dev, test = split(rows, 7)
    assert (dev, test) == split(rows, 7)  # the same seed, the same split
    assert split(rows, 8) != (dev, test)
    assert sorted(r["id"] for r in dev + test) == sorted(r["id"] for r in rows)
    assert Counter(r["answerable"] for r in dev) == Counter(r["answerable"] for r in test) == {True: 15, False: 5}
    assert [int(r["id"]) for r in dev] == sorted(int(r["id"]) for r in dev)


def test_sample_keeps_the_unanswerable_share():
    rows = [{"id": str(i), "answerable": i % 5 < 3} for i in range(500)]  # 40% unanswerable
    sample = stratified_sample(rows, 100, 1)
    assert len(sample) == 100 and sum(not r["answerable"] for r in sample) == 40


@pytest.mark.parametrize("context,start,length,expected", [
    ("One. Two is here. Three.", 5, 3, "Two is here."),
    ("Only one sentence with the answer", 10, 3, "Only one sentence with the answer"),
    ("A spans. Two sentences here.", 2, 15, "A spans. Two sentences here."),  # an answer across a boundary
])
def test_evidence_sentence(context, start, length, expected):
    assert evidence_sentence(context, start, length) == expected
