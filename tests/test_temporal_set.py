"""The temporal set (eval/temporal.py): built from the dated news in ../shared/datasets/news, every
question checked again here from the files as the product reads them, the same bytes from every build,
a corpus a laptop indexes in minutes, and stale or future answers scored wrong.

Tests on the real set skip, saying where to get the files, without them; the extraction and the
plumbing also run on a tiny folder of invented texts written here.
"""

import datetime as dt
import hashlib
import json
import re
from collections import Counter

import pytest

from eval import temporal
from eval import temporal_extract as tx
from eval.external import DataMissing
from eval.temporal import check, materialize, score_temporal, temporal_path
from rag.chunk import chunk_document
from rag.config import Config
from rag.ingest import read_document, scan

from .conftest import ROOT

KINDS = ("latest", "after_as_of", "on_date", "change", "value", "unanswerable_not_yet", "unanswerable_before")


def items(folder, part):
    return [json.loads(line) for line in (folder / f"{part}.jsonl").read_text(encoding="utf-8").splitlines()]


def corpus(folder):
    """id -> the document as the product's ingest reads it."""
    return {d.id: d for d in (read_document(p) for p in scan(folder / "corpus"))}


def fingerprint(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    try:
        temporal_path()
    except DataMissing as exc:
        pytest.skip(str(exc))
    folder = materialize(root=tmp_path_factory.mktemp("sets"))
    meta = json.loads((folder / "set.json").read_text(encoding="utf-8"))
    return folder, {p: items(folder, p) for p in ("dev", "test")}, corpus(folder), meta


def test_every_question_passes_its_checks_read_back_through_the_products_ingest(built):
    folder, parts, docs, meta = built
    view = {k: {"body": d.text, "published": d.published} for k, d in docs.items()}
    for item in parts["dev"] + parts["test"]:
        assert check(item, view, meta["topics"]) == [], item["id"]


def test_evidence_is_verbatim_holds_the_answer_and_was_published_by_as_of(built):
    _, parts, docs, _ = built
    for item in parts["dev"] + parts["test"]:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item["as_of"]) and dt.date.fromisoformat(item["as_of"])
        if not item["answerable"]:
            assert item["doc_ids"] == item["evidence"] == [] and item["answers"] == []
            continue
        for doc_id, quote in zip(item["doc_ids"], item["evidence"], strict=True):
            assert quote in docs[doc_id].text, item["id"]
            assert docs[doc_id].published <= item["as_of"], item["id"]
        assert score_temporal(item, " ".join(item["evidence"]), False)["correct"], item["id"]


def relevant(item, docs):
    """The corpus documents about the item's topic, found without the builder's topic lists: every
    Federal Reserve statement, or every document naming the defendant."""
    if item["topic"] == "fomc-target":
        return [d for d in docs.values() if d.outlet == "Federal Reserve"]
    first, last = item["topic"].split("-", 2)[1:]
    return [d for d in docs.values() if tx.mentions((first, last), d.text)]


def test_latest_evidence_is_the_newest_relevant_document_on_or_before_as_of(built):
    _, parts, docs, meta = built
    for item in parts["dev"] + parts["test"]:
        if item["kind"] not in ("latest", "after_as_of"):
            continue
        found = relevant(item, docs)
        assert {d.id for d in found} == {e[0] for e in meta["topics"][item["topic"]]}, item["topic"]
        known = [d for d in found if d.published <= item["as_of"]]
        newest = max(known, key=lambda d: d.published)
        assert item["doc_ids"] == [newest.id], item["id"]
        if item["kind"] == "after_as_of":  # a newer document is in the corpus: the date must matter
            later = {d.id for d in found if d.published > item["as_of"]}
            assert item["future"] and item["future_doc_ids"] and set(item["future_doc_ids"]) <= later


def test_unanswerable_questions_are_asked_before_their_topic_says_anything(built):
    _, parts, docs, _ = built
    for item in parts["dev"] + parts["test"]:
        if item["kind"] == "unanswerable_before":
            end = item.get("period", [None, item["as_of"]])[1]
            assert all(d.published > end for d in relevant(item, docs)), item["id"]
        if item["kind"] == "unanswerable_not_yet":
            known = [d for d in relevant(item, docs) if d.published <= item["as_of"]]
            assert known and not any(score_temporal(item, d.text, False)["mentions_future"] for d in known)


def test_dev_and_test_share_no_series_and_each_has_every_kind(built):
    _, parts, _, meta = built
    series = {p: {r["series"] for r in rows} for p, rows in parts.items()}
    assert not series["dev"] & series["test"]
    assert {s.split("-")[0] for s in series["dev"]} == {s.split("-")[0] for s in series["test"]} == {"fomc", "doj"}
    for part, rows in parts.items():
        kinds = Counter(r["kind"] for r in rows)
        assert len(rows) >= 25 and set(kinds) == set(KINDS), (part, kinds)
        assert len({r["id"] for r in rows}) == len(rows)
        assert len({(r["question"], r["as_of"]) for r in rows}) == len(rows)
    assert 60 <= len(parts["dev"]) + len(parts["test"]) <= 80
    assert meta["questions"] == {p: dict(sorted(Counter(r["kind"] for r in rows).items())) for p, rows in parts.items()}


def test_every_document_has_a_date_an_outlet_a_title_and_an_address(built):
    _, _, docs, meta = built
    assert set(Counter(d.outlet for d in docs.values())) == {"Federal Reserve", "US Department of Justice",
                                                            "Wikipedia Current events"}
    for d in docs.values():
        assert dt.date.fromisoformat(d.published) and d.title and d.url.startswith("https://"), d.id
    assert "CC BY-SA 4.0" in meta["licences"]["Wikipedia Current events"]


def test_the_wikipedia_days_carry_their_attribution(built):
    folder = built[0]
    for path in (folder / "corpus").glob("wiki-*.md"):
        head = path.read_text(encoding="utf-8").split("---")[1]
        assert 'licence: "CC BY-SA 4.0"' in head and "Wikipedia contributors, Portal:Current events/" in head


def test_the_corpus_stays_under_the_chunk_budget_of_a_laptop(built):
    """Chunked as the product chunks (90 words, one sentence of overlap): well under 2,000 chunks."""
    _, _, docs, meta = built
    c = Config()
    chunks = sum(len(chunk_document(d, c.chunk_words, c.chunk_overlap)) for d in docs.values())
    assert 100 <= len(docs) <= 400 and chunks < 2000, (len(docs), chunks)
    assert abs(chunks - meta["chunks_estimated"]) < 0.25 * chunks


def test_the_build_is_the_same_bytes_every_time(built, tmp_path):
    again = materialize(root=tmp_path)
    assert again.name == built[0].name and fingerprint(again) == fingerprint(built[0])
    assert materialize(root=tmp_path) == again  # built once per content


def test_a_stale_or_a_future_answer_is_wrong_and_flagged(built):
    _, parts, _, _ = built
    rows = parts["dev"] + parts["test"]
    latest = next(r for r in rows if r["kind"] == "latest" and r["topic"] == "fomc-target")
    assert score_temporal(latest, f"The target is {latest['stale'][0]} [1].", False) == \
        {"correct": False, "stale": True, "future": False, "mentions_future": False}
    assert score_temporal(latest, f"It is {latest['answers'][0]}, up from {latest['stale'][0]} [1].", False)["correct"]
    ahead = next(r for r in rows if r["kind"] == "after_as_of" and r["topic"] == "fomc-target")
    assert score_temporal(ahead, f"The target is {ahead['future'][0]} [2].", False) == \
        {"correct": False, "stale": False, "future": True, "mentions_future": True}
    case = next(r for r in rows if r["kind"] == "after_as_of" and r["topic"] != "fomc-target")
    said = score_temporal(case, f"He was {case['future'][0]} [1].", False)
    assert not said["correct"] and said["future"]
    yet = next(r for r in rows if r["kind"] == "unanswerable_not_yet")
    assert score_temporal(yet, "", True)["correct"] and not score_temporal(yet, f"{yet['future'][0]} [1]", False)["correct"]
    assert not score_temporal(latest, "", True)["correct"]


def test_nothing_of_the_data_is_kept_in_the_repo(built):
    _, parts, _, _ = built
    quotes = {r["evidence"][0] for rows in parts.values() for r in rows if r["evidence"]}
    for path in list((ROOT / "eval").rglob("*")) + list((ROOT / "tests").rglob("*")):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".md", ".py") and "results" not in path.parts:
            text = path.read_text(encoding="utf-8", errors="ignore")
            assert not any(q in text for q in quotes), path


# ---------------------------------------------------------------- invented texts: the extraction and the plumbing

def test_a_missing_folder_says_where_to_get_the_files(tmp_path):
    with pytest.raises(DataMissing, match="fomc-statements-1994-2016.jsonl.*fomc/statements"):
        temporal_path(tmp_path)


@pytest.mark.parametrize("text, action, value, bp", [
    ("The Committee decided today to lower its target for the federal funds rate by 50 basis points to 3-1/2 percent.",
     "lower", ("7/2", "7/2"), 50),
    ("The Committee voted today to raise its target for the federal funds rate 25 basis points to 6 percent.",
     "raise", ("6", "6"), 25),
    ("The Committee decided today to keep its target for the federal funds rate unchanged at 1 3/4 percent.",
     "hold", ("7/4", "7/4"), None),
    ("The Committee decided today to establish a target range for the federal funds rate of 0 to 1/4 percent.",
     "establish", ("0", "1/4"), None),
    ("The Committee decided to raise the target range for the federal funds rate to 1/4 to 1/2 percent. Voting against "
     "the action was A. Member, who preferred to raise the target range for the federal funds rate to 1/2 to 3/4 percent.",
     "raise", ("1/4", "1/2"), None),
    ("The Committee reaffirmed its view that the current 0 to 1/4 percent target range for the federal funds rate "
     "remains appropriate.", "hold", ("0", "1/4"), None),
])
def test_the_fomc_target_is_read_from_each_wording(text, action, value, bp):
    from fractions import Fraction

    t = tx.fomc_target(text)
    assert (t.action, t.value, t.bp) == (action, tuple(map(Fraction, value)), bp) and t.sentence in text


@pytest.mark.parametrize("text", [
    "The Committee decided today to leave its target for the federal funds rate unchanged.",
    "The Board approved an increase in the discount rate to 3-1/4 percent.",
    "The Committee decided to keep its target for the federal funds rate at 2 percent. Later it decided to lower "
    "its target for the federal funds rate by 25 basis points to 1-3/4 percent.",  # two values: not clear
])
def test_a_statement_without_one_clear_target_gives_none(text):
    assert tx.fomc_target(text) is None


def test_a_move_that_does_not_follow_from_the_last_statement_is_caught():
    from fractions import Fraction as F

    two = (F(2), F(2))
    cut = tx.fomc_target("The Committee decided to lower its target for the federal funds rate 50 basis points to 1 percent.")
    assert not tx.follows(two, cut)  # 2 - 0.5 is 1.5: a statement in between is missing
    assert tx.follows((F(3, 2), F(3, 2)), cut)
    assert tx.follows((F(1), F(1)), tx.fomc_target("It decided to keep its target for the federal funds rate at 1 percent."))


@pytest.mark.parametrize("title, body, expected", [
    ("Ohio Man Sentenced to 57 Months for Fraud",
     "Zorvik Quell, 41, of Springfield, Ohio, was sentenced today to 57 months in prison. Quell pleaded guilty in May.",
     ("Zorvik Quell", "sentenced", 57)),
    ("Ohio Man Sentenced for Fraud",
     "An Ohio man was sentenced today to six years in prison for fraud. Zorvik Quell, 41, was sentenced by Judge Ann "
     "Lee. Quell had pleaded guilty.", ("Zorvik Quell", "sentenced", 72)),
    ("Former Officer Convicted of Excessive Force",
     "Today, a federal jury convicted Brannoc Ulvey, 58, of excessive force. Ulvey faces ten years.",
     ("Brannoc Ulvey", "convicted", None)),
    ("Army Major Pleads Guilty to False Statements",
     "U.S. Army Major Ilsa M. Verrow, 46, of Huntsville, Ala., pleaded guilty today. Verrow admitted the lies.",
     ("Ilsa M. Verrow", "pleaded", None)),
])
def test_a_release_gives_its_defendant_stage_and_term(title, body, expected):
    r = tx.doj_release(title, body)
    assert (r.name, r.stage, r.months) == expected and r.sentence in body


@pytest.mark.parametrize("title, body", [
    ("Two Men Sentenced for Fraud", "Zorvik Quell, 41, and Dask Morrow, 39, were sentenced today. Quell and Morrow ..."),
    ("Ohio Man Agrees to Plead Guilty", "Zorvik Quell, 41, agreed today to plead guilty. Quell ..."),
    ("Ohio Man Sentenced for Fraud",  # the only term in the opening is a co-defendant's
     "Zorvik Quell, 41, was sentenced today. Dask Morrow, 39, was sentenced to 20 years in prison. Quell ..."),
    ("Ohio Man Sentenced for Killing Hunter",  # the name after the verb is the victim's
     "A Springfield man was sentenced today to 20 years in prison for killing Dask Morrow, a hunter. Morrow ..."),
    ("Ohio Man Sentenced to 5 Years", "Zorvik Quell, 41, was sentenced today to 57 months in prison. Quell ..."),
])
def test_a_release_that_is_not_clear_gives_none(title, body):
    assert tx.doj_release(title, body) is None


def test_values_are_compared_as_numbers_not_as_digits():
    assert temporal.matches("cut to 4.25%", ["4-1/4 percent"]) and temporal.matches("4 1/4 percent", ["4.25 percent"])
    assert not temporal.matches("raised to 4-1/4 percent", ["4 percent"])  # "4 1 4 percent" holds "4 percent"
    assert not temporal.matches("1/4 to 1/2 percent", ["2 percent"]) and not temporal.matches("2.25%", ["25 percent"])
    assert temporal.matches("a range of 0-0.25%", ["0 to 1/4 percent"])
    assert temporal.matches("sentenced to six years", [["sentenced"], ["6 years"]])


FOMC = [  # invented statements: a cut, a hold, a raise, a hold
    ("2001-01-10", "The Committee decided today to lower its target for the federal funds rate by 50 basis points to "
                   "4 percent. The outlook is uncertain."),
    ("2001-02-20", "The Committee decided today to keep its target for the federal funds rate at 4 percent."),
    ("2001-04-10", "The Committee decided today to raise its target for the federal funds rate by 25 basis points to "
                   "4-1/4 percent."),
    ("2001-06-05", "The Committee decided today to keep its target for the federal funds rate at 4-1/4 percent."),
]
DOJ = [  # an invented case: charged, pleaded, sentenced
    ("1", "2012-01-05", "Ohio Man Indicted for Fraud",
     "Zorvik Quell, 41, of Springfield, Ohio, was indicted today on ten counts of wire fraud. Quell faces 20 years."),
    ("2", "2012-05-10", "Ohio Man Pleads Guilty to Fraud",
     "Zorvik Quell, 41, of Springfield, Ohio, pleaded guilty today to wire fraud. Quell will be sentenced in September."),
    ("3", "2012-09-20", "Ohio Man Sentenced to 57 Months for Fraud",
     "Zorvik Quell, 41, of Springfield, Ohio, was sentenced today to 57 months in prison. Quell pleaded guilty in May."),
]


@pytest.fixture
def invented(tmp_path):
    src = tmp_path / "news"
    src.mkdir()
    rows = {
        "fomc": [{"date": d, "kind": "statement", "url": f"https://example.org/{d}", "text": t} for d, t in FOMC],
        "doj": [{"id": i, "date": d, "title": ti, "url": f"https://example.org/doj/{i}", "text": t} for i, d, ti, t in DOJ],
        "wikipedia": [{"date": "2010-03-04", "url": "https://example.org/w", "categories": {"Sports": ["A race. (X)"]}}],
    }
    for key, name in temporal.FILES.items():
        (src / name).write_text("".join(json.dumps(r) + "\n" for r in rows[key]), encoding="utf-8")
    return src, tmp_path / "cache"


def test_invented_texts_give_the_questions_they_should(invented, monkeypatch):
    monkeypatch.setitem(temporal.SERIES_CAP, "doj", 99)  # one case: let it give every kind
    src, root = invented
    folder = materialize(src, root)
    assert materialize(src, root) == folder
    rows = items(folder, "dev") + items(folder, "test")
    docs = corpus(folder)
    assert set(docs) == {"fomc-2001-01-10", "fomc-2001-02-20", "fomc-2001-04-10", "fomc-2001-06-05",
                         "doj-1", "doj-2", "doj-3"}
    view = {k: {"body": d.text, "published": d.published} for k, d in docs.items()}
    meta = json.loads((folder / "set.json").read_text(encoding="utf-8"))
    assert all(check(r, view, meta["topics"]) == [] for r in rows)
    change = next(r for r in rows if r["kind"] == "change")
    assert change["question"].endswith("in April 2001?") and "4-1/4 percent" in change["answers"]
    assert change["stale"][:2] == ["4 percent", "4%"]
    value = next(r for r in rows if r["kind"] == "value")
    assert "57 months" in value["answers"] and value["doc_ids"] == ["doj-3"] and value["as_of"] >= "2012-09-20"
    latest = [r for r in rows if r["kind"] == "latest" and r["topic"] == "doj-zorvik-quell"]
    assert {str(r["answers"]) for r in latest} <= {str(tx.STAGE_ALIASES["pleaded"]),
                                                   str([tx.STAGE_ALIASES["sentenced"], tx.term_aliases(57)])}
    yet = next(r for r in rows if r["kind"] == "unanswerable_not_yet")
    assert not yet["answerable"] and "57 months" in yet["future"] and "2012-05-10" <= yet["as_of"] < "2012-09-20"
    series = {p: {r["series"] for r in items(folder, p)} for p in ("dev", "test")}
    assert not series["dev"] & series["test"]
