"""The answer gate and the calibrated decision: fast tests with a deterministic FakeGate (mechanics)
and the committed gate itself (behaviour on questions it never saw)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from rag import RAG
from rag.gate.calibrate import AFTER, BEFORE, Calibrator, Decision, Signals, features, risk_coverage

from .conftest import FakeGate, HashEmbedder, ScriptedGenerator, fake_decision

ARTICLE = """---
title: Zorvik goes solar
outlet: Valley Courier
published: 2026-03-02
---
The town of Zorvik installed 1,200 solar panels on public buildings last year.

Mayor Ilse Marek said the panels would cut the town's power bills by a third.

The neighbouring village of Brennow voted against a similar plan in May.
"""


@pytest.fixture
def gated(tmp_path):
    from rag.config import Config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "zorvik.md").write_text(ARTICLE)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache",
                    gate="fake", min_relevance=0.0, max_risk=0.05)
    gen = ScriptedGenerator(lambda passages, q: _cite(passages, "1,200", "Zorvik installed 1,200 solar panels"))
    return RAG.load(config, embedder=HashEmbedder(), generator=gen, gate=FakeGate()), gen


def _cite(passages: str, needle: str, sentence: str) -> str:
    for line in passages.splitlines():
        if needle in line:
            return f"{sentence} [{line[1:line.index(']')]}]."
    return "NOT FOUND"


def test_a_swapped_entity_question_is_declined_by_the_gate_before_generating(gated):
    """The question names a town no passage has ("Brennow" holds no panels; "Kastel" is in no article):
    the gate gives every passage 0.1, so P(right) is below the early threshold and the model is never
    asked, although it would have answered "1,200" with a citation."""
    bot, gen = gated
    answer = bot.ask("How many solar panels did Kastel install last year?")
    assert answer.abstained and "before generating" in answer.verdict
    assert gen.calls == [] and answer.timings.prompt_eval == 0.0
    assert answer.confidence < 0.5 and answer.passages  # the closest passages are still shown


def test_a_paraphrased_answerable_question_is_kept(gated):
    bot, gen = gated
    answer = bot.ask("How many panels did Zorvik put up on its public buildings?")
    assert not answer.abstained, answer.verdict
    assert "1,200" in answer.text and answer.citations[0].quote.startswith("The town of Zorvik")
    assert answer.confidence >= answer.threshold and answer.signals["cited_gate"] == pytest.approx(0.9)


def test_the_gate_ranks_the_answering_passage_first(gated):
    bot, _ = gated
    found = bot.retrieve("How many panels did Zorvik put up on its public buildings?")
    assert "1,200" in found.passages[0].text and found.gate[0].prob == pytest.approx(0.9)
    assert [p.n for p in found.passages] == list(range(1, len(found.passages) + 1))


def test_the_threshold_moves_with_max_risk(gated):
    """An answer citing a passage the gate doubts (0.1: the passage says May, the question June):
    declined at max_risk 0.05, given at 0.5 (early declines off, so the model writes both times)."""
    bot, gen = gated
    gen.reply = lambda passages, q: _cite(passages, "Brennow", "Brennow voted against a similar plan")
    question = "Which village voted against the plan in June?"
    d = fake_decision()
    assert d.thresholds(0.05, 0.0)[1] > d.thresholds(0.2, 0.0)[1] > d.thresholds(0.5, 0.0)[1]
    bot.config = bot.config.replace(early_decline_loss=0.0, rules="none")
    strict = bot.ask(question)
    bot.config = bot.config.replace(max_risk=0.5)
    lenient = bot.ask(question)
    assert strict.abstained and "P(right)" in strict.verdict and "Brennow" in strict.candidate
    assert not lenient.abstained and "Brennow" in lenient.text
    assert strict.confidence == pytest.approx(lenient.confidence) and lenient.threshold < strict.threshold


def test_the_calibrated_probability_is_a_probability_that_rises_with_the_gate_score():
    rng = random.Random(0)
    rows, labels = [], []
    for _ in range(400):
        g = rng.random()
        s = Signals(gate=[g, rng.random() * g], relevance=rng.random(), cited_gate=g, span_agree=rng.random(),
                    refusal_prob=rng.random(), answer_logprob=-rng.random())
        rows.append(features(s, AFTER))
        labels.append(int(rng.random() < g))  # right more often when the gate is surer
    c = Calibrator.fit(rows, labels, AFTER)
    probs = [c.probability(features(Signals(gate=[g, g / 2], relevance=0.5, cited_gate=g, span_agree=0.5,
                                            refusal_prob=0.2, answer_logprob=-0.3), AFTER))
             for g in np.linspace(0.02, 0.98, 25)]
    assert all(0.0 < p < 1.0 for p in probs)
    assert all(b > a for a, b in zip(probs, probs[1:]))
    # calibrated: on its own data, the mean probability is close to the share of right answers
    mean_p = np.mean([c.probability(x) for x in rows])
    assert abs(mean_p - np.mean(labels)) < 0.03


def test_risk_coverage_and_thresholds_by_risk():
    r = risk_coverage([0.9, 0.8, 0.7, 0.6, 0.1], [1, 1, 0, 1, 0], total=10)
    assert r["coverage"][-1] == 0.5 and r["coverage@5%"] == 0.2 and r["risk"][2] == pytest.approx(0.333)
    before = Calibrator(("gate_top",), [1.0], 0.0, [0.0], [1.0])
    d = Decision(before, before, rows=[(0.9, 0.9, 1), (0.8, 0.8, 1), (0.7, 0.7, 0), (0.6, 0.6, 1), (0.2, -1, 0)])
    assert d.thresholds(0.0, 0.0) == (0.0, 0.8)
    assert d.thresholds(0.25, 0.0)[1] == 0.6
    t_early, t_after = d.thresholds(0.25, 0.34)  # may lose one of the three right answers
    assert t_after == 0.6 and t_early == 0.8


def test_features_are_finite_for_any_signals():
    for s in (Signals(), Signals(gate=[1.0], cited_gate=1.0, refusal_prob=0.0, answer_logprob=-50.0)):
        assert all(math.isfinite(x) for x in features(s, AFTER)) and len(features(s, BEFORE)) == len(BEFORE)


def test_the_fitted_decision_keeps_out_of_fold_probabilities_for_its_thresholds():
    """eval.calibrate.fit: each kept row is scored by models that never saw it, so a row's stored
    probability differs from the final model's, and a clean separation still yields a usable threshold."""
    import random

    from eval.calibrate import fit

    rng = random.Random(7)
    rows = []
    for i in range(120):
        right = i % 3 != 0
        top = rng.uniform(0.6, 0.99) if right else rng.uniform(0.01, 0.5)
        sig = Signals(gate=[top, top / 2], relevance=rng.random(), cited_gate=top, span_agree=float(right),
                      refusal_prob=0.1, answer_logprob=-0.5)
        rows.append({"set": "s", "id": str(i), "answerable": right, "given": True, "right": right,
                     "signals": sig.to_dict()})
    d = fit(rows)
    in_sample = [round(d.p_after(Signals(**r["signals"])), 5) for r in rows]
    assert len(d.rows) == len(rows) and [pa for _, pa, _ in d.rows] != in_sample
    assert all(0.0 <= pb <= 1.0 and 0.0 <= pa <= 1.0 for pb, pa, _ in d.rows)
    _, t_after = d.thresholds(0.05, 0.0)
    kept = [r for _, pa, r in d.rows if pa >= t_after]
    assert kept and sum(1 - r for r in kept) / len(kept) <= 0.05
