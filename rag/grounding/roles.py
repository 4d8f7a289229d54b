"""Who did what to whom: an answer must give each person the role its passage gives them.

Names and words that occur in the passage are not enough: "Ann Lee gave Bo Chen a medal" and
"Bo Chen gave Ann Lee a medal" share every word. For each verb the answer puts after a name
(its doer), the passage is read the same way, passives included ("led by X" makes X the doer):
when the passage gives that verb a doer, and never the answer's, the answer has swapped or
misplaced a role. Pronoun doers ("he said") are unknown, and an unknown never rejects.

    >>> role_conflict("Ann Lee gave Bo Chen a medal.", "Bo Chen gave Ann Lee a medal on Monday.")
    'the passage says Bo Chen gave, not Ann Lee'
    >>> role_conflict("The team was led by Ann Lee.", "The team, led by Ann Lee, included Bo Chen.")
    ''
    >>> role_conflict("Bo Chen led the team.", "The team, led by Ann Lee, included Bo Chen.")
    'the passage says Ann Lee led, not Bo Chen'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text import IRREGULAR, STOPWORDS, normalize, stem

# Words that tie a verb to its doer in a passive ("led by", "was given to X by Y").
_PASSIVE_AUX = frozenset("was were is are been being be get got gets".split())
_TOKEN = re.compile(r"[A-Za-z][\w'’-]*|\d[\d,.]*|[.;:!?\"“”]")
_CLAUSE_END = frozenset('.;:!?"“”')
SPEECH = frozenset(stem(w) for w in "say tell add warn declar describ announc claim insist write state".split())
# Words that may stand between a doer and its verb: "Ann Lee has also met ...".
_BETWEEN = frozenset("""has have had would will could should may might must can also then later reportedly
already again not never just only still once previously recently first""".split()) | _PASSIVE_AUX


@dataclass(frozen=True)
class Token:
    text: str
    lower: str
    name: int  # index of the name group this token belongs to, -1 if none


def _tokens(text: str) -> tuple[list[Token], list[frozenset[str]]]:
    """Tokens, and the name groups (capitalised runs, as sets of lower-case words)."""
    raw = _TOKEN.findall(normalize(text))
    out: list[Token] = []
    groups: list[frozenset[str]] = []
    i = 0
    while i < len(raw):
        w = raw[i]
        starts_clause = i == 0 or raw[i - 1] in _CLAUSE_END
        if w[0].isupper() and len(w) > 1 and not (starts_clause and w.lower() in STOPWORDS):
            j = i
            while j < len(raw) and raw[j][0].isupper() and len(raw[j]) > 1:
                j += 1
            parts = [re.sub(r"['’]s$", "", p).lower() for p in raw[i:j]]
            group = frozenset(p for p in parts if p not in STOPWORDS and len(p) > 1)
            if group:
                groups.append(group)
                out += [Token(p, p.lower(), len(groups) - 1) for p in raw[i:j]]
                i = j
                continue
        out.append(Token(w, w.lower(), -1))
        i += 1
    return out, groups


def verb_key(word: str) -> str:
    w = word.lower()
    return stem(IRREGULAR.get(w, w))


@dataclass(frozen=True)
class Role:
    verb: str  # verb_key of the verb
    verb_text: str
    doer: frozenset[str] | None  # the name group doing it; None when unknown (a pronoun, nothing)


def roles(text: str) -> list[Role]:
    """Every non-name word with the name that does it: the name just before it (active), or the
    name after "by" (passive). Words with no name near them get doer None."""
    toks, groups = _tokens(text)
    out = []
    for i, t in enumerate(toks):
        if t.name >= 0 or not t.text[0].isalpha() or t.lower in STOPWORDS and verb_key(t.lower) not in SPEECH:
            continue
        doer = None
        by = next((k for k in range(i + 1, min(i + 3, len(toks))) if toks[k].lower == "by"), None)
        if by is not None and by + 1 < len(toks) and toks[by + 1].name >= 0:
            doer = groups[toks[by + 1].name] if toks[by].lower != "the" else None
        else:
            k = i - 1
            while k >= 0 and toks[k].lower in _BETWEEN:  # "Ann Lee has also met ..."
                k -= 1
            if k >= 0 and toks[k].name >= 0 and not (k < i - 1 and toks[k + 1].lower in _PASSIVE_AUX):
                doer = _doer(toks, groups, k)
            if doer is None:  # "..., said Ann Lee": a speech verb whose doer follows it
                if verb_key(t.lower) in SPEECH and i + 1 < len(toks) and toks[i + 1].name >= 0:
                    doer = groups[toks[i + 1].name]
        out.append(Role(verb_key(t.lower), t.text, doer))
    return out


def _doer(toks: list[Token], groups: list[frozenset[str]], k: int) -> frozenset[str] | None:
    """The name group ending at token k, joined with the names coordinated before it ("Ann and Bo
    met"); None for "the Republican", "the President": a description, not a name."""
    g = toks[k].name
    start = k
    while start > 0 and toks[start - 1].name == g:
        start -= 1
    if start > 0 and toks[start - 1].lower in ("the", "a", "an"):
        return None
    doer = groups[g]
    if start >= 2 and toks[start - 1].lower in ("and", "&", ",") and toks[start - 2].name >= 0:
        other = _doer(toks, groups, start - 2)
        doer = doer | other if other else doer
    return doer


def _same(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a & b)


def role_conflict(answer: str, passage: str) -> str:
    """'' when the answer's doers agree with the passage's, else what the passage says instead."""
    by_verb: dict[str, list[Role]] = {}
    for r in roles(passage):
        by_verb.setdefault(r.verb, []).append(r)
    for r in roles(answer):
        if r.doer is None or r.verb not in by_verb:
            continue
        there = by_verb[r.verb]
        if any(p.doer is None or _same(p.doer, r.doer) for p in there):
            continue  # the passage gives this verb to the same person, or to someone it does not name
        other = " ".join(w.title() for w in sorted(there[0].doer, key=lambda w: passage.lower().find(w)))
        mine = " ".join(w.title() for w in sorted(r.doer, key=lambda w: answer.lower().find(w)))
        return f"the passage says {other} {there[0].verb_text}, not {mine}"
    return ""


def question_role(question: str, answer_names: list[frozenset[str]]) -> str:
    """For "Who <verb> ...?" and a bare-name answer, the sentence the answer asserts: "Ann Lee <verb> ..."."""
    m = re.match(r"\s*who\s+(?!(?:is|was|are|were|did|does|do|has|have|had|will|would|can|could)\b)(\w+)(.*)",
                 question, re.I)
    if not m or not answer_names:
        return ""
    name = " ".join(w.title() for w in sorted(answer_names[0]))
    return f"{name} {m.group(1)}{m.group(2)}"
