"""Time-aware answers: questions' time expressions, dated passages, the newest report first for the
latest state, and nothing published after the question's date (fast tier: fakes)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from rag import RAG
from rag.when import asks_current_state, scope, spelled

from .conftest import HashEmbedder, ScriptedGenerator

D = dt.date


@pytest.mark.parametrize("question, start, end, latest", [
    ("What happened yesterday?", D(2025, 11, 29), D(2025, 11, 29), False),
    ("What happened last week?", D(2025, 11, 17), D(2025, 11, 23), False),
    ("What was said this month?", D(2025, 11, 1), D(2025, 11, 30), False),
    ("What did the talks look like in mid-October?", D(2025, 10, 11), D(2025, 10, 20), False),
    ("What did they agree in October 2025?", D(2025, 10, 1), D(2025, 10, 31), False),
    ("What was agreed on Nov. 26?", D(2025, 11, 26), D(2025, 11, 26), False),
    ("What happened in late September?", D(2025, 9, 21), D(2025, 9, 30), False),
    ("Who won the vote in 2019?", D(2019, 1, 1), D(2019, 12, 31), False),
    ("What has happened since November 20?", D(2025, 11, 20), D(2025, 11, 30), True),
    ("What happened before Nov. 1, 2025?", None, D(2025, 10, 31), False),
    ("What is the latest on the plan?", None, None, True),
    ("Is the port still closed?", None, None, True),
    ("Which may be true?", None, None, False),  # "may" the verb is no month
])
def test_time_expressions_resolve_against_the_questions_date(question, start, end, latest):
    s = scope(question, D(2025, 11, 30))
    assert (s.start, s.end, s.latest) == (start, end, latest)


def test_an_event_is_dated_by_the_caller_and_a_february_question_about_october_means_last_year():
    s = scope("What changed since the harbor summit?", D(2025, 11, 30), event=lambda phrase: D(2025, 10, 20))
    assert (s.start, s.end, s.latest) == (D(2025, 10, 20), D(2025, 11, 30), True)
    assert scope("What happened in October?", D(2026, 2, 3)).start == D(2025, 10, 1)
    assert spelled(D(2025, 11, 26)) == "Nov. 26, 2025" and spelled(D(2025, 3, 2)) == "March 2, 2025"
    assert asks_current_state("How many points does the plan have?", "19 points [2].")
    assert not asks_current_state("How many points did the first plan have?", "28 points [1].")


OLD = """---
title: Harbor plan unveiled
outlet: Harbor Gazette
published: 2025-10-14
---
The port authority unveiled a 28-point plan for the harbor on Monday.

Officials said the plan would take five years.
"""
NEW = """---
title: Harbor plan trimmed after talks
outlet: Coast Daily
published: 2025-11-26
---
After two weeks of talks, the port authority trimmed the harbor plan to 19 points.

The dredging was left out of the plan.
"""
LATER = """---
title: Harbor plan cut again
outlet: Coast Daily
published: 2025-12-10
---
The port authority cut the harbor plan to 12 points on Wednesday.
"""


def reply(passages: str, question: str) -> str:
    """A fake model: for the answer prompt, quotes the first passage that has a "N-point"/"N points"
    figure (the oldest shown: a careless reader); for the second look, copies the passage's figure."""
    if passages.startswith("Passage:"):
        m = re.search(r"\d+(?:-point| points)", passages)
        return m.group() if m else "NOT FOUND"
    for line in passages.splitlines():
        m = re.match(r"\[(\d+)\] (?:\([^()]*\) )?(.*\d+(?:-point| points).*)$", line)
        if m:
            return f"{m.group(2)} [{m.group(1)}]"
    return "NOT FOUND"


@pytest.fixture
def harbor(tmp_path):
    from rag.config import Config

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in (("old", OLD), ("new", NEW), ("later", LATER)):
        (corpus / f"{name}.md").write_text(text)
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", gate="",
                    min_relevance=0.0, as_of="2025-11-30")
    gen = ScriptedGenerator(reply)
    return RAG.load(config, embedder=HashEmbedder(), generator=gen), gen


def test_the_latest_state_comes_from_the_newest_report_and_says_when_it_was_true(harbor):
    """The model quotes the October plan (28 points); the newer report (19 points) is read again and
    stands as the answer, dated, with the older figure said to have come before. The December report
    is after the question's date and is never shown."""
    bot, gen = harbor
    answer = bot.ask("How many points does the harbor plan have now?")
    assert not answer.abstained, answer.verdict
    assert answer.text.startswith("As of Nov. 26, 2025,") and "19 points" in answer.text
    assert "Before that" in answer.text and "28-point" in answer.text
    assert answer.citations[0].published == "2025-11-26"
    assert all(p.doc.published <= "2025-11-30" for p in answer.passages)
    assert "12 points" not in answer.text


def test_passages_are_shown_oldest_first_with_their_date_and_outlet_and_todays_date(harbor):
    bot, gen = harbor
    bot.ask("How many points does the harbor plan have now?")
    prompt = gen.calls[0][-1]["content"]
    lines = [l for l in prompt.splitlines() if l.startswith("[")]
    assert lines[0].startswith("[1] (Oct. 14, 2025, Harbor Gazette)")
    assert lines[-1].startswith(f"[{len(lines)}] (Nov. 26, 2025, Coast Daily)")  # the newest next to the question
    assert "Today is Nov. 30, 2025." in prompt


def test_a_question_about_a_period_reads_only_that_periods_reports(harbor):
    bot, _ = harbor
    found = bot.retrieve("What did the port authority unveil in mid-October?")
    assert found.passages and {p.doc.published for p in found.passages} == {"2025-10-14"}


def test_nothing_published_after_the_questions_date_is_used(harbor):
    bot, _ = harbor
    bot.config = bot.config.replace(as_of="2025-12-31")
    answer = bot.ask("How many points does the harbor plan have now?")
    assert "12 points" in answer.text and answer.text.startswith("As of Dec. 10, 2025,")
    bot.config = bot.config.replace(as_of="2025-10-20")
    found = bot.retrieve("How many points does the harbor plan have now?")
    assert {p.doc.published for p in found.passages} == {"2025-10-14"}
