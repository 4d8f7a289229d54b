"""Time in retrieval: which reports a question's time allows, and in what order they stand.

A question's time (rag/when.py reads it: a period, "latest", the present tense) changes which
candidates count. `hits_in_time` ranks a wider pool of chunks by it before the usual cut, so that the
newest of many near-identical reports of a running story is among them; `in_time` does the same for
the passages picked from those chunks; `oldest_first` orders the prompt's passages by date, newest
next to the question (FreshPrompt, Vu et al. 2023).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import weakref

import numpy as np

from .retrieve import Retrieval, query_terms
from .stores.base import Query
from .stores.index import Index
from .types import Hit
from .when import parse_day

# A time-bound question ranks TIME_POOL x top_chunks candidates by time before keeping top_chunks (the
# reports of one running story say nearly the same words, so the right date is rarely in the plain top 10);
# TIME_POOL, RELEVANT_SHARE and recency_weight were picked on temporal-dev (docs/results.md, 2026-12-02).
TIME_POOL = 50
# A report counts for a question's time (its period holds it, or it is the newest) when its score is at
# least this share of the best candidate's: a report from the right day about something else does not.
RELEVANT_SHARE = 0.5


def newest_day(index: Index):
    """The newest publication date in the index (None when nothing is dated)."""
    if index not in _NEWEST:
        _NEWEST[index] = max((d for d in (parse_day(doc.published) for doc in index.documents.values()) if d),
                             default=None)
    return _NEWEST[index]


_NEWEST: "weakref.WeakKeyDictionary[Index, dt.date | None]" = weakref.WeakKeyDictionary()


def time_bound(index: Index, sc, today) -> bool:
    """Whether the question's time (a period, "latest", or reports after its date) can change which
    candidates stand: only then is the wider pool ranked."""
    newest = newest_day(index)
    return newest is not None and (sc.dated or sc.latest or newest > today)


def by_time(items: list, day, score, sc, today, recency_weight: float) -> list[tuple[object, float]]:
    """(item, score) for the items (hits or passages) a question's time allows, best first.

    Never a report published after `today`. A question about a calendar period reads the reports
    within it when one of them is about the question (RELEVANT_SHARE of the best score); when none
    is but the story goes on after the period, the state then is the newest report before the period
    ends ("the rate in October 2000", a month without a report). A period dated by an event only
    sets "latest" ("since the summit"). A question about the latest state, or that fallback, puts
    newer reports first: among the relevant ones, the newest gains `recency_weight`, the next half of
    it, and so on."""
    rows = [(x, day(x), score(x)) for x in items]  # each item's date and score, read once
    kept = [r for r in rows if r[1] is None or r[1] <= today]
    latest = sc.latest
    if sc.dated and not sc.event and kept:
        top = max(s for _, _, s in kept)
        relevant = [d for _, d, s in kept if d is not None and s >= RELEVANT_SHARE * top]
        if any(sc.holds(d) for d in relevant):
            kept = [r for r in kept if r[1] is not None and sc.holds(r[1])]
        elif sc.end is not None and any(d > sc.end for d in relevant) and any(d <= sc.end for d in relevant):
            kept, latest = [r for r in kept if r[1] is None or r[1] <= sc.end], True
    if latest and recency_weight > 0 and kept:
        top = max(s for _, _, s in kept)
        days = sorted({d for _, d, s in kept if d is not None and s >= RELEVANT_SHARE * top}, reverse=True)
        rank = {d: i for i, d in enumerate(days)}
        kept = [(x, d, s + recency_weight * 0.5 ** rank[d] if d in rank else s) for x, d, s in kept]
    return [(x, s) for x, _, s in sorted(kept, key=lambda r: -r[2])]


def hits_in_time(index: Index, hits: list[Hit], sc, today, recency_weight: float, k: int) -> list[Hit]:
    """The k best chunks a question's time allows (by_time over the chunks' reports)."""
    def day(h):
        return parse_day(index.documents[h.chunk.doc_id].published)

    ranked = by_time(hits, day, lambda h: h.score, sc, today, recency_weight)
    return [dataclasses.replace(h, score=s) for h, s in ranked[:k]]


def in_time(found: Retrieval, sc, today, recency_weight: float) -> Retrieval:
    """The candidate passages a question's time allows (by_time), renumbered from 1."""
    ranked = by_time(found.passages, lambda p: parse_day(p.doc.published), lambda p: p.score, sc, today,
                     recency_weight)
    return dataclasses.replace(found, passages=[dataclasses.replace(p, n=i + 1, score=s)
                                                for i, (p, s) in enumerate(ranked)])


def oldest_first(found: Retrieval) -> Retrieval:
    """The passages in the order the prompt shows them: by their reports' dates, newest last (next
    to the question), undated ones first; the order of the same date is kept. Renumbered from 1."""
    keyed = [(parse_day(p.doc.published) or dt.date.min, i) for i, p in enumerate(found.passages)]
    if len({k for k, _ in keyed}) < 2:
        return found
    order = [i for _, i in sorted(keyed)]
    passages = [dataclasses.replace(found.passages[i], n=k + 1) for k, i in enumerate(order)]
    gate = tuple(found.gate[i] for i in order) if found.gate else ()
    return dataclasses.replace(found, passages=passages, gate=gate)


def event_date(index: Index, phrase: str):
    """The date of the report that matches an event's words best ("the harbor summit"), or None."""
    q = query_terms(index, phrase)
    if not q.all_index_terms():
        return None
    found = index.store.search(Query(tuple(q.all_index_terms()), None, 5, dense=False))
    if not found.rows or not found.lexical.max() > 0:
        return None
    best = found.rows[int(np.argmax(found.lexical))]
    return parse_day(index.documents[index.chunks[best].doc_id].published)
