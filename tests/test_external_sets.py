"""The external sets, built from SQuAD 2.0's JSON where it lives: well-formed, split as promised, the same
from any copy, skipped with where to get the file when it is absent, and never copied into eval/.

Tests on the real sets read ../shared/datasets/squad2-dev.json and skip, saying where to get it, without
it; the plumbing (--squad-file, the cache, the errors) runs on a small SQuAD-layout file written here.
"""

import hashlib
import json
import subprocess
import sys
from collections import Counter

import pytest

from eval import metrics
from eval.external import SQUAD_FILE, DataMissing, external_sets, materialize, squad_path
from eval.external.squad import LayoutError, evidence_sentence, split, stratified_sample
from rag.ingest import read_document, scan

from .conftest import ROOT


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """name -> folder of each real set, built from the shared SQuAD 2.0 file."""
    try:
        squad_path()
    except DataMissing as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("sets")
    return {name: materialize(name, root=root) for name in ("squad", "rhine")}


def items(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_there_are_two_external_sets_each_with_dev_and_test_named_without_reading_a_file():
    assert set(external_sets()) == {"squad-dev", "squad-test", "rhine-dev", "rhine-test"}
    assert {s["article"] for s in external_sets().values()} == {"Normans", "Rhine"}


def test_squad_normans_has_the_published_counts(built):
    """SQuAD 2.0 dev, article "Normans": 208 questions, 112 of them unanswerable, 39 paragraphs; Rhine:
    a seeded sample of 120 of its questions over its 44 paragraphs."""
    rows = items(built["squad"] / "dev.jsonl") + items(built["squad"] / "test.jsonl")
    assert len(rows) == 208 and sum(not r["answerable"] for r in rows) == 112
    assert len(scan(built["squad"] / "corpus")) == 39
    assert len(items(built["rhine"] / "dev.jsonl")) == len(items(built["rhine"] / "test.jsonl")) == 60
    assert len(scan(built["rhine"] / "corpus")) == 44


# sha256 of the files vendored under eval/external/ until commit 93c807e, on which every earlier figure was
# measured: `git show 93c807e:eval/external/squad/dev.jsonl | sha256sum`; a corpus: each file's name, a NUL
# byte and its bytes, in name order.
VENDORED = {
    ("squad", "dev.jsonl"): "0e6ffb7aa4a15ebf309b8ffe93fbd05ac40d09990b6fe8742c89654ead074053",
    ("squad", "test.jsonl"): "774bb4ad45d652cb0a58691aaeed978201f58260bd5f178b9703b5279a629587",
    ("squad", "corpus"): "f3779a5d36250a1dcbb1fb22352cf72607ef34f054e3a351885adac920cb1bff",
    ("rhine", "dev.jsonl"): "cb3503da1cbf9fb8f717627434ae543379d0173ec2e4edc3404ab131686be5ae",
    ("rhine", "test.jsonl"): "9872537a1f3d98713c6dc0205c012c0e052cca695686271e3330ec8c28b2164d",
    ("rhine", "corpus"): "6de430429c7d31fd717504f9c5be2a6f8a1f3eef7ad10060e529984cb64945a2",
}


def digest(path) -> str:
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(path.iterdir()):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("name, part", list(VENDORED), ids=lambda x: str(x))
def test_the_sets_are_byte_for_byte_those_every_earlier_figure_was_measured_on(built, name, part):
    """Same questions, same seeds, same paragraphs, same evidence: the shared copy lost four answer offsets
    (Ethelred fled to Normandy: "Normandy" occurs four times in its paragraph), restored from the official file."""
    assert digest(built[name] / part) == VENDORED[name, part]


@pytest.mark.parametrize("name", ["squad", "rhine"])
def test_dev_and_test_are_disjoint_halves_stratified_by_answerable(built, name):
    dev, test = items(built[name] / "dev.jsonl"), items(built[name] / "test.jsonl")
    dev_ids, test_ids = {r["id"] for r in dev}, {r["id"] for r in test}
    assert len(dev_ids) == len(dev) and len(test_ids) == len(test)  # no duplicate ids
    assert not dev_ids & test_ids
    assert not {r["question"] for r in dev} & {r["question"] for r in test}  # no question asked in both
    assert abs(len(dev) - len(test)) <= 2
    assert abs(sum(r["answerable"] for r in dev) - sum(r["answerable"] for r in test)) <= 1
    assert 0.25 <= sum(not r["answerable"] for r in dev + test) / len(dev + test) <= 0.6


@pytest.mark.parametrize("name", ["squad", "rhine"])
def test_every_item_is_consistent_and_its_evidence_is_verbatim(built, name):
    folder = built[name]
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


def test_no_paragraph_of_the_two_articles_is_kept_under_eval():
    """What `git grep` would find: no sentence of 8 or more words from the Normans or Rhine paragraphs in
    any file of eval/ that git tracks or would add (reports included)."""
    from eval.external.squad import _BOUNDARY, find_article

    try:
        data = json.loads(squad_path().read_text(encoding="utf-8"))
    except DataMissing as exc:
        pytest.skip(str(exc))
    sentences = set()
    for title in ("Normans", "Rhine"):
        for para in find_article(data, title)["paragraphs"]:
            text = para["context"].strip()
            bounds = [0, *(m.end() for m in _BOUNDARY.finditer(text)), len(text)]
            sentences.update(s for a, b in zip(bounds, bounds[1:]) if len((s := text[a:b].strip()).split()) >= 8)
    assert len(sentences) > 300
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard",
                             "eval"], capture_output=True, text=True, check=True).stdout.split()
    found = {}
    for name in listed:
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        try:
            text = path.read_text(encoding="utf-8").replace('\\"', '"')
        except UnicodeDecodeError:
            continue
        hits = [s for s in sentences if s in text]
        if hits:
            found[name] = hits[0]
    assert not found, found


# --- the plumbing, on a small file in SQuAD's layout (made-up text) ---------------------------------

def tiny_squad(path, articles=("Normans", "Rhine")):
    """Two articles of two paragraphs; each paragraph has one answerable question and one unanswerable."""
    data = {"version": "v2.0", "data": []}
    for title in articles:
        paragraphs = []
        for i in (1, 2):
            context = f"The {title} town of Vell{i} has a mill. Its mill was built in 18{i}0 by Ada Brin."
            start = context.index(f"18{i}0")
            paragraphs.append({"context": context, "qas": [
                {"id": f"{title}-{i}a", "question": f"When was the mill of Vell{i} built?", "is_impossible": False,
                 "answers": [{"text": f"18{i}0", "answer_start": start}]},
                {"id": f"{title}-{i}b", "question": f"Who sold the mill of Vell{i}?", "is_impossible": True,
                 "answers": []}]})
        data["data"].append({"title": title, "paragraphs": paragraphs})
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_set_is_built_from_the_file_given_once_per_content(tmp_path):
    source = tiny_squad(tmp_path / "dev-v2.0.json")
    folder = materialize("squad", source, root=tmp_path / "cache")
    rows = items(folder / "dev.jsonl") + items(folder / "test.jsonl")
    assert sorted(r["id"] for r in rows) == ["squad-Normans-1a", "squad-Normans-1b", "squad-Normans-2a", "squad-Normans-2b"]
    assert next(r for r in rows if r["id"] == "squad-Normans-2a")["evidence"] == ["Its mill was built in 1820 by Ada Brin."]
    doc = read_document(folder / "corpus" / "squad-1.md")
    assert doc.title == "Normans, paragraph 1" and doc.outlet == "Wikipedia" and doc.text.startswith("The Normans town")
    assert materialize("squad", source, root=tmp_path / "cache") == folder  # built once, then reused
    tiny_squad(source, ("Rhine", "Normans"))  # another content: another folder
    assert materialize("squad", source, root=tmp_path / "cache") != folder


def test_a_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(DataMissing, match=r"(?s)not found at .*nothere\.json.*dev-v2\.0\.json.*--squad-file"):
        materialize("squad", tmp_path / "nothere.json", root=tmp_path / "cache")
    assert str(SQUAD_FILE).endswith("shared/datasets/squad2-dev.json")


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not JSON"),
    ('{"version": "v2.0", "rows": []}', "not in SQuAD's layout"),
    ('{"version": "v2.0", "data": [{"title": "Geology", "paragraphs": []}]}', "no article titled 'Normans'"),
])
def test_a_file_of_another_shape_is_refused_with_the_reason(tmp_path, content, message):
    source = tmp_path / "other.json"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(LayoutError, match=message):
        materialize("squad", source, root=tmp_path / "cache")


def test_the_eval_cli_skips_a_set_without_its_file_and_says_where_to_get_it(tmp_path):
    """Before any model is loaded: exit 1 with the message, for one set and for --compare of SQuAD sets."""
    for args in (["--set", "squad-dev"], ["--compare", "--sets", "squad-dev,rhine-test"]):
        out = subprocess.run([sys.executable, "-m", "eval", *args, "--squad-file", str(tmp_path / "no.json"),
                              "--retrieval-only"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 1, out.stderr
        assert "skipping squad-dev" in out.stderr and "rajpurkar.github.io/SQuAD-explorer" in out.stderr, out.stderr


def test_the_eval_cli_runs_a_set_from_the_file_given(tmp_path, monkeypatch):
    """--squad-file reaches the set: a retrieval-only run over the small file, with the fake embedder."""
    import eval.run as run

    from .conftest import HashEmbedder

    source = tiny_squad(tmp_path / "dev-v2.0.json")
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run.Runner, "bot", _fake_bot(run.Runner.bot, HashEmbedder()))
    base = tmp_path / "rules.toml"
    base.write_text('gate = ""\n')  # the rules alone: no trained gate in the fast tier
    assert run.main(["--set", "rhine-test", "--squad-file", str(source), "--retrieval-only", "--base", str(base)]) == 0
    report = json.loads((tmp_path / "results" / "default-retrieval-rhine-test.json").read_text())
    assert [r["id"] for r in report["runs"][0]["rows"]] and all(r["id"].startswith("rhine-Rhine-") for r in
                                                                report["runs"][0]["rows"])
    assert "passages" not in report["runs"][0]["rows"][0]  # the SQuAD texts stay out of the report


def _fake_bot(real, embedder):
    def bot(self, config):
        self.embedders[config.embedder] = embedder
        return real(self, config)
    return bot


# --- the split and sample rules ----------------------------------------------------------------------

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
