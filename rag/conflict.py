"""Where two articles disagree on a figure, say so and cite both.

    >>> [(n, family) for n, family, _ in measures("a range of up to 2,500 kilometers")]
    [('2500', 'distance')]
"""

from __future__ import annotations

import re

from .text import content_terms, normalize, numbers
from .types import Passage
from .verify import CITE

UNITS = {
    "distance": "mile miles km kilometer kilometers kilometre kilometres meter meters metre metres",
    "people": "personnel troops soldiers people men servicemen members",
    "money": "dollar dollars euro euros $ €",
    "duration": "hour hours day days week weeks month months year years",
}
UNIT_FAMILY = {u: fam for fam, units in UNITS.items() for u in units.split()}
_MEASURE = re.compile(r"(?:(?:about|up to|around|nearly|almost|more than|under|over|some)\s+)?"
                      r"\d[\d,.\s]*\s?(?:-|–)?\s?([A-Za-z$€]+)")


def measures(text: str) -> list[tuple[str, str, str]]:
    """(number, unit family, phrase): "a range of up to 2,500 kilometers" -> [("2500", "distance", ...)]."""
    out = []
    norm = normalize(text)
    for m in _MEASURE.finditer(norm):
        family = UNIT_FAMILY.get(m.group(1).lower())
        if family:
            start = max(0, norm.rfind(" ", 0, max(0, m.start() - 12)))
            out.append((next(iter(numbers(m.group()))), family, norm[start:m.end()].strip(" ,")))
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


def conflict_note(passage: Passage, families: set[str] | None = None) -> str:
    phrase = next((ph for _, fam, ph in measures(passage.text) if families is None or fam in families), "")
    outlet = passage.doc.outlet or passage.doc.title or "another article"
    date = f" ({passage.doc.published})" if passage.doc.published else ""
    return f"The articles disagree: {outlet}{date} gives “{phrase}” [{passage.n}]."
