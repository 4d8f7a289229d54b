"""Check a generated answer against the passages it cites, and repair or reject it.

Grounding comes from here, not from trusting a small model:
- citations must point at passages that exist;
- each sentence's numbers must occur in the passage it cites;
- the cited passages must keep to the details the question pins down (constraints.py);
- a sentence cited wrongly, or not at all, is re-cited to the passage that holds its words;
- anything else fails, and the pipeline declines.

Whether the answer is right is the calibrated decision's to judge (rag/gate/); the rules here are the
two families the ablation kept (eval/results/ablation-rules.md).

    >>> from rag.types import Document, Passage
    >>> d = Document("d", "T", "O", "", "", "The initial US draft would cap it at 600, 000.")
    >>> p = [Passage(1, d, "d#0", 0, len(d.text), 1.0, 0, len(d.text))]
    >>> verify("The draft capped it at 600,000 [1].", p, "What cap?").status
    'verified'
    >>> verify("The draft capped it at 500,000 [1].", p, "What cap?").reason
    'the number 500000 is not in passage 1'
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from . import constraints as qc
from .guard import is_instruction
from ..prompt import CITE, NOT_FOUND, is_refusal
from ..text import CARDINALS, ORDINALS, content_terms, normalize, numbers, split_sentences, words
from ..types import Passage

# number words an answer may use for a passage's digits ("one" is left out: "one of the ...")
NUMBER_WORDS = {w: str(i) for i, w in enumerate(CARDINALS) if w != "one"}
NUMBER_WORDS.update({w: str(i) for i, w in enumerate(ORDINALS[:10], 1)})
NUMBER_WORDS.update({"once": "1", "twice": "2", "thrice": "3", "dozen": "12", "dozens": "12"})


# The rule families an answer is checked by; each can be switched off (Config.rules), and each earned
# its place by the ablation in eval/results/ablation-rules.md.
RULES = frozenset({"numbers", "constraints"})


@dataclass(frozen=True)
class Verdict:
    status: str  # verified | repaired | rescued (by a second look) | refused | failed
    text: str  # the answer with its citations checked (and repaired where that was possible)
    cited: tuple[int, ...]  # passage numbers the final text cites, in order of first use
    reason: str = ""  # why it failed or what was repaired

    @property
    def ok(self) -> bool:
        return self.status in ("verified", "repaired", "rescued")


def tidy(text: str) -> str:
    """Join spaced thousands ("600, 000" -> "600,000") and put one space before each citation."""
    text = re.sub(r"(?<=\d),\s+(?=\d{3}\b)", ",", text.strip())
    text = re.sub(r"\]\s*(?:,|and|&)\s*\[", ", ", text)  # "[1] and [2]" -> "[1, 2]"
    text = CITE.sub(lambda m: " [" + ", ".join(re.split(r"\s*[,;]\s*", m.group(1))) + "]", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", text).strip()


def split_answer(text: str) -> list[str]:
    """Answer sentences, each keeping the citations that follow it: "A [1]. B. [2]" -> 2 parts.
    Names with initials stay whole ("Mary K. Lee")."""
    out: list[str] = []
    for part in split_sentences(text.strip()):
        if out and CITE.fullmatch(part.strip().rstrip(".")):
            out[-1] += " " + part.strip()
        else:
            out.append(part)
    return [p for p in out if p.strip()]


def citations_in(text: str) -> list[int]:
    return [int(n) for m in CITE.finditer(text) for n in re.split(r"\s*[,;]\s*", m.group(1))]


def passage_numbers(text: str) -> set[str]:
    return numbers(text) | {NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS}


@dataclass(frozen=True)
class Asked:
    """What the question itself says: the user's words may be echoed without support, and the
    details it pins down must hold in whatever the answer cites."""

    words: frozenset[str]
    terms: frozenset[str]
    numbers: frozenset[str]
    question: str = ""
    constraints: tuple = ()

    @classmethod
    def of(cls, question: str) -> "Asked":
        return cls(frozenset(words(question)), frozenset(content_terms(question)),
                   frozenset(passage_numbers(question)), question, tuple(qc.constraints(question)))


def support(sentence: str, cited: Passage | list[Passage], asked: Asked, rules: frozenset = RULES) -> str:
    """'' when the cited passage (or passages, together) holds every number of the sentence that the
    question did not give, else what is missing."""
    ps = cited if isinstance(cited, list) else [cited]
    label = "passage " + "+".join(str(p.n) for p in ps)
    have = passage_numbers(" ".join(p.text for p in ps))
    for n in sorted(passage_numbers(CITE.sub("", sentence)) - asked.numbers) if "numbers" in rules else ():
        if n not in have:
            return f"the number {n} is not in {label}"
    return ""


def keeps_to_question(cited: list[Passage], asked: "Asked", shown: list[Passage] | None = None) -> str:
    """'' when the cited passages, read in context, hold every detail the question pins down
    (its years, dates, ordinals, numbers and qualifiers; its names in the cited articles).

    A name counts against a passage only when another shown article has it: "Acme's revenue" cited
    from an article about Bolt while Acme's article is right there. A name no shown article has may
    be misspelt or put in other words, and that alone never declines."""
    if not asked.constraints or not cited:
        return ""
    label = "passage " + "+".join(str(p.n) for p in cited)
    absent = qc.missing(asked.constraints, "\n".join(p.context for p in cited), qc.HARD)
    names = qc.missing(asked.constraints, _articles(cited), qc.SOFT)
    others = [p for p in shown or [] if p.doc.id not in {c.doc.id for c in cited}]
    if names and others:
        elsewhere = _articles(others)
        absent += [c for c in names if not qc.missing([c], elsewhere)]
    if not absent:
        return ""
    instead = [a for c in absent for a in qc.alternatives(c, [p.context for p in cited])]
    return f"{label} is not about {qc.describe(absent)}" + (f" (it gives {', '.join(instead)})" if instead else "")


def _articles(passages: list[Passage]) -> str:
    return "\n".join(dict.fromkeys(f"{p.doc.title} {p.doc.outlet}\n{p.doc.text}" for p in passages))


def quoted_from(span: str, text: str) -> bool:
    """True when a span copies the passage's words (allowing for punctuation and small slips)."""
    return bool(words(span)) and _quoted_in(span, text)


def _quoted_in(quoted: str, text: str) -> bool:
    """Quoted words must be the passage's own (allowing for punctuation and small slips)."""
    from rapidfuzz import fuzz

    q, t = " ".join(words(quoted)), " ".join(words(text))
    return q in t or fuzz.partial_ratio(q, t) >= 90


def verify(answer: str, passages: list[Passage], question: str, rules: frozenset = RULES) -> Verdict:
    """Check and repair an answer by the rule families in `rules` (all by default)."""
    text = tidy(answer)
    if is_refusal(text):
        return Verdict("refused", text, (), "the model found no answer in the passages")
    if is_instruction(CITE.sub("", text)):
        return Verdict("failed", text, (), "the answer carries instructions, not facts")
    by_n = {p.n: p for p in passages}
    asked = Asked.of(question)
    if "constraints" not in rules:
        asked = dataclasses.replace(asked, constraints=())
    repaired: list[str] = []
    out_sentences: list[str] = []
    cited_order: list[int] = []
    sentences = split_answer(text)
    if len(sentences) > 1 and not re.search(r"[.!?”\"\]]\s*$", sentences[-1]):
        sentences = sentences[:-1]  # cut off by the token limit: keep the complete sentences
    plains: list[str] = []
    for sentence in sentences:
        plain = CITE.sub("", sentence).strip()
        if not re.search(r"\w", plain):
            continue
        cited = [n for n in citations_in(sentence) if n in by_n]
        bad = [n for n in citations_in(sentence) if n not in by_n]
        if bad:
            repaired.append(f"dropped citation {bad} (no such passage)")
        good = _cite(plain, cited, passages, asked, rules, repaired)
        if isinstance(good, str):
            return Verdict("failed", text, (), good)
        closer = _holds_more(plain, good, passages, asked, rules)
        if closer:
            repaired.append(f"cited [{closer}], which holds the answer's words, for: {plain[:60]}")
            good = [closer]
        for n in good:
            if n not in cited_order:
                cited_order.append(n)
        plains.append(plain)
        out_sentences.append((plain, good))
    if not out_sentences:
        return Verdict("failed", text, (), "the answer has no text")
    foreign = _foreign(plains, passages, asked)
    if foreign:  # always on, with the guard: an answer none of whose words any passage has is not from them
        return Verdict("failed", text, (), f"no passage has the words of “{foreign[:60]}”")
    off = keeps_to_question([by_n[n] for n in cited_order], asked, passages)
    if off:
        # the answer may be right and merely cite the wrong passage: one that supports every
        # sentence and keeps to the question will do; otherwise the answer is about something else
        fits = [p.n for p in passages if not keeps_to_question([p], asked, passages)
                and all(not support(pl, p, asked, rules) for pl in plains)]
        if not fits:
            return Verdict("failed", text, (), off)
        out_sentences = [(pl, [fits[0]]) for pl, _ in out_sentences]
        cited_order = [fits[0]]
        repaired.append(f"cited [{fits[0]}], which keeps to the question")
    final = " ".join(_with_marks(complete_form(pl, [by_n[n] for n in good]), good)
                     for pl, good in out_sentences)
    return Verdict("repaired" if repaired else "verified", final, tuple(cited_order), "; ".join(repaired))


def _cite(plain: str, cited: list[int], passages: list[Passage], asked: Asked, rules: frozenset,
          repaired: list[str]) -> list[int] | str:
    """The passages one answer sentence rests on: those it cites that support it, together if need
    be, else the first shown passage that does (noted in `repaired`); or why none does."""
    by_n = {p.n: p for p in passages}
    problems = {n: support(plain, by_n[n], asked, rules) for n in cited}
    good = [n for n in cited if not problems[n]]
    if not good and len(cited) > 1 and not support(plain, [by_n[n] for n in cited], asked, rules):
        return cited  # a sentence that joins two passages ("600,000 [1] and 800,000 [2]")
    if not good and not cited and "numbers" not in rules:
        return [passages[0].n] if passages else []  # nothing can judge support: the best passage
    if good:
        return good
    # cited nothing, or cited a passage that does not support it: look for one that does
    alternatives = [p.n for p in passages if not support(plain, p, asked, rules)]
    if not alternatives:
        return next(iter(problems.values()), "") or _why_unsupported(plain, passages, asked, rules)
    kept = [n for n in alternatives if not keeps_to_question([by_n[n]], asked, passages)]
    repaired.append(f"cited [{(kept or alternatives)[0]}] for: {plain[:60]}")
    return (kept or alternatives)[:1]


def _holds_more(plain: str, cited: list[int], passages: list[Passage], asked: Asked, rules: frozenset) -> int:
    """The shown passage whose own text holds more of the sentence's new words (not the question's) than
    every cited one, when one does and it supports the sentence too; else 0. A model that writes
    "Zorvik [2]" from passage 1 is right and cites wrong: the citation must point at the words."""
    new = set(content_terms(plain)) - asked.terms
    if not new or not passages:
        return 0
    held = {p.n: len(new & set(content_terms(p.text))) for p in passages}
    best = max(passages, key=lambda p: held[p.n])
    if held[best.n] > max((held.get(n, 0) for n in cited), default=0) and best.n not in cited \
            and not support(plain, best, asked, rules):
        return best.n
    return 0


def _foreign(plains: list[str], passages: list[Passage], asked: Asked) -> str:
    """The first answer sentence that shares no content word (beyond the question's) with any shown
    passage in its context: an injected or invented answer ("PWNED"), whatever rules are on."""
    shown = set().union(*(content_terms(p.context) for p in passages)) if passages else set()
    for plain in plains:
        new = set(content_terms(plain)) - asked.terms
        if new and not new & shown and not passage_numbers(plain) & passage_numbers(" ".join(p.text for p in passages)):
            return plain
    return ""


def _with_marks(plain: str, cited: list[int]) -> str:
    marks = "".join(f" [{n}]" for n in cited)
    end = plain[-1] if plain[-1] in ".!?" else ""
    body = plain[:-1].rstrip() if end else plain
    if body.endswith(("”", '"')) and end == ".":
        return f"{body}{marks}."
    return f"{body}{marks}{end or '.'}"


_MONTH_ALT = "|".join(sorted({f for forms in qc.MONTH_FORMS.values() for f in forms}, key=len, reverse=True))
_FULL_DATE = re.compile(rf"\b(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?({_MONTH_ALT})\.?\s+(\d{{1,2}})"
                        rf"(?:st|nd|rd|th)?,?\s+((?:1[5-9]|20)\d\d)\b", re.I)
# a figure, not a part of one: no digit of "4-3/4 percent" is a figure of its own
_SCALED = re.compile(r"([$€£¥]?)\s?(?<![\w/.\-])(\d[\d,]*(?:\.\d+)?)(?![/\d]|-\d)\s?(percent|per cent|%|thousand|"
                     r"million|billion|trillion|bn)?", re.I)


def complete_form(sentence: str, cited: list[Passage]) -> str:
    """The answer's dates and figures as full as the passage gives them: "Nov. 15" -> "Nov. 15, 2024"
    when the passage has the year; "3.2" -> "$3.2 billion" when it has the currency and scale."""
    text = " ".join(normalize(p.text) for p in cited)
    for m in _FULL_DATE.finditer(text):
        month, day, year = m.group(1).lower().rstrip("."), m.group(2), m.group(3)
        month_forms = next((f for f in qc.MONTH_FORMS.values() if month in f), (month,))
        pattern = rf"\b(?:{'|'.join(month_forms)})\.?\s+{day}(?:st|nd|rd|th)?\b(?!,?\s+\d{{4}})"
        if year not in sentence:
            sentence = re.sub(pattern, lambda a: a.group() + f", {year}", sentence, count=1, flags=re.I)
    given = {(m.group(2).replace(",", ""), (m.group(1) or ""), (m.group(3) or "").lower()) for m in _SCALED.finditer(text)}
    for m in list(_SCALED.finditer(sentence))[::-1]:
        number = m.group(2).replace(",", "")
        if m.group(1) or m.group(3):
            continue
        full = next(((cur, scale) for n, cur, scale in given if n == number and (cur or scale)), None)
        if full and len(number) < 5:
            cur, scale = full
            scale = {"%": "%", "per cent": " per cent"}.get(scale, f" {scale}" if scale else "")
            sentence = sentence[:m.start(2)] + f"{cur}{m.group(2)}{scale}" + sentence[m.end(2):]
    return sentence


def _why_unsupported(sentence: str, passages: list[Passage], asked: Asked, rules: frozenset = RULES) -> str:
    nums = passage_numbers(CITE.sub("", sentence))
    everywhere = set().union(*(passage_numbers(p.text) for p in passages)) if passages else set()
    missing = sorted(nums - everywhere - asked.numbers)
    if missing:
        return f"the number {missing[0]} is not in any passage"
    reasons = [support(sentence, p, asked, rules) for p in passages]
    return reasons[0] if reasons else "there are no passages"
