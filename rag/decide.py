"""The two decisions of an answer: decline before generating, or settle what the model wrote.

`before` declines in milliseconds when the passages make a right answer too unlikely (the gate's
calibrated P(right) below its early threshold) or a kept rule says the question rests on something no
article has. `settle` checks the model's answer against its passages, takes a second look when the
model found nothing but the gate did, adds a conflicting figure from another article, and keeps the
answer only when its calibrated P(right) reaches the threshold for `max_risk`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

from . import when
from .config import Config
from .gate.calibrate import Decision, Signals
from .grounding import constraints as qc
from .grounding.conflict import conflict_note, conflict_phrase, find_conflict, measures
from .grounding.verify import Verdict, quoted_from, verify
from .prompt import CITE, build_extract_messages, is_refusal
from .retrieve import Retrieval
from .stores.index import Index
from .text import numbers, words
from .types import Answer, Citation, Passage

DECLINE = "The articles don't say."


def signals_before(found: Retrieval) -> Signals:
    return Signals(gate=[g.prob for g in found.gate], relevance=found.relevance)


def before(index: Index, question: str, found: Retrieval, absent: list, config: Config,
           decision: Decision | None, signals: Signals) -> tuple[str, str, float] | None:
    """(text, verdict, P(right) before generating) when the question is declined without generating."""
    rules = config.rule_set
    if decision is not None and found.gate and config.early_decline_loss > 0:
        p = decision.p_before(signals)
        t_early, _ = decision.thresholds(config.max_risk, config.early_decline_loss)
        if p < t_early:
            return (closest(found), f"declined before generating: P(right) {p:.2f} is below {t_early:.2f}", p)
    if "constraints" in rules and absent and found.passages:
        instead = [a for c in absent for a in qc.alternatives(c, [p.context for p in found.passages])]
        text = f"{DECLINE} Nothing I found is about {qc.describe(absent)}"
        text += f"; the passages mention {', '.join(instead)}." if instead else "."
        return text, f"declined: no passage keeps to {qc.describe(absent)}", 0.0
    foreign = sorted(n for n in numbers(question) if len(n) >= 2 and n not in index.numbers)
    if "numbers" in rules and foreign:
        return (f"{DECLINE} They never mention {foreign[0]}, so I can't answer a question built on it.",
                f"declined: the question's number {foreign[0]} is in no article", 0.0)
    if not found.passages:
        return DECLINE + " Nothing in them matches this question.", "declined: no passage found", 0.0
    if (decision is None or not found.gate) and found.relevance < config.min_relevance:  # no gate: retrieval's floor
        return (DECLINE + " Nothing in them matches this question.",
                f"declined: best passage relevance {found.relevance:.2f} is below {config.min_relevance:.2f}", 0.0)
    return None


def closest(found: Retrieval) -> str:
    """The decline a user gets before any generation: what the closest passage is about."""
    if not found.passages:
        return DECLINE + " Nothing in them matches this question."
    return DECLINE + " The closest passages found are listed with the sources."


def settle(answer: Answer, found: Retrieval, index: Index, config: Config, ask: Callable[[list], str],
           gate, decision: Decision | None, signals: Signals, scope: when.Scope | None = None) -> None:
    """Verify the raw answer; take a second look when the model found nothing; keep the answer (its
    citations repaired, dated when it can change, a conflicting figure added) when its calibrated
    P(right) reaches the threshold."""
    passages = found.passages
    rules = config.rule_set
    verdict = verify(answer.raw, passages, answer.standalone_question, rules)
    wants_second = not verdict.ok and config.second_look and _worth_second_look(found, config, decision, signals)
    if wants_second:
        t = time.perf_counter()
        second = second_look(answer.standalone_question, _by_gate(found), ask, rules, config.second_look_passages)
        answer.timings.second_look = time.perf_counter() - t
        if second is not None:
            verdict = second
    if not verdict.ok:
        answer.text = DECLINE
        if verdict.status == "failed":
            answer.text += " The model's answer could not be checked against the passages, so I won't guess."
        answer.verdict = f"declined: {verdict.reason}"
        return
    read_cited(signals, verdict, found, answer.standalone_question, gate)
    text, cited = verdict.text, list(verdict.cited)
    if decision is not None and found.gate:
        p = decision.p_after(signals)
        _, t_after = decision.thresholds(config.max_risk, config.early_decline_loss)
        answer.confidence, answer.threshold = p, t_after
        if p < t_after:
            answer.text, answer.candidate = DECLINE + " I found a possible answer, but not one I can stand behind.", text
            answer.verdict = f"declined: P(right) {p:.2f} is below {t_after:.2f} (max_risk {config.max_risk:g})"
            return
    # look for a disagreeing figure among the passages and the rest of the retrieved chunks
    candidates = passages + extra_passages(index, found.hits, passages)
    other = find_conflict(text, verdict.cited, candidates, answer.standalone_question)
    if other is not None:
        if other.n == 0:  # from the retrieved chunks: show it as the next numbered passage
            other = dataclasses.replace(other, n=len(passages) + 1)
            passages = answer.passages = passages + [other]
        text, cited = timeline(text, cited, other, passages, answer.standalone_question, ask, rules, scope)
    text = dated(text, [p for p in passages if p.n in cited[:1]], answer.standalone_question)
    answer.text, answer.abstained = text, False
    answer.citations = [Citation.from_passage(p) for n in cited for p in passages if p.n == n]
    answer.verdict = verdict.status + (f": {verdict.reason}" if verdict.reason else "")


def timeline(text: str, cited: list[int], other: Passage, passages: list[Passage], question: str,
             ask: Callable[[list], str], rules: frozenset, scope: when.Scope | None) -> tuple[str, list[int]]:
    """The answer with a report that gives another figure: for a question about the latest state,
    when that report is newer, the answer is read from it and the older figure is said to have come
    before; otherwise the other report is noted, said to be later or earlier where both are dated."""
    mine = next((p for p in passages if p.n in cited), None)
    day_mine = when.parse_day(mine.doc.published) if mine else None
    day_other = when.parse_day(other.doc.published)
    families = {fam for _, fam, _ in measures(text)}
    newer = day_mine is not None and day_other is not None and day_other > day_mine
    if newer and scope is not None and scope.latest:
        second = second_look(question, [other], ask, rules, 1)
        if second is not None:
            before = conflict_phrase(mine, families)
            was = f" Before that, {mine.doc.outlet or mine.doc.title} ({when.spelled(day_mine)}) gave “{before}” [{mine.n}]."
            return second.text + (was if before else ""), [other.n] + cited
    order = "later" if newer else "earlier" if day_mine and day_other and day_other < day_mine else ""
    return text + " " + conflict_note(other, families, order), cited + [other.n]


def dated(text: str, cited: list[Passage], question: str) -> str:
    """ "As of Nov. 26, 2025, the plan had 19 points [2]." when the question asks about something that
    can change and the cited report is dated; the text as it is otherwise."""
    days = [d for d in (when.parse_day(p.doc.published) for p in cited) if d]
    if not days or not when.asks_current_state(question, text) or text.startswith("As of"):
        return text
    first, _, rest = text.partition(" ")
    if first in ("The", "A", "An", "It", "Its", "There", "This", "That", "These", "Those", "Their", "His", "Her"):
        first = first.lower()
    return f"As of {when.spelled(max(days))}, {first} {rest}".rstrip()


def _worth_second_look(found: Retrieval, config: Config, decision: Decision | None, signals: Signals) -> bool:
    """A second look is taken when a passage answers the question as far as the gate can tell (its
    P(right) before generating reaches the answer threshold), or, without a gate, when retrieval
    matched the question well. With max_risk 1 (nothing declined on purpose: the eval and the
    calibration) it is always taken, so that every question shows what it would give."""
    if config.max_risk >= 1.0:
        return True
    if decision is not None and found.gate:
        _, t_after = decision.thresholds(config.max_risk, config.early_decline_loss)
        return decision.p_before(signals) >= t_after
    return found.relevance >= config.second_look_relevance


def _by_gate(found: Retrieval) -> list[Passage]:
    """The passages, the gate's best first (retrieval's order without a gate)."""
    if not found.gate:
        return found.passages
    order = sorted(range(len(found.passages)), key=lambda i: -found.gate[i].prob)
    return [found.passages[i] for i in order]


def second_look(question: str, passages: list[Passage], ask: Callable[[list], str], rules: frozenset,
                count: int) -> Verdict | None:
    """Ask again, narrower: one passage at a time, "copy the words that answer". A copied span that
    verifies stands; the model's own words are never trusted more."""
    for p in passages[:count]:
        raw = ask(build_extract_messages(p, question)).strip()
        span = CITE.sub("", raw).strip().strip('"“”').rstrip(".")
        if is_refusal(span) or not quoted_from(span, p.text):
            continue
        verdict = verify(f"{span} [{p.n}].", passages, question, rules)
        if verdict.ok:
            return dataclasses.replace(verdict, status="rescued", reason=f"second look at passage {p.n}")
    return None


def read_cited(signals: Signals, verdict: Verdict, found: Retrieval, question: str, gate) -> None:
    """The gate's reading of what the answer cites: its score for the cited passage, and how far the
    answer's words agree with the span the gate itself picks there."""
    signals.verified = verdict.status in ("verified", "repaired", "rescued")
    signals.rescued = verdict.status == "rescued"
    if not found.gate:
        return
    by_n = {p.n: (p, g) for p, g in zip(found.passages, found.gate)}
    cited = [by_n[n] for n in verdict.cited if n in by_n]
    if not cited:
        return
    signals.cited_gate = max(g.prob for _, g in cited)
    answer_words = words(CITE.sub("", verdict.text))
    signals.span_agree = max(_f1(answer_words, words(g.span)) for _, g in cited)


def _f1(a: list[str], b: list[str]) -> float:
    """Token F1 of two word lists; a gate span wholly inside the answer counts as full agreement."""
    if not a or not b:
        return 0.0
    common = sum(min(a.count(w), b.count(w)) for w in set(b))
    if common == len(b):
        return 1.0
    p, r = common / len(a), common / len(b)
    return 0.0 if common == 0 else 2 * p * r / (p + r)


def extra_passages(index: Index, hits, shown: list[Passage]) -> list[Passage]:
    """Sentences of the retrieved chunks that are not shown already, as unnumbered (n=0) passages."""
    taken = {(p.doc.id, p.sentence_start) for p in shown}
    out, seen = [], set()
    for hit in hits:
        doc = index.documents[hit.chunk.doc_id]
        for a, b in hit.chunk.sentences:
            key = (doc.id, a)
            if key not in taken and key not in seen:
                seen.add(key)
                out.append(Passage(0, doc, hit.chunk.id, a, b, hit.score, a, b))
    return out
