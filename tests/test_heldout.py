"""The held-out set is independent of the dev set: no shared question, no shared evidence sentence.

`eval/heldout.jsonl` measures whether settings tuned on `eval/questions.jsonl` generalise, so a held-out
question must not be (nearly) a dev question, and a held-out answer must not come from a sentence that a
dev item already cites. Sentences are the article's own, as `rag.text.sentence_spans` splits them, so a
short quote ("cap it at 600") and a longer one around it count as the same sentence.
"""

import json
import re
import unicodedata
from itertools import combinations
from pathlib import Path

import pytest

from eval import metrics
from rag.ingest import read_document, scan
from rag.text import sentence_spans

from .conftest import CORPUS

EVAL = Path(__file__).resolve().parent.parent / "eval"
DOCS = {d.id: d for d in (read_document(p) for p in scan(CORPUS))}
NEAR_DUPLICATE = 0.5  # token Jaccard at or above this is the same question reworded a little


def items(name):
    return [json.loads(line) for line in (EVAL / name).read_text(encoding="utf-8").splitlines() if line.strip()]


DEV, HELDOUT = items("questions.jsonl"), items("heldout.jsonl")


def tokens(text: str) -> set[str]:
    """Lower-case word tokens, punctuation and quote styles ignored: "Who's Witkoff?" -> {"who", "s", "witkoff"}."""
    return set(re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", text).lower()))


def jaccard(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def questions(row) -> list[str]:
    """The question and every question of its conversation history."""
    return [row["question"]] + [turn[0] for turn in row.get("history") or []]


def sentences_touched(doc_id: str, quote: str) -> set[tuple[str, int]]:
    """(doc id, sentence number) of every sentence that any occurrence of the quote overlaps."""
    text = DOCS[doc_id].text
    spans = sentence_spans(text)
    touched, start = set(), text.find(quote)
    while start >= 0:
        end = start + len(quote)
        touched |= {(doc_id, k) for k, (a, b) in enumerate(spans) if a < end and start < b}
        start = text.find(quote, start + 1)
    return touched


def evidence_sentences(row) -> set[tuple[str, int]]:
    return {s for quote in row["evidence"] for d in row["doc_ids"] for s in sentences_touched(d, quote)}


def sentence_text(doc_id: str, k: int) -> str:
    a, b = sentence_spans(DOCS[doc_id].text)[k]
    return DOCS[doc_id].text[a:b]


def test_helpers_on_known_cases():
    """A sub-quote and its whole sentence touch the same sentence; a reworded question is caught."""
    doc = "rferl-witkoff-moscow-peace-plan"
    whole = sentences_touched(doc, "The initial US draft would cap it at 600, 000.")
    assert len(whole) == 1 and sentences_touched(doc, "cap it at 600") == whole
    # a quote across a sentence boundary touches both sentences
    assert len(sentences_touched(doc, "under 100, 000 personnel. The initial US draft")) == 2
    assert sentences_touched(doc, "not in the article") == set()
    assert jaccard("Who won the 2022 FIFA World Cup?", "who won the 2022 fifa world cup") == 1.0
    assert jaccard("How many times has Witkoff met Putin?", "How many times has Steve Witkoff met with Putin?") >= NEAR_DUPLICATE
    assert jaccard("What did Trump say?", "Which app did Zelenskyy use?") < NEAR_DUPLICATE


def test_ids_are_unique_and_numbered():
    ids = [r["id"] for r in HELDOUT]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"h\d{3}", i) for i in ids), ids


def test_every_quote_is_verbatim_and_supports_the_answer():
    for r in HELDOUT:
        assert all(d in DOCS for d in r["doc_ids"]), r["id"]
        for quote in r["evidence"]:
            assert any(quote in DOCS[d].text for d in r["doc_ids"]), f"{r['id']}: evidence not verbatim: {quote!r}"
        for quote in r.get("near_miss", []):
            assert any(quote in d.text for d in DOCS.values()), f"{r['id']}: near_miss not verbatim: {quote!r}"
        if r["answerable"]:
            assert r["answers"] and r["evidence"], r["id"]
            assert metrics.alias_match(" ".join(r["evidence"]), r["answers"]), f"{r['id']}: no alias in its evidence"
        else:
            assert r["answers"] == [] and r["evidence"] == [] and r["doc_ids"] == [], r["id"]


def test_no_heldout_question_is_a_dev_question_reworded():
    dev = [(r["id"], q) for r in DEV for q in questions(r)]
    close = [(h["id"], q, d_id, d, round(jaccard(q, d), 2))
             for h in HELDOUT for q in questions(h) for d_id, d in dev if jaccard(q, d) >= NEAR_DUPLICATE]
    assert not close, close


def test_heldout_questions_are_not_repeated_within_the_set():
    rows = [(r["id"], r["question"]) for r in HELDOUT]
    close = [(a, b) for (a, qa), (b, qb) in combinations(rows, 2) if jaccard(qa, qb) >= NEAR_DUPLICATE]
    assert not close, close


def test_no_heldout_evidence_sentence_is_cited_by_the_dev_set():
    dev_sentences = set().union(*(evidence_sentences(r) for r in DEV))
    shared = {(r["id"], sentence_text(*s)) for r in HELDOUT for s in evidence_sentences(r) & dev_sentences}
    assert not shared, sorted(shared)
    for r in HELDOUT:
        if r["answerable"]:
            assert evidence_sentences(r), f"{r['id']}: evidence found in no sentence"


def test_the_mix_of_questions():
    unanswerable = sum(not r["answerable"] for r in HELDOUT)
    assert 0.20 <= unanswerable / len(HELDOUT) <= 0.35, (unanswerable, len(HELDOUT))
    assert len(HELDOUT) >= 50
    kinds = {r["kind"] for r in HELDOUT if not r["answerable"]}
    assert {"unanswerable_on_topic", "unanswerable_off_topic", "false_premise"} <= kinds
    conversations = [r for r in HELDOUT if r.get("history")]
    assert 6 <= len(conversations) <= 8 and all(1 <= len(r["history"]) <= 2 for r in conversations)
    assert sum(len(r["doc_ids"]) > 1 for r in HELDOUT) >= 2


@pytest.mark.parametrize("kind", ["fact", "paraphrase", "quote", "multi_doc", "multi_turn"])
def test_each_answerable_kind_is_present(kind):
    assert any(r["kind"] == kind and r["answerable"] for r in HELDOUT), kind
