"""What a question pins down, and whether a passage keeps to it.

A question's constraints are the details any right answer must be about: years, dates, ordinals,
quantities, qualifiers ("men's", "Q2", "season 3") and named entities. A small model happily glues
the question's year onto a neighbouring fact; an answer stands only when its cited passage, read
in its context (its paragraph, its article's title and date), holds every one of them. All of it
is derived from the question and the text, never from word lists about particular articles.

    >>> [(c.kind, c.text) for c in constraints("Who won the men's singles title at Wimbledon in 2018?")]
    [('year', '2018'), ('qualifier', "men's"), ('entity', 'Wimbledon')]
    >>> c = constraints("What was revenue in Q2 2024?")
    >>> [x.text for x in missing(c, "Revenue in the second quarter of 2024 was $3 billion.")]
    []
    >>> [x.text for x in missing(c, "Revenue in the third quarter of 2024 was $3 billion.")]
    ['Q2']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..text import CARDINALS as _CARDINALS, MONTHS, ORDINALS, STOPWORDS, WEEKDAYS, close_words, normalize, numbers, words

MONTH_FORMS = {m: (m, m[:3]) + (("sept",) if m == "september" else ()) for m in MONTHS}
CARDINALS = _CARDINALS[1:13]  # one .. twelve: CARDINALS[n - 1] is n
# Words an ordinal may stand for in a text: "the first draft" is "the initial draft".
ORDINAL_SYNONYMS = {"first": ("initial", "original", "earliest", "inaugural", "debut", "opening"),
                    "last": ("final", "latest")}
# Qualifiers that split one kind of event into several: the men's and the women's final.
GENDERED = {"men": ("men", "mens", "male"), "women": ("women", "womens", "female", "ladies"),
            "boys": ("boys", "boy"), "girls": ("girls", "girl")}
_QUESTION_START = frozenset("""what which who whom whose when where why how did does do is are was were has have had
can could would should will the a an in on at according and but also if list name give tell""".split())
# Capitalised words that are not names in a question: titles and generic words.
NOT_ENTITY = frozenset("""i the a an he she it they we you his her its their this that these those there
mr mrs ms dr president prime minister secretary senator leader chief ceo chairman king queen
according article articles report reports story news passage passages""".split()) | \
    frozenset(f for forms in MONTH_FORMS.values() for f in forms) | frozenset(WEEKDAYS)
_ENTITY = re.compile(r"[A-Z][\w'’.&-]*(?:\s+(?:of|de|la|van|von|the|and|&)?\s*[A-Z][\w'’.&-]*)*")


@dataclass(frozen=True)
class Constraint:
    """One detail of the question. `forms` are word sequences (rag.text.words), any of which in the
    evidence satisfies it; `near` is how far apart (in words) a sequence's words may be."""

    kind: str  # year | date | ordinal | number | qualifier | entity
    text: str  # as the question says it
    forms: tuple[tuple[str, ...], ...]
    near: int = 3

    def found_in(self, view: "View") -> bool:
        if self.kind == "number":
            return any(f[0] in view.numbers for f in self.forms)
        if self.kind == "entity":
            # a name is there when its longest word is (misspellings and prefixes allowed:
            # "Brandtt" finds "Brandt", "Congress" finds "congresswoman")
            key = max(self.forms[0], key=len)
            return _fuzzy_in(key, view.vocab) or (len(key) >= 5 and any(t.startswith(key) for t in view.vocab))
        return any(_sequence_in(form, view, self.near) for form in self.forms)


@dataclass(frozen=True)
class View:
    """A text as the matcher sees it: its words in order, where each occurs, its numbers."""

    tokens: tuple[str, ...]
    positions: dict
    numbers: frozenset
    vocab: frozenset


@lru_cache(maxsize=1024)
def view(text: str) -> View:
    tokens = tuple(_unsuffix(w) for w in words(text))
    positions: dict[str, list[int]] = {}
    for i, t in enumerate(tokens):
        positions.setdefault(t, []).append(i)
    nums = frozenset(numbers(text)) | frozenset(str(CARDINALS.index(t) + 1) for t in tokens if t in CARDINALS)
    return View(tokens, positions, nums, frozenset(tokens))


def _unsuffix(token: str) -> str:
    """ "21st" -> "21", so "November 21st" and "Nov. 21" match."""
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)", token)
    return m.group(1) if m else token


def _sequence_in(form: tuple[str, ...], v: View, near: int) -> bool:
    """All words of `form`, in any order, within `near` words of the first one."""
    for i in v.positions.get(form[0], ()):
        if all(any(abs(j - i) <= near for j in v.positions.get(w, ())) for w in form[1:]):
            return True
    return False


def _fuzzy_in(token: str, vocab: frozenset) -> bool:
    if token in vocab or token.rstrip("s") in vocab or token + "s" in vocab:
        return True
    if len(token) < 5:
        return False
    return bool(close_words(token, vocab, limit=1))


def constraints(question: str) -> list[Constraint]:
    """The details a right answer must keep to, in a stable order (time, qualifiers, numbers, entities)."""
    q = normalize(question)
    out: list[Constraint] = []
    used: set[str] = set()  # numbers already accounted for (a year, a date's day, "season 3")
    for m in re.finditer(r"\b(1[5-9]\d\d|20\d\d)(s?)\b", q):
        out.append(Constraint("year", m.group(), ((m.group(1) + m.group(2),),)))
        used.add(m.group(1))
    month_alt = "|".join(sorted({f for forms in MONTH_FORMS.values() for f in forms}, key=len, reverse=True))
    for m in re.finditer(rf"\b(?:({month_alt})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({month_alt})\b)",
                         q, re.I):
        parsed = parse_date(m.group())
        if parsed is not None:
            month, day = MONTHS[parsed.month - 1], str(parsed.day)
            out.append(Constraint("date", m.group(), tuple((f, day) for f in MONTH_FORMS[month])))
            used.add(day)
    for m in re.finditer(r"\bq([1-4])\b|\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter\b", q, re.I):
        n = int(m.group(1)) if m.group(1) else _ordinal_value(m.group(2))
        forms = ((f"q{n}",), (ORDINALS[n - 1], "quarter"), (str(n), "quarter"))
        out.append(Constraint("qualifier", m.group(), forms, near=2))
        used.add(str(n))
    for m in re.finditer(r"\b([a-z]{3,})\s+(\d{1,3})\b(?![,.]?\d)", q):  # "season 3", "game 7", "round 2"
        noun, n = m.group(1), int(m.group(2))
        if noun in _QUESTION_START or noun in MONTHS or not 0 < n <= 12 or str(n) in used:
            continue
        forms = ((noun, str(n)), (noun, CARDINALS[n - 1]), (ORDINALS[n - 1], noun))
        out.append(Constraint("qualifier", m.group(), forms, near=2))
        used.add(str(n))
    for m in re.finditer(r"\b(men|women|boys|girls)(?:'s|s')?(?=\W)", q, re.I):
        out.append(Constraint("qualifier", m.group(), tuple((f,) for f in GENDERED[m.group(1).lower()])))
    taken_ordinals = {c.text.split()[0].lower() for c in out if c.kind == "qualifier"}
    ordinal_alt = "|".join(list(ORDINALS) + ["last"]) + r"|\d{1,2}(?:st|nd|rd|th)"
    # an ordinal that qualifies something ("the third round", "his sixth trip"), not "who first said"
    for w in re.findall(rf"(?:\b(?:the|a|an|his|her|its|their|our|this|that)|['’]s)\s+({ordinal_alt})\b", q, re.I):
        w = w.lower()
        if w in taken_ordinals:
            continue
        n = _ordinal_value(w)
        forms = [(w,)] if w == "last" else [(ORDINALS[n - 1],), (str(n),)]
        forms += [(s,) for s in ORDINAL_SYNONYMS.get(ORDINALS[n - 1] if n else w, ())]
        out.append(Constraint("ordinal", w, tuple(forms)))
        if n:
            used.add(str(n))
    for n in sorted(numbers(q)):
        if n not in used and n.replace(".", "").isdigit():
            out.append(Constraint("number", n, ((n,),)))
    for name in entities(question):
        out.append(Constraint("entity", name, (tuple(_entity_tokens(name)),)))
    return out


def entities(question: str) -> list[str]:
    """Capitalised names in a question: "Who won Wimbledon in 2018?" -> ["Wimbledon"].

    The first word never counts alone: every question starts with a capital.
    """
    out = []
    plain = normalize(question)
    for m in _ENTITY.finditer(plain):
        parts = m.group().split()
        if parts and (m.start() == _first_word_start(plain) or re.search(r"[.?!:;]\s*[\"“]?$", plain[:m.start()])):
            parts = parts[1:]  # a sentence's first word is capitalised anyway ("Besides ...", "Who ...")
        while parts and (parts[0].lower().rstrip(".") in NOT_ENTITY or parts[0].lower() in ("of", "and", "the", "&")):
            parts = parts[1:]
        name = " ".join(parts).strip(" .,'’")
        name = re.sub(r"['’]s$", "", name)
        if re.fullmatch(r"[A-Z][a-z]+(?:ian|ean|ican|ese|ish|ern)", name):
            continue  # "American", "Chinese": a nationality the text may give as a country, not a name
        if name and _entity_tokens(name) and name not in out:
            out.append(name)
    return out


def _entity_tokens(name: str) -> list[str]:
    """The words of a name that identify it: no titles, no short particles, no months."""
    return [w for w in words(name) if len(w) > 2 and w not in NOT_ENTITY and not w.isdigit()
            and w not in ("and", "the")]


def _first_word_start(text: str) -> int:
    m = re.search(r"\w", text)
    return m.start() if m else 0


def parse_date(text: str):
    """A month-and-day mention as a date (dateutil's parser; year 2000 stands in for a missing one),
    or None for what is no date ("May 40").

    >>> parse_date("Nov. 15").month, parse_date("3rd of March").day, parse_date("Feb 30")
    (11, 3, None)
    """
    import datetime as dt

    from dateutil import parser

    try:
        return parser.parse(text.replace(" of ", " "), default=dt.datetime(2000, 1, 1))
    except (ValueError, OverflowError):
        return None


def _ordinal_value(word: str) -> int:
    w = word.lower()
    if w in ORDINALS:
        return ORDINALS.index(w) + 1
    m = re.match(r"(\d+)", w)
    return int(m.group(1)) if m and 0 < int(m.group(1)) <= len(ORDINALS) else 0


def missing(cons: list[Constraint], text: str, kinds: tuple[str, ...] | None = None) -> list[Constraint]:
    """The constraints `text` does not hold (all of them, or only those of the given kinds)."""
    v = view(text)
    return [c for c in cons if (kinds is None or c.kind in kinds) and not c.found_in(v)]


HARD = ("year", "date", "ordinal", "number", "qualifier")  # must hold in the passage's context
SOFT = ("entity",)  # must hold in the passage's article


def describe(absent: list[Constraint]) -> str:
    return ", ".join(f"“{c.text}”" for c in absent)


def alternatives(c: Constraint, texts: list[str]) -> list[str]:
    """What the texts give instead of a missing year or date: ["2019", "2022"] for "2018"."""
    found: list[str] = []
    for text in texts:
        if c.kind == "year":
            found += re.findall(r"\b(?:1[5-9]\d\d|20\d\d)\b", text)
        elif c.kind in ("qualifier", "ordinal") and c.forms and len(c.forms[0]) == 2:
            noun = c.forms[0][0]
            found += [f"{noun} {n}" for n in re.findall(rf"\b{noun}\s+(\d+)", text, re.I)]
    return list(dict.fromkeys(f for f in found if f != c.text))[:3]
