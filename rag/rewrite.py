"""Turn a follow-up ("Where did he travel in late October?") into a standalone question.

A follow-up is detected by rules (pronouns that point back, "what about ...", very short questions).
The generator rewrites it when one is loaded; the rules below are the fallback and need no model:

    >>> rule_rewrite("When was he elected?", [("Who is Omar Haddad?", "He heads the city's port authority.")])
    'When was Omar Haddad elected?'
    >>> rule_rewrite("What about the European counterproposal?", [("What cap did the US draft propose?", "600,000 [1].")])
    'What cap did the US draft propose? What about the European counterproposal?'
"""

from __future__ import annotations

import re
from typing import Callable

from .prompt import CITE, NOT_FOUND
from .text import MONTHS, WEEKDAYS

PERSONAL = r"he|him|his|she|her|hers"
REFERRING = re.compile(rf"\b({PERSONAL}|they|them|their|it|its|this|that|these|those|there|the latter|the former)\b", re.I)
ELLIPSIS = re.compile(r"^\s*(and|what about|how about|and what about|what else|why|how so|anything else)\b", re.I)
_ENTITY = re.compile(r"(?:[A-Z][\w’'.-]*[a-z][\w’'-]*)(?:\s+(?:[A-Z][\w’'.-]*[a-z][\w’'-]*))*")
_SKIP = frozenset("What Which Who Whom Whose When Where Why How Did Does Do Is Are Was Were Has Have Had Can Could "
                  "Would Should Will The A An He She They It This That In On At According And But Also "
                  "President Senator Senate Representative Secretary Minister Prime Majority Minority Leader "
                  "Chief Former Mr Mrs Ms Dr".split())
_NOT_ENTITY = frozenset(w.capitalize() for w in MONTHS + WEEKDAYS)

REWRITE_SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the conversation: replace "
    "pronouns and vague references with the names or things they refer to. Keep the meaning. Reply with "
    "the rewritten question only."
)
REWRITE_EXAMPLES = [
    ("User: Who leads the city council?\nAssistant: Ana Ruiz leads the council [1].\nLast question: What did she say about fees?",
     "What did Ana Ruiz say about fees?"),
    ("User: How many permits did the council approve?\nAssistant: 4,500 permits [1].\nLast question: And what about the county?",
     "How many permits did the county approve?"),
]


def is_followup(question: str, history: list[tuple[str, str]] | None) -> bool:
    if not history:
        return False
    q = question.strip()
    if ELLIPSIS.match(q) or REFERRING.search(q):
        return True
    return len(q.split()) <= 3


def entities(text: str) -> list[str]:
    """Capitalised name sequences, in order: "Lena Brandt met Soto" -> ["Lena Brandt", "Soto"]."""
    out = []
    for m in _ENTITY.finditer(text):
        parts = m.group().split()
        while parts and parts[0] in _SKIP:
            parts = parts[1:]
        if not parts or parts[0] in _NOT_ENTITY:
            continue
        if len(parts) == 1 and parts[0].endswith(("ian", "ese", "ish")):
            continue  # "Russian", "Chinese": a nationality, not someone a pronoun points to
        name = " ".join(parts)
        name = name[:-2] if name.endswith(("’s", "'s")) else name
        if name and name not in out:
            out.append(name)
    return out


def rule_rewrite(question: str, history: list[tuple[str, str]]) -> str:
    """Replace a personal pronoun with the person the last turn was about; else prepend the last question."""
    last_q, last_a = history[-1]
    q = question.strip()
    pronoun = re.search(rf"\b({PERSONAL})\b", q, re.I)
    if pronoun and not ELLIPSIS.match(q):
        asked = entities(last_q)
        answered = entities(last_a)
        # "Who did the mayor pick ...?" -> the answer names the person; "Who is Omar Haddad?" -> the question does
        if re.match(r"\s*who\b", last_q, re.I) and answered and not re.match(r"\s*who (is|was)\b", last_q, re.I):
            target = answered[0]
        else:
            target = (asked or answered or [""])[0]
        if target:
            word = pronoun.group(1).lower()
            repl = f"{target}’s" if word in ("his", "hers") else target
            return q[:pronoun.start()] + repl + q[pronoun.end():]
    return f"{last_q.strip()} {q}"


def rewrite(question: str, history: list[tuple[str, str]] | None,
            complete: Callable[[list[dict]], str] | None = None) -> str:
    """The standalone question. `complete(messages) -> text` runs the generator, if there is one."""
    if not is_followup(question, history):
        return question.strip()
    history = list(history or [])[-2:]
    if complete is not None:
        convo = "\n".join(f"User: {u}\nAssistant: {_short(a)}" for u, a in history)
        messages = [{"role": "system", "content": REWRITE_SYSTEM}]
        for prompt, answer in REWRITE_EXAMPLES:
            messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        messages.append({"role": "user", "content": f"{convo}\nLast question: {question.strip()}"})
        candidate = complete(messages).strip().strip('"').splitlines()[0:1]
        if candidate and _plausible(candidate[0], question) and _changed(candidate[0], question):
            return candidate[0].strip()
    return rule_rewrite(question, history)


def _changed(candidate: str, question: str) -> bool:
    """A "rewrite" identical to the follow-up resolved nothing; the rules do better then."""
    norm = lambda t: " ".join(t.lower().split()).rstrip("?")
    return norm(candidate) != norm(question)


def _short(answer: str, limit: int = 300) -> str:
    answer = CITE.sub("", answer).strip()
    return answer if len(answer) <= limit else answer[:limit].rsplit(" ", 1)[0] + " …"


def _plausible(candidate: str, question: str) -> bool:
    c = candidate.strip()
    return 3 <= len(c.split()) <= len(question.split()) + 25 and not c.upper().startswith(NOT_FOUND)
