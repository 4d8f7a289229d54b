"""Where two articles disagree on a figure, say so and cite both.

    >>> [(n, family) for n, family, _ in measures("a range of up to 2,500 kilometers")]
    [('2500', '[length]')]
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..text import STOPWORDS, content_terms, normalize, numbers, stem
from ..types import Passage
from ..prompt import CITE

_MEASURE = re.compile(r"(?:(?:about|up to|around|nearly|almost|more than|under|over|some)\s+)?"
                      r"([$€£¥]?)\d[\d,.\s]*\s?(?:-|–)?\s?([A-Za-z%]+)")
_MONEY = frozenset("dollar dollars euro euros pound pounds yen yuan rupee rupees usd eur gbp".split())


def unit_family(unit: str, currency: str = "") -> str | None:
    """What a figure measures, from its unit: units of one dimension share a family (pint's unit
    registry knows miles and kilometres are both lengths); any other noun is its own family
    ("600 troops" and "800 troops" are comparable, "600 troops" and "800 tanks" are not).

    >>> unit_family("km") == unit_family("miles"), unit_family("troops"), unit_family("of")
    (True, 'troop', None)
    """
    u = unit.lower()
    if currency or u in _MONEY:
        return "money"
    if u in ("%", "percent"):
        return "percent"
    if not u.isalpha() or u in STOPWORDS or len(u) < 2:
        return None
    dim = _dimension(u)
    return dim if dim else stem(u)


@lru_cache(maxsize=4096)
def _dimension(unit: str) -> str:
    registry = _registry()
    if registry is None:
        return ""
    try:
        return str(registry.parse_units(unit).dimensionality) if unit in registry else ""
    except Exception:  # pint raises several kinds of error for words that are not units
        return ""


@lru_cache(maxsize=1)
def _registry():
    try:
        import pint
    except ImportError:
        return None
    return pint.UnitRegistry()


def measures(text: str) -> list[tuple[str, str, str]]:
    """(number, unit family, phrase) for each figure with a unit in the text."""
    out = []
    norm = normalize(text)
    for m in _MEASURE.finditer(norm):
        family = unit_family(m.group(2), m.group(1))
        nums = numbers(m.group())
        if family and nums:
            start = max(0, norm.rfind(" ", 0, max(0, m.start() - 12)))
            out.append((next(iter(nums)), family, norm[start:m.end()].strip(" ,")))
    return out


def find_conflict(answer: str, cited: tuple[int, ...], passages: list[Passage], question: str) -> Passage | None:
    """A passage from another article that gives a different figure of the same kind as the answer's."""
    answer_measures = {(n, fam) for n, fam, _ in measures(CITE.sub("", answer))}
    if not answer_measures or not cited:
        return None
    cited_docs = {p.doc.id for p in passages if p.n in cited}
    families = {fam for _, fam in answer_measures}
    numbers_given = {n for n, _ in answer_measures}
    q_terms = set(content_terms(question)) - {t for t in content_terms(question) if t.isdigit()}
    for p in passages:
        if p.doc.id in cited_docs or p.n in cited:
            continue
        overlap = q_terms & set(content_terms(p.text))
        if len(overlap) < max(1, len(q_terms) // 3):
            continue
        for n, fam, _ in measures(p.text):
            if fam in families and n not in numbers_given:
                return p
    return None


def conflict_phrase(passage: Passage, families: set[str] | None = None) -> str:
    """The passage's first figure of one of these kinds, as written ("a reworked 19-point plan")."""
    return next((ph for _, fam, ph in measures(passage.text) if families is None or fam in families), "")


def conflict_note(passage: Passage, families: set[str] | None = None, order: str = "") -> str:
    """ "The articles disagree: a later report, Outlet (2025-11-26), gives “...” [3]." (`order`: later,
    earlier or "" when the dates do not tell)."""
    phrase = conflict_phrase(passage, families)
    outlet = passage.doc.outlet or passage.doc.title or "another article"
    date = f" ({passage.doc.published})" if passage.doc.published else ""
    which = f"{'an' if order[:1] in 'aeiou' else 'a'} {order} report, " if order else ""  # an earlier, a later
    return f"The articles disagree: {which}{outlet}{date} gives “{phrase}” [{passage.n}]."
