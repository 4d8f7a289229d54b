"""A small answer-quality gate with the real model, in CI: a fixed sample of our held-out set and of an
external test split (SQuAD 2.0, Normans), scored by each set's own rule.

The floors are the values measured on 2026-12-02 on the same samples (docs/results.md, "Answer accuracy") minus
a stated margin, so a change that makes answers or declines clearly worse fails CI.
"""

from __future__ import annotations

import pytest

from eval.run import Runner, load_items, resolve_set, score

pytestmark = pytest.mark.real

SAMPLE = 30  # questions per set, at an even stride (eval.run.load_items): the same ones every run
MARGIN = 0.20  # below the measured value: one to three questions of the sample, not noise-level flips
FLOORS = {  # set: (answerable right, declined right) measured on this sample, 2026-12-02 (eval/results/compare.json)
    "heldout": (0.48, 0.57),  # 11 of 23 answerable right, 4 of 7 unanswerable declined
    "squad-test": (0.67, 0.27),  # 10 of 15, 4 of 15
}


@pytest.fixture(scope="module")
def runner(tmp_path_factory, real_embedder, real_bot):
    r = Runner(tmp_path_factory.mktemp("quality"))
    r.embedders[real_bot.config.embedder] = real_embedder
    r.generators[Runner.generator_key(real_bot.config)] = real_bot.generator
    return r


@pytest.mark.parametrize("name", list(FLOORS))
def test_answer_quality_stays_above_its_floor(runner, real_bot, name):
    qs = resolve_set(name)
    config = real_bot.config.replace(corpus_dir=qs.corpus_dir) if qs.corpus_dir else real_bot.config
    bot = runner.bot(config)
    items = load_items(qs.path, SAMPLE)
    right = {True: [], False: []}
    for item in items:
        answer = bot.ask(item["question"], [tuple(t) for t in item.get("history") or []])
        right[item["answerable"]].append(score(item, answer.text, answer.abstained, qs.scoring)["correct"])
        for c in answer.citations:  # every citation quotes its article exactly
            assert bot.index.documents[c.doc_id].text[c.start:c.end] == c.quote
    answerable = sum(right[True]) / len(right[True])
    declined = sum(right[False]) / len(right[False])
    floor_a, floor_d = FLOORS[name]
    print(f"{name}: answerable right {answerable:.0%} (floor {floor_a - MARGIN:.0%}), "
          f"declined right {declined:.0%} (floor {floor_d - MARGIN:.0%}), {len(items)} questions")
    assert answerable >= floor_a - MARGIN, f"{name}: answerable right {answerable:.0%}"
    assert declined >= floor_d - MARGIN, f"{name}: declined right {declined:.0%}"
