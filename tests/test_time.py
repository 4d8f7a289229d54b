"""Time-aware answers: questions' time expressions, dated passages, the newest report first for the
latest state, and nothing published after the question's date (fast tier: fakes)."""

from __future__ import annotations

import calendar
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


def _rates(tmp_path, as_of: str):
    """A running story: 35 near-identical monthly statements of a council's levy (2019-2021, one
    each month but March 2020), the levy changing every quarter; plus a statement of that
    March about something else."""
    from rag.config import Config

    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    for i in range(36):
        year, month = 2019 + i // 12, i % 12 + 1
        if (year, month) == (2020, 3):
            continue
        level = 2 + i // 3
        (corpus / f"levy-{year}-{month:02}.md").write_text(
            f"---\ntitle: Council statement\noutlet: Town Record\npublished: {year}-{month:02}-15\n---\n"
            f"The town council decided today to set its harbor levy at {level} percent. "
            f"The council will meet again in {calendar.month_name[month % 12 + 1]}.\n")
    (corpus / "parade.md").write_text(
        "---\ntitle: Parade route\noutlet: Town Record\npublished: 2020-03-15\n---\n"
        "The town council decided today on the route of the spring parade.\n")
    config = Config(corpus_dir=corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", gate="",
                    min_relevance=0.0, as_of=as_of)
    return RAG.load(config, embedder=HashEmbedder(), generator=ScriptedGenerator(reply))


@pytest.mark.parametrize("question", ["What is the town council's harbor levy?",
                                      "What is the latest harbor levy the town council has set?"])
def test_the_newest_of_many_near_identical_reports_leads_for_the_current_state(tmp_path, question):
    """35 statements say nearly the same words: the newest on or before the question's date must be
    among the passages and lead, though the plain top 10 chunks rank by words alone."""
    bot = _rates(tmp_path, "2020-08-20")
    found = bot.retrieve(question)
    days = [p.doc.published for p in found.passages]
    assert max(days) == "2020-08-15" and all(d <= "2020-08-20" for d in days), days
    ranked = sorted(found.passages, key=lambda p: -p.score)
    assert ranked[0].doc.published == "2020-08-15" and "8 percent" in ranked[0].text


def test_the_state_in_a_month_without_a_report_is_read_from_the_newest_report_before_it(tmp_path):
    """No levy statement in March 2020 (only the parade, about something else): the levy then is the
    one the February statement set, not one from any other month."""
    bot = _rates(tmp_path, "2021-06-30")
    found = bot.retrieve("What was the town council's harbor levy in March 2020?")
    ranked = sorted(found.passages, key=lambda p: -p.score)
    assert ranked[0].doc.published == "2020-02-15" and "6 percent" in ranked[0].text
    assert all(p.doc.published <= "2020-03-31" for p in found.passages)
    found = bot.retrieve("What was the town council's harbor levy in May 2020?")
    assert {p.doc.published for p in found.passages} == {"2020-05-15"}
