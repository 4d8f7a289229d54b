"""Check a generated answer against the passages it cites, and repair or reject it.

Grounding comes from here, not from trusting a small model:
- citations must point at passages that exist;
- each sentence's numbers must occur in the passage it cites, its names in that article,
  and most of its other content words in the passage (stems, so paraphrase is allowed);
- a sentence cited wrongly, or not at all, is re-cited to the passage that does support it;
- the answer must be of the kind asked for ("how many" needs a number);
- anything else fails, and the pipeline declines.

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
from functools import lru_cache

from . import constraints as qc
from .guard import is_instruction
from ..prompt import CITE, NOT_FOUND, is_refusal
from .roles import question_role, role_conflict
from ..text import CARDINALS, MONTHS, ORDINALS, WEEKDAYS, content_terms, normalize, numbers, split_sentences, words
from ..types import Passage

# number words an answer may use for a passage's digits ("one" is left out: "one of the ...")
NUMBER_WORDS = {w: str(i) for i, w in enumerate(CARDINALS) if w != "one"}
NUMBER_WORDS.update({w: str(i) for i, w in enumerate(ORDINALS[:10], 1)})
NUMBER_WORDS.update({"once": "1", "twice": "2", "thrice": "3", "dozen": "12", "dozens": "12"})
NOT_NAMES = frozenset("""the a an he she it they we i you his her its their this that these those there
but and or so if in on at by for of to as after before when while during since according also both
us u.s mr mrs ms president secretary minister prime leader senator representative however then later
""".split())
COMMON_FIRST_WORDS = frozenset(NOT_NAMES | set(NUMBER_WORDS) | {"one", "yes", "no", "both", "neither", "only",
                                                                 "about", "around", "nearly", "up", "over"})
TIME_WORDS = frozenset(MONTHS + WEEKDAYS + tuple("today yesterday tomorrow week weeks month months year years day "
                                                 "days weekend morning evening night earlier later ago recently "
                                                 "soon".split()))


# The rule families an answer is checked by; each can be switched off (Config.rules), and each earns
# its place by the ablation in eval/results/ablation-rules.md.
RULES = frozenset({"numbers", "names", "quotes", "terms", "roles", "kind", "constraints"})


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


def facts(sentence: str) -> tuple[set[str], set[str], set[str]]:
    """(numbers, names, content terms) of one answer sentence, citations removed."""
    plain = CITE.sub("", sentence)
    nums = passage_numbers(plain)
    names = {n for group in name_groups(plain) for n in group}
    terms = {t for t in content_terms(plain) if not t.isdigit()}
    return nums, names, terms


SPEAKER = re.compile(r"([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*)(?:'s)?\s+(?:said|says|told|added|warned|declared|"
                     r"wrote|stated|remarked|asserted|described|called)\b[^\"]{0,60}\"")
_NAME_RUN = re.compile(r"\b[A-Z][A-Za-z’']*[a-z][A-Za-z’']*(?:\s+[A-Z][A-Za-z’']*[a-z][A-Za-z’']*)*")


def name_groups(sentence: str) -> list[list[str]]:
    """Runs of capitalised words, lower-cased: "Lena Brandt met Soto" -> [["lena", "brandt"], ["soto"]].

    A capitalised first word counts only when it is not a common word ("Two times", "The draft").
    """
    groups = []
    plain = normalize(CITE.sub("", sentence)).strip()
    for m in _NAME_RUN.finditer(plain):
        names = [w.split("'")[0].split("’")[0].lower() for w in m.group().split()]
        if m.start() == 0 and names and names[0] in COMMON_FIRST_WORDS:
            names = names[1:]
        names = [n for n in names if n not in NOT_NAMES and len(n) > 2]
        if names:
            groups.append(names)
    return groups


@lru_cache(maxsize=256)
def _article_words(text: str) -> frozenset[str]:
    """An article's words, tokenised once rather than for every sentence and passage checked."""
    return frozenset(words(text))


def passage_numbers(text: str) -> set[str]:
    return numbers(text) | {NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS}


def _name_found(name: str, vocabulary: set[str]) -> bool:
    if name in vocabulary:
        return True
    if len(name) < 5:
        return False
    from rapidfuzz import fuzz, process

    return process.extractOne(name, vocabulary, scorer=fuzz.ratio, score_cutoff=85) is not None


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

    def role_claim(self, sentence: str) -> str:
        """For "Who <verb> ...?" answered with a bare name, the sentence that answer asserts."""
        plain = CITE.sub("", sentence).strip()
        groups = name_groups(plain)
        if not groups or len(plain.split()) > len(groups[0]) + 3:
            return ""
        return question_role(self.question, [frozenset(groups[0])])


def support(sentence: str, cited: Passage | list[Passage], asked: Asked, rules: frozenset = RULES) -> str:
    """'' when the cited passage (or passages, together) supports the sentence, else what is missing.

    Numbers and quoted words must be in the passage itself; other words may come from its context
    (the sentence before, the title, the date), where a pronoun's subject often sits.
    """
    ps = cited if isinstance(cited, list) else [cited]
    label = "passage " + "+".join(str(p.n) for p in ps)
    text = " ".join(p.text for p in ps)
    context = "\n".join(p.context for p in ps)
    nums, names, terms = facts(sentence)
    have_nums = passage_numbers(text)
    for n in sorted(nums - asked.numbers) if "numbers" in rules else ():  # the user's own numbers may be echoed
        if n not in have_nums:
            return f"the number {n} is not in {label}"
    # Names must come from the cited article or the question; a quote's speaker from the passage itself
    # (or the sentence before it), so a quotation is never pinned on the wrong person.
    known = set(asked.words).union(*(_article_words(p.doc.text + " " + p.doc.title) for p in ps))
    for group in name_groups(sentence) if "names" in rules else ():
        for name in group:
            if not _name_found(name, known):
                return f"the name '{name}' is not in the article of {label}"
    plain = normalize(CITE.sub("", sentence))
    for quoted in re.findall(r'"([^"]{12,})"', plain) if "quotes" in rules else ():
        if not _quoted_in(quoted, text):
            return f"{label} does not contain the quoted words"
    nearby = set().union(*(words(p.doc.text[max(0, p.start - 300):p.end]) for p in ps))
    for speaker in SPEAKER.findall(plain) if "names" in rules else ():
        speaker_names = [w for w in words(speaker) if w not in NOT_NAMES]
        if speaker_names and not any(_name_found(w, nearby) for w in speaker_names):
            return f"{label} does not quote {speaker}"
    present = set(content_terms(context))
    name_terms = {t for nm in names for t in content_terms(nm)}
    new_terms = terms - asked.terms - name_terms
    if "terms" in rules and new_terms and len(new_terms & present) / len(new_terms) < 0.5:
        return f"{label} does not mention {', '.join(sorted(new_terms - present)[:4])}"
    # the passage must also be about what the sentence asserts, echoed words included: "the US draft
    # would cap it at 100,000" is not supported by "Russia called for ... under 100,000"
    claimed = terms - name_terms
    if "terms" in rules and nums and len(claimed) >= 3 and len(claimed & present) / len(claimed) < 0.4:
        return f"{label} is not about {', '.join(sorted(claimed - present)[:4])}"
    if "roles" not in rules:
        return ""
    # who did what to whom: the answer's doers must be the passage's
    conflict = role_conflict(plain, " ".join(p.text for p in ps)) or \
        (role_conflict(asked.role_claim(sentence), text) if asked.role_claim(sentence) else "")
    if conflict:
        return f"{label}: {conflict}"
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


def expected_kind(question: str) -> str:
    q = question.lower()
    if re.search(r"\bhow (many|much|long|far|old)\b|\bwhat (number|percentage|share)\b|\bhow big\b", q):
        return "number"
    if re.search(r"^\s*(and\s+)?when\b|\b(what|which) (date|day|year|month|weekday)\b|\bwhat time\b|"
                 r"\bsince when\b|\bhow soon\b", q):
        return "time"
    if re.search(r"\bwhat (is|was|are|were) the names?\b|\bnames? of\b|\bwho exactly\b", q):
        return "name"
    return ""


def has_kind(answer: str, kind: str, question: str = "") -> bool:
    plain = CITE.sub("", answer)
    nums = passage_numbers(plain)
    if kind == "number":
        return bool(nums) or bool(re.search(r"\b(several|dozens|hundreds|thousands|millions)\b", plain, re.I))
    if kind == "time":
        return bool(nums) or bool(set(words(plain)) & TIME_WORDS)
    if kind == "name":  # a name the question did not already give
        asked = set(words(question))
        return any(not _name_found(n, asked) for n in facts(plain)[1])
    return True


def adds_something(answer: str, question: str) -> bool:
    """False when the answer only restates the question ("In which Alaskan city...?" -> "Alaska")."""
    nums, names, terms = facts(answer)
    q_nums = passage_numbers(question)
    q_words = set(words(question))
    q_terms = set(content_terms(question))
    if nums - q_nums:
        return True
    if any(not _name_found(n, q_words) for n in names):
        return True
    return any(not _name_found(t, q_terms) for t in terms - q_terms)


def verify(answer: str, passages: list[Passage], question: str, rules: frozenset = RULES) -> Verdict:
    """Check and repair an answer by the rule families in `rules` (all by default)."""
    text = tidy(answer)
    if is_refusal(text):
        return Verdict("refused", text, (), "the model found no answer in the passages")
    if is_instruction(CITE.sub("", text)):
        return Verdict("failed", text, (), "the answer carries instructions, not facts")
    by_n = {p.n: p for p in passages}
    kind = expected_kind(question)
    if "kind" in rules and kind and not has_kind(text, kind, question):
        return Verdict("failed", text, (), f"the question asks for a {kind} and the answer has none")
    if "kind" in rules and not adds_something(text, question):
        return Verdict("failed", text, (), "the answer only restates the question")
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
        problems = {n: support(plain, by_n[n], asked, rules) for n in cited}
        good = [n for n in cited if not problems[n]]
        if not good and len(cited) > 1 and not support(plain, [by_n[n] for n in cited], asked, rules):
            good = cited  # a sentence that joins two passages ("600,000 [1] and 800,000 [2]")
        if not good and not cited and not rules & {"numbers", "names", "quotes", "terms", "roles"}:
            good = [passages[0].n] if passages else []  # nothing can judge support: the best passage
        if not good:
            # cited nothing, or cited a passage that does not support it: look for one that does
            alternatives = [p.n for p in passages if not support(plain, p, asked, rules)]
            if not alternatives:
                reason = next(iter(problems.values()), "") or _why_unsupported(plain, passages, asked, rules)
                return Verdict("failed", text, (), reason)
            kept = [n for n in alternatives if not keeps_to_question([by_n[n]], asked, passages)]
            good = (kept or alternatives)[:1]
            repaired.append(f"cited [{good[0]}] for: {plain[:60]}")
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
    final = " ".join(_with_marks(complete_form(pl, [by_n[n] for n in good], kind), good)
                     for pl, good in out_sentences)
    return Verdict("repaired" if repaired else "verified", final, tuple(cited_order), "; ".join(repaired))


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
_SCALED = re.compile(r"([$€£¥]?)\s?(\d[\d,]*(?:\.\d+)?)\s?(percent|per cent|%|thousand|million|billion|trillion|"
                     r"bn)?", re.I)


def complete_form(sentence: str, cited: list[Passage], kind: str = "") -> str:
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
            sentence = sentence[:m.start()] + f"{cur}{m.group(2)}{scale}" + sentence[m.end():]
    return sentence


def _why_unsupported(sentence: str, passages: list[Passage], asked: Asked, rules: frozenset = RULES) -> str:
    nums, _, _ = facts(sentence)
    everywhere = set().union(*(passage_numbers(p.text) for p in passages)) if passages else set()
    missing = sorted(nums - everywhere - asked.numbers)
    if missing:
        return f"the number {missing[0]} is not in any passage"
    reasons = [support(sentence, p, asked, rules) for p in passages]
    return reasons[0] if reasons else "there are no passages"
