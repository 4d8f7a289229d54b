"""The eval set is well-formed, the metrics are right on hand-made cases, and retrieval keeps a floor."""

import json
from collections import Counter
from pathlib import Path

import pytest

from eval import metrics
from rag.ingest import read_document, scan

from .conftest import CORPUS

EVAL = Path(__file__).resolve().parent.parent / "eval"
DOCS = {d.id: d for d in (read_document(p) for p in scan(CORPUS))}
KINDS = {"fact", "number", "quote", "paraphrase", "misspelled", "multi_doc", "conflict", "unanswerable_on_topic",
         "unanswerable_off_topic", "false_premise", "multi_turn"}


def items(name):
    return [json.loads(line) for line in (EVAL / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["questions.jsonl", "heldout.jsonl"])
def test_question_files_are_well_formed(name):
    rows = items(name)
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["kind"] in KINDS, r["id"]
        assert r["question"].strip(), r["id"]
        if r["answerable"]:
            assert r["answers"] and r["doc_ids"] and r["evidence"], r["id"]
            for quote in r["evidence"]:
                assert any(quote in DOCS[d].text for d in r["doc_ids"]), f"{r['id']}: evidence not verbatim: {quote!r}"
            assert metrics.alias_match(" ".join(r["evidence"]), r["answers"]), f"{r['id']}: no alias in evidence"
        else:
            assert r["answers"] == [] and r["evidence"] == [], r["id"]
        if r["kind"] == "multi_turn":
            assert r["history"] and all(len(turn) == 2 for turn in r["history"]), r["id"]


def test_the_main_set_covers_what_the_issue_asks_for():
    rows = items("questions.jsonl")
    kinds = Counter(r["kind"] for r in rows)
    assert len(rows) >= 80
    assert sum(not r["answerable"] for r in rows) >= 15
    assert all(kinds[k] >= 1 for k in ("unanswerable_on_topic", "unanswerable_off_topic", "false_premise"))
    assert kinds["multi_turn"] >= 8 and kinds["conflict"] >= 1 and kinds["multi_doc"] >= 1
    assert kinds["misspelled"] >= 1 and kinds["paraphrase"] >= 1 and kinds["quote"] >= 1
    assert any("100, 000" in e for r in rows for e in r["evidence"])  # the odd spacing is exercised


def test_alias_matching_normalises_numbers_quotes_and_case():
    assert metrics.alias_match("Russia wanted under 100, 000 personnel [1].", ["100,000"])
    assert metrics.alias_match("He said “we need Tomahawks”", ['"we need Tomahawks"'])
    assert not metrics.alias_match("6000 troops", ["600"])  # whole tokens only
    assert not metrics.alias_match("anything", [])
    assert metrics.alias_match("995 miles [1] and up to 2,500 kilometers [2]", [["995"], ["2500 kilometers"]])


def test_abstention_and_citation_metrics_on_hand_made_rows():
    rows = [
        {"answerable": True, "abstained": False, "correct": True, "answers": ["600,000"], "evidence": ["cap it at 600, 000"],
         "citations": [{"quote": "The initial US draft would cap it at 600, 000."}, {"quote": "Unrelated sentence here."}]},
        {"answerable": True, "abstained": False, "correct": False, "answers": ["Miami"], "evidence": ["traveled to Miami"],
         "citations": []},
        {"answerable": True, "abstained": True, "correct": False, "answers": ["x"], "evidence": [], "citations": []},
        {"answerable": False, "abstained": True, "correct": True, "answers": [], "evidence": [], "citations": []},
        {"answerable": False, "abstained": False, "correct": False, "answers": [], "evidence": [], "citations": []},
    ]
    a = metrics.abstention(rows)
    assert a == {"precision": 0.5, "recall": 0.5, "declined_answerable": 1}
    c = metrics.citation_quality(rows)
    assert c["recall"] == 0.5  # the first answer is supported; the second has no citation
    assert c["precision"] == 0.5  # of the first answer's two citations, one supports it
    assert c["no_citation"] == 1
    assert c["correct_with_supporting_citation"] == 1.0


def test_empty_cases_are_defined():
    assert metrics.abstention([]) == {"precision": 0.0, "recall": 0.0, "declined_answerable": 0}
    assert metrics.citation_quality([])["recall"] == 0.0
    assert metrics.recall_at([], 4) == 0.0 and metrics.mrr([]) == 0.0
    assert metrics.percentile([], 95) == 0.0
    assert metrics.token_f1("", ["x"]) == 0.0


def test_retrieval_ranks_mrr_and_percentiles():
    ranks = [1, 2, None, 4]
    assert metrics.recall_at(ranks, 1) == 0.25 and metrics.recall_at(ranks, 4) == 0.75
    assert metrics.mrr(ranks) == pytest.approx((1 + 0.5 + 0.25) / 4)
    assert metrics.retrieval_ranks(["a b c", "Witkoff met Putin five times"], ["met Putin five times"]) == 2
    assert metrics.percentile([5, 1, 3, 2, 4], 95) == 5 and metrics.percentile([5, 1, 3, 2, 4], 50) == 3


@pytest.mark.real
def test_retrieval_only_eval_keeps_its_floor(real_embedder, tmp_path):
    """A regression in chunking, retrieval or selection fails the build (floor below the measured 90%)."""
    from eval.run import Runner, load_items, run_config
    from rag.config import Config
    from .conftest import SHARED_CACHE

    runner = Runner(tmp_path)
    runner.embedders["minilm"] = real_embedder
    result = run_config(runner, "default", Config(cache_dir=SHARED_CACHE), load_items(EVAL / "questions.jsonl"),
                        retrieval_only=True, progress=False)
    s = result["summary"]["retrieval"]
    assert s["recall@4"] >= 0.85, s
    assert s["mrr"] >= 0.70, s


# --- SQuAD's rule and the per-set comparison ------------------------------------------------

@pytest.mark.parametrize("prediction,answers,em,f1,contains", [
    ("Denmark, Iceland and Norway", ["Denmark, Iceland and Norway"], 1.0, 1.0, True),
    ("the 10th century [1].", ["10th century", "in the 10th century"], 1.0, 1.0, True),  # article, marker, stop
    ("They were led by Rollo [1].", ["Rollo"], 0.0, 2 * (1 / 5) / (1 + 1 / 5), True),  # 1 of 5 tokens
    ("Rollo's men", ["Rollo"], 0.0, 0.0, True),  # F1: SQuAD makes it "rollos"; containment splits at the "'"
    ("Rollover", ["Rollo"], 0.0, 0.0, False),  # whole words only
    ("Norway", ["Denmark, Iceland and Norway"], 0.0, 0.4, False),  # p 1, r 1/4 -> F1 0.4
    ("anything", [], 0.0, 0.0, False),  # no gold answers: nothing can match
])
def test_squad_metrics_on_known_answers(prediction, answers, em, f1, contains):
    assert metrics.squad_exact(prediction, answers) == em
    assert metrics.squad_f1(prediction, answers) == pytest.approx(f1)
    assert metrics.squad_contains(prediction, answers) is contains


def test_a_decline_is_right_exactly_when_the_question_is_unanswerable():
    from eval.run import score

    answerable = {"answerable": True, "answers": ["Rollo"]}
    unanswerable = {"answerable": False, "answers": []}
    for rule in ("alias", "squad"):
        assert score(answerable, "Rollo [1].", False, rule)["correct"]
        assert not score(answerable, "Rollo", True, rule)["correct"]  # declined: wrong, whatever the text
        assert score(unanswerable, "The articles don't say.", True, rule) == {"correct": True}
        assert score(unanswerable, "Rollo [1].", False, rule) == {"correct": False}
    assert score(answerable, "Rollo", True, "squad") == {"correct": False, "em": 0.0, "f1": 0.0}


def test_citation_support_counts_answered_answerable_questions():
    rows = [
        {"answerable": True, "abstained": False, "answers": ["Rollo"], "evidence": ["under their leader Rollo"],
         "citations": [{"quote": "Nothing here."}, {"quote": "Raiders under their leader Rollo agreed."}]},
        {"answerable": True, "abstained": False, "answers": ["Rollo"], "evidence": [], "citations": []},
        {"answerable": True, "abstained": True, "answers": ["x"], "evidence": [], "citations": []},  # not counted
        {"answerable": False, "abstained": False, "answers": [], "evidence": [], "citations": [{"quote": "x"}]},
    ]
    assert metrics.citation_support(rows) == 0.5
    assert metrics.citation_support([]) == 0.0


@pytest.fixture
def fake_runner(tmp_path, monkeypatch):
    """A runner with the fakes. The SQuAD sets are built from ../shared/datasets/squad2-dev.json (into
    this test's cache): without it, the test is skipped with where to get the file."""
    from eval.external import DataMissing, squad_path
    from eval.run import Runner
    from rag.config import Config

    from .conftest import HashEmbedder, ScriptedGenerator, extractive

    try:
        squad_path()
    except DataMissing as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    config = Config(gate="", cache_dir=tmp_path / "cache")
    runner = Runner(tmp_path / "indexes")
    runner.embedders[config.embedder] = HashEmbedder()
    runner.generators[runner.generator_key(config)] = ScriptedGenerator(extractive)
    return runner, config


@pytest.mark.parametrize("retrieval_only", [True, False], ids=["retrieval", "answers"])
def test_compare_writes_one_table_with_every_set(fake_runner, tmp_path, monkeypatch, retrieval_only):
    """Each set is answered over its own corpus; the report has a row per set and per-question rows."""
    import eval.run as run

    runner, config = fake_runner
    sets = list(run.question_sets().values())
    assert [s.name for s in sets][:2] == ["questions", "heldout"]
    assert {"squad-dev", "squad-test", "rhine-dev", "rhine-test"} <= {s.name for s in sets}
    results = run.run_sets(runner, sets, config, retrieval_only, limit=3, progress=False)
    assert len({r["config"]["corpus_dir"] for r in results}) == 4  # bundled, Normans, Rhine, dated news
    assert len(list((tmp_path / "indexes").iterdir())) == 4  # a separate index per corpus
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    json_path, md_path = run.write_report(results, "compare", "all", by_set=True)
    table = md_path.read_text().split("\n\n")[2]
    for s in sets:
        assert f"| {s.name} |" in table, s.name
    payload = json.loads(json_path.read_text())
    assert all(len(r["rows"]) == 3 for r in payload["runs"])
    if not retrieval_only:
        assert "SQuAD EM" in table and "citation support" in table
        squad = next(r for r in payload["runs"] if r["name"] == "squad-dev")
        assert squad["scoring"] == "squad" and "squad" in squad["summary"]
        assert all("em" in row for row in squad["rows"] if row["answerable"])


def test_cli_rejects_an_unknown_set():
    from eval.run import main

    with pytest.raises(SystemExit, match="unknown question set 'nope'"):
        main(["--set", "nope", "--retrieval-only"])


def test_named_configurations_run_side_by_side_on_every_set_with_latency_in_units(fake_runner, tmp_path, monkeypatch):
    """--compare --config a=... --config b=...: one row per set and configuration; with the unit
    measured, every latency column shows seconds and the ratio to it."""
    import eval.run as run

    runner, config = fake_runner
    sets = [run.resolve_set("questions"), run.resolve_set("squad-dev")]
    configs = {"default": config, "lean": config.replace(passages=2)}
    runner.generators[runner.generator_key(configs["lean"])] = runner.generators[runner.generator_key(config)]
    results = run.run_sets(runner, sets, configs, retrieval_only=False, limit=2, progress=False)
    assert [r["name"] for r in results] == ["questions · default", "questions · lean",
                                            "squad-dev · default", "squad-dev · lean"]
    assert [r["config"]["passages"] for r in results] == [4, 2, 4, 2]
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    unit = {"seconds": 2.0, "read_s": 1.5, "write_s": 0.5}
    _, md_path = run.write_report(results, "speed", "two", by_set=True, units={config.generator: unit})
    text = md_path.read_text()
    assert "p50 s (unit)" in text and f"`{config.generator}` 2.00 s" in text
    p50 = results[0]["summary"]["latency"]["p50"]
    assert f"{p50:.2f} ({p50 / 2.0:.2f})" in text


@pytest.mark.real
def test_the_unit_is_measured_with_the_named_model():
    """eval/unit.py reads 480 tokens and writes 20 with the GGUF it is given: a model ten times larger
    takes longer, and both parts of the work are timed."""
    from eval.unit import measure

    tiny, fast = measure("tiny", repeats=1), measure("fast", repeats=1)
    assert tiny.generator == "tiny" and fast.generator == "fast"
    for u in (tiny, fast):
        assert u.read_s > 0 and u.write_s > 0 and u.seconds == pytest.approx(u.read_s + u.write_s)
    assert fast.seconds > tiny.seconds
    assert fast.ratio(fast.seconds * 0.3) == pytest.approx(0.3)
