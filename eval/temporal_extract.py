"""What the temporal set reads from its texts: the FOMC's federal funds target and the stages of a DOJ case.

    >>> t = fomc_target("The Committee decided today to lower its target for the federal funds rate by 50 "
    ...                 "basis points to 1-3/4 percent. Inflation is low.")
    >>> t.action, t.value, t.bp, t.sentence[-14:]
    ('lower', (Fraction(7, 4), Fraction(7, 4)), 50, '1-3/4 percent.')
    >>> fomc_target("the current 0 to 1/4 percent target range for the federal funds rate remains appropriate.").value
    (Fraction(0, 1), Fraction(1, 4))
    >>> label((Fraction(21, 4), Fraction(21, 4))), label((Fraction(1, 4), Fraction(1, 2)))
    ('5-1/4 percent', '1/4 to 1/2 percent')
    >>> r = doj_release("Ohio Man Sentenced to Six Years for Fraud", "WASHINGTON  John Q. Doe, 47, of Akron, "
    ...                 "Ohio, was sentenced today to six years in prison for fraud. Doe pleaded guilty in May.")
    >>> r.name, r.key, r.stage, r.months
    ('John Q. Doe', ('john', 'doe'), 'sentenced', 72)
    >>> canon("It was cut to 1 3/4% from 2.00 percent; 0-0.25%"), canon("twenty-five months")
    ('It was cut to 1p75 percent from 2 percent; 0 to 0p25 percent', '25 months')

Everything here is a pure function of the text; temporal.py decides which values become questions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

# ---------------------------------------------------------------- sentences and text

_ABBREV = set("""mr mrs ms dr jr sr st no gen gov sen rep lt col sgt capt hon inc corp co ltd llc vs jan feb mar apr
aug sept sep oct nov dec ala ariz ark calif colo conn del fla ga ill ind kan ky la md mass mich minn miss mo mont neb
nev okla ore pa tenn tex va vt wash wis wyo approx""".split())
_BOUNDARY = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """The sentences of one paragraph, each a substring of it; no split after an abbreviation or initial.

    >>> sentences("He met U.S. Attorney John A. Smith in Tampa, Fla. on Monday. Then he left.")
    ['He met U.S. Attorney John A. Smith in Tampa, Fla. on Monday.', 'Then he left.']
    """
    out, cut = [], 0
    for m in _BOUNDARY.finditer(text):
        token = text[cut:m.start()].split()[-1].rstrip(".!?\"”’)").lstrip("(\"“")
        if text[m.start() - 1] == "." and (token.lower() in _ABBREV or re.fullmatch(r"(?:[A-Za-z]\.)*[A-Z]", token)):
            continue  # "Fla.", "U.S.", "John A."
        out.append(text[cut:m.start()].strip())
        cut = m.end()
    if text[cut:].strip():
        out.append(text[cut:].strip())
    return out


def reflow(text: str) -> str:
    """Paragraphs (blank-line separated) with their line breaks and runs of spaces joined."""
    paras = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paras if p)


def clean_release(text: str) -> str:
    """A DOJ release as paragraphs: the scrape glued paragraphs with "None" or with no space at all."""
    text = re.sub(r"^\s*None\b", "", text)
    text = re.sub(r"(?<=[.!?\"”])None(?=[A-Z\"“])", "\n\n", text)
    text = re.sub(r"(?<=[a-z)]{2}[.!?])(?=[A-Z][a-z])", "\n\n", text)
    return reflow(text.replace("\n", "\n\n"))


def estimate_chunks(body: str, max_words: int = 90, overlap: int = 1) -> int:
    """Chunks of whole sentences of about `max_words` words, `overlap` sentences shared (rag/chunk.py's rule)."""
    sizes = [len(s.split()) for p in body.split("\n\n") for s in sentences(p)]
    n, i = 0, 0
    while i < len(sizes):
        j, total = i, 0
        while j < len(sizes) and (j == i or total + sizes[j] <= max_words):
            total += sizes[j]
            j += 1
        n += 1
        if j >= len(sizes):
            break
        i = max(j - overlap, i + 1)
    return n


# ---------------------------------------------------------------- numbers, as written and as compared

_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                     "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i > 1}
_NUMWORD = (r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|five|six|"
            r"seven|eight|nine))?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
            r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)")
_FRACTIONS = {"1/4": Fraction(1, 4), "1/2": Fraction(1, 2), "3/4": Fraction(3, 4)}


def number(text: str) -> int | None:
    """'57' -> 57, 'Six' -> 6, 'twenty-five' -> 25; anything else -> None."""
    text = text.lower().replace("-", " ")
    if text.isdigit():
        return int(text)
    parts = text.split()
    if len(parts) == 1 and parts[0] in _WORDS:
        return _WORDS[parts[0]]
    if parts and parts[0] in _TENS and (len(parts) == 1 or (len(parts) == 2 and 0 < _WORDS.get(parts[1], 0) < 10)):
        return _TENS[parts[0]] + (_WORDS[parts[1]] if len(parts) == 2 else 0)
    return None


def rate(text: str) -> Fraction:
    """'5-1/4' / '5 1/4' -> 21/4, '1/4' -> 1/4, '6' -> 6."""
    m = re.fullmatch(r"(\d+)?[- ]?(1/4|1/2|3/4)?", text.strip())
    if not m or not any(m.groups()):
        raise ValueError(f"not a rate: {text!r}")
    return Fraction(int(m[1] or 0)) + (_FRACTIONS[m[2]] if m[2] else 0)


def _fmt(v: Fraction) -> str:
    whole, rest = divmod(v, 1)
    frac = {Fraction(1, 4): "1/4", Fraction(1, 2): "1/2", Fraction(3, 4): "3/4"}.get(rest, "")
    return f"{whole}-{frac}" if whole and frac else frac or str(whole)


def label(value: tuple[Fraction, Fraction]) -> str:
    """The value as the statements write it: '5-1/4 percent', '0 to 1/4 percent'."""
    low, high = value
    return f"{_fmt(low)} percent" if low == high else f"{_fmt(low)} to {_fmt(high)} percent"


def rate_aliases(value: tuple[Fraction, Fraction]) -> list[str]:
    """The ways an answer may write the value ('5-1/4 percent', '5.25%', ...); compared after `canon`."""
    low, high = value
    dec = lambda v: f"{float(v):g}"  # noqa: E731
    if low == high:
        forms = [f"{_fmt(low)} percent", f"{_fmt(low).replace('-', ' ')} percent", f"{dec(low)} percent", f"{dec(low)}%"]
    else:
        forms = [f"{_fmt(low)} to {_fmt(high)} percent", f"{dec(low)} to {dec(high)} percent",
                 f"{dec(low)}%-{dec(high)}%", f"{dec(low)}-{dec(high)}%"]
        if low == 0:
            forms.append(f"zero to {_fmt(high)} percent")
    return list(dict.fromkeys(forms))


def _decimal_token(v: Fraction) -> str:
    """1.25 -> '1p25', 2 -> '2': a number that alias matching cannot split into '1' and '25'."""
    whole, rest = divmod(v, 1)
    return str(whole) if not rest else f"{whole}p{str(float(rest))[2:]}"


@lru_cache(maxsize=4096)
def canon(text: str) -> str:
    """Numbers written one way, for comparing answers: fractions and decimals become one token
    ('5-1/4' and '5.25' -> '5p25'), '%' becomes ' percent', number words below 100 become digits,
    and a range is written 'A to B'."""
    text = unicodedata.normalize("NFKC", text).replace("\u2044", "/").replace("–", "-").replace("—", "-")
    text = re.sub(r"(?i)\bper cent\b", "percent", text).replace("%", " percent")
    text = re.sub(rf"(?i)\b{_NUMWORD}\b", lambda m: str(number(m.group())), text)
    text = re.sub(r"(?<![\d./])(\d+)(\s*-\s*|\s+)(1/4|1/2|3/4)(?![\d/])", _mixed, text)
    text = re.sub(r"(?<![\d./])(1/4|1/2|3/4)(?![\d/])", lambda m: _decimal_token(_FRACTIONS[m[1]]), text)
    text = re.sub(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])", lambda m: _decimal_token(Fraction(m[0])), text)
    text = re.sub(r"(?<=\d) percent\s*-\s*(?=\d)", " to ", text)  # "0%-0.25%"
    text = re.sub(r"(?<=\d)\s*-\s*(?=\d)", " to ", text)  # "0.25-0.5"
    return re.sub(r"[ \t]+", " ", text).strip()


def _mixed(m: re.Match) -> str:
    """'5-1/4' / '5 1/4' -> '5p25'; but '0-1/4' is a range: '0 to 0p25'."""
    whole, frac = int(m[1]), _FRACTIONS[m[3]]
    if whole == 0 and "-" in m[2]:
        return f"0 to {_decimal_token(frac)}"
    return _decimal_token(whole + frac)


# ---------------------------------------------------------------- FOMC: the federal funds target

def _v(name: str) -> str:
    return rf"(?P<{name}>\d+(?:[- ](?:1/4|1/2|3/4))?|1/4|1/2|3/4)"


_FFR = r"(?:its|the|a) target (?:range )?for the federal funds rate"
_PATTERNS = [  # (action when the pattern has no <act>, regex); the first that matches a sentence wins
    ("", rf"\b(?P<act>raise|lower) {_FFR} (?:by )?(?P<bp>\d+) basis points to {_v('lo')} percent"),
    ("hold", rf"\b(?:keep|keeping|maintain) {_FFR} (?:unchanged )?at {_v('lo')}(?: to {_v('hi')})? percent"),
    ("", rf"\b(?P<act>establish|raise|lower) {_FFR} (?:of|to) {_v('lo')} to {_v('hi')} percent"),
    ("hold", rf"\bcurrent (?:exceptionally low )?target range for the federal funds rate of {_v('lo')} to {_v('hi')} percent"),
    ("hold", rf"\bcurrent {_v('lo')} to {_v('hi')} percent target range for the federal funds rate"),
]

_DISSENT = re.compile(r"\bpreferred\b|\bvot(?:ing|ed) against\b|\bdissent", re.I)


@dataclass(frozen=True)
class Target:
    action: str  # raise | lower | establish | hold
    value: tuple[Fraction, Fraction]  # (low, high); equal for a single rate
    bp: int | None  # the change in basis points, when the sentence gives it
    sentence: str  # the sentence that says it, as written in the reflowed text


def fomc_target(body: str) -> Target | None:
    """The target a statement sets or keeps; None when it names none, or names two different ones."""
    found: list[Target] = []
    for para in body.split("\n\n"):
        for sent in sentences(para):
            if _DISSENT.search(sent):
                continue  # "Voting against ... was X, who preferred ... to raise the target range ... to 1/2 to 3/4"
            for action, pattern in _PATTERNS:
                m = re.search(pattern, sent)
                if m:
                    g = m.groupdict()
                    low = rate(g["lo"])
                    high = rate(g["hi"]) if g.get("hi") else low
                    found.append(Target(action or g["act"], (low, high), int(g["bp"]) if g.get("bp") else None, sent))
                    break
    if not found or len({t.value for t in found}) > 1:
        return None
    return found[0]


def follows(prev: tuple[Fraction, Fraction], t: Target) -> bool:
    """Whether `t` can come straight after a target of `prev`: a hold keeps it, a move goes the way it
    says (and by the basis points it says): a statement missing in between breaks this."""
    if t.action == "hold":
        return t.value == prev
    if t.bp is not None:
        step = Fraction(t.bp, 100) * (1 if t.action == "raise" else -1)
        return t.value == (prev[0] + step, prev[1] + step)
    return t.value[1] > prev[1] if t.action == "raise" else t.value[1] < prev[1]


# ---------------------------------------------------------------- DOJ: a defendant's case, release by release

STAGE_ORDER = {"charged": 0, "pleaded": 1, "convicted": 1, "sentenced": 2}
STAGE_ALIASES = {
    "charged": ["charged", "indicted", "arrested", "indictment", "arrest"],
    "pleaded": ["pleaded guilty", "pled guilty", "pleads guilty", "plead guilty", "guilty plea", "pleading guilty"],
    "convicted": ["convicted", "found guilty", "guilty verdict", "conviction"],
    "sentenced": ["sentenced", "sentence"],
}
_TITLE_STAGE = [("agreed", r"\bAgrees? to Plead\b"), ("sentenced", r"\bSentenced\b"),
                ("pleaded", r"\bPleads? Guilty\b|\bPleaded Guilty\b"), ("convicted", r"\bConvicted\b|\bFound Guilty\b"),
                ("charged", r"\bCharged\b|\bIndicted\b|\bArrested\b")]
_TEXT_STAGE = {"charged": r"\b(?:indicted|charged|arrested)\b", "pleaded": r"\b(?:pleaded|pled) guilty\b",
               "convicted": r"\b(?:convicted|found guilty)\b", "sentenced": r"\bsentenced\b"}
_PLURAL = re.compile(r"\b(?:Two|Three|Four|Five|Six|Seven|Eight|Nine|Ten|Dozen|Several|Men|Women|Couple|Brothers|"
                     r"Sisters|Executives|Defendants|Members|Officers|Individuals|Others|People|Companies|Pair|"
                     r"Both|Family|Owners|Doctors|Guards|Agents|Employees)\b|\d|&|\band\b")
_NAME = re.compile(r"\b([A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?(?:\s+(?:[A-Z]\.|[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)){1,3})"
                   r"(?:,?\s+(?:Jr\.|Sr\.|III|II|IV))?"
                   r"(?=,\s*\d{2},|,\s+(?:of|a|an|the|also|formerly|who|aka)\b|\s+(?:was|has|pleaded|pled)\b)")
_NOT_NAMES = set("""Department Attorney Assistant General Justice District Court Division United States Federal Internal
Revenue Service Judge Chief Acting Deputy Special Agent Police County City Inc Corporation Company Bureau Office Today
Former The This According Secretary Director Principal Senior Magistrate Jury Grand Ltd Corp Group Bank Management
Services Holdings Clinic Center Hospital Pharmacy Medical Health Lanny Breuer Alabama Alaska Arizona Arkansas California
Colorado Connecticut Delaware Florida Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland
Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Hampshire Jersey Mexico York Carolina
Dakota Ohio Oklahoma Oregon Pennsylvania Rhode Island Tennessee Texas Utah Vermont Virginia Washington Wisconsin
Wyoming Puerto Rico Columbia American National International Miami Chicago Houston Detroit Los Angeles""".split())
_OFFICIAL = re.compile(r"(?:Attorney|General|Judge|Agent|Director|Chief|Inspector|Secretary|Commissioner|Administrator|"
                       r"Prosecutor|Charge|Officer|Sheriff|Senator|Representative|Governor|Mayor)\s*$")
_TERM = re.compile(r"\bsentenced\b[^;]{0,200}?\bto (?:serve )?(?:a (?:total )?(?:term|sentence) of )?(?P<vague>more than |over |"
                   rf"nearly |approximately |about |almost )?(?P<n>\d+|{_NUMWORD})[- ](?P<u>years?|months?)"
                   rf"(?: and (?P<n2>\d+|{_NUMWORD}) (?P<u2>months?))? (?:in|of) (?:federal )?(?:prison|imprisonment|"
                   r"incarceration)", re.I)
_LIFE = re.compile(r"\bsentenced\b[^;]{0,200}?\bto (?:serve )?life (?:in prison|imprisonment)", re.I)
_TITLE_TERM = re.compile(rf"\bSentenced to (?P<n>\d+|{_NUMWORD}) (?P<u>Years?|Months?)\b", re.I)


@dataclass(frozen=True)
class Release:
    name: str  # the defendant as the release first names them: "Eric Bernard Caldwell"
    key: tuple[str, str]  # (first name, last name), lower case: releases are grouped by it
    stage: str  # charged | pleaded | convicted | sentenced
    sentence: str  # the sentence that says so (and, when sentenced, the term)
    months: int | None = None  # the prison term; 0 = life; None when not sentenced


_RANKS = re.compile(r"^(?:(?:Major|Captain|Capt\.|Colonel|Col\.|Lieutenant|Lt\.|Sergeant|Sgt\.|Staff|Private|"
                    r"Specialist|Spc\.|Corporal|Cpl\.|Petty|Officer|Commander|Admiral|Dr\.|Doctor|Reverend|Rev\.|"
                    r"Pastor|Detective|Trooper|Deputy|Sheriff|Agent|Master|Chief|First|Class)\s+)+")


def name_key(name: str) -> tuple[str, str]:
    parts = [p for p in re.sub(r",?\s+(?:Jr\.|Sr\.|III|II|IV)$", "", name).split() if not re.fullmatch(r"[A-Z]\.", p)]
    return parts[0].lower(), parts[-1].lower()


def mentions(key: tuple[str, str], text: str) -> bool:
    """Whether the text names the person: first name, up to two middle names or initials, last name.

    >>> mentions(("kexue", "huang"), "the court heard KEXUE Huang."), mentions(("kexue", "huang"), "Kexue met Mr. Huang")
    (True, False)
    """
    first, last = (re.escape(p) for p in key)
    return re.search(rf"\b(?i:{first})(?:\s+[A-Z][\w.'-]*){{0,2}}\s+(?i:{last})\b", text) is not None


def _term(sentence: str, title: str) -> int | None:
    """The prison term in months (0 = life) in a sentencing sentence; None if vague or absent, or if the
    title names a different one."""
    titled = _TITLE_TERM.search(title)
    if _LIFE.search(sentence):
        return None if titled else 0
    m = _TERM.search(sentence)
    if not m or m["vague"]:
        return None
    months = number(m["n"]) * (12 if m["u"].lower().startswith("year") else 1) + (number(m["n2"]) if m["n2"] else 0)
    if titled and number(titled["n"]) * (12 if titled["u"].lower().startswith("year") else 1) != months:
        return None
    return months


def title_stage(title: str) -> str | None:
    for stage, pattern in _TITLE_STAGE:
        if re.search(pattern, title):
            return stage
    return None


def one_stage(title: str) -> str | None:
    """The stage a release's title reports about one defendant ("Ohio Man Sentenced ..."), else None
    (no stage, an agreement to plead, or several: "Two Men Charged ...")."""
    title = " ".join(title.split())
    stage = title_stage(title)
    if stage in (None, "agreed"):
        return None
    subject = re.split(r"\b(?:Sentenced|Pleads?|Pleaded|Convicted|Found|Charged|Indicted|Arrested)\b", title)[0]
    return None if _PLURAL.search(subject) else stage


def people(sent: str, before: int | None = None) -> list[str]:
    """The people a sentence names (not officials, places or companies; ranks dropped), those starting
    before offset `before` when given.

    >>> people("U.S. Army Major Charles E. Sublett, 46, of Huntsville, Ala., pleaded guilty, announced Judge Ann Lee.")
    ['Charles E. Sublett']
    """
    found = []
    for m in _NAME.finditer(sent):
        if before is not None and m.start() >= before:
            break
        if set(re.findall(r"[A-Za-z]+", m[0])) & _NOT_NAMES or _OFFICIAL.search(sent[:m.start()]):
            continue
        if re.search(r"\b(?:of|for|at|from|with|against|by|to|on|in)\s+$", sent[:m.start()]):
            continue  # "the owner of Candy Color Lenses, a retailer": a company, a place or a victim
        name = _RANKS.sub("", m[0])
        if len(name.split()) > 1:
            found.append(name)
    return found


def doj_release(title: str, body: str) -> Release | None:
    """The one defendant a release is about and the stage it reports; None unless that is clear: one
    stage in the title, one person (not a company, not several) named as the subject of it in one of
    the opening sentences ("X, 47, of Akron, was sentenced"; "a jury convicted X"), never a victim or an
    official named after the verb. A term is read from that sentence or from an opening one that names
    nobody else ("An Ohio man was sentenced to 108 months")."""
    stage = one_stage(title)
    if stage is None:
        return None
    opening = [s for p in body.split("\n\n")[:3] for s in sentences(p)][:3]
    for sent in opening:
        verb = re.search(_TEXT_STAGE[stage], sent)
        if not verb:
            continue
        names = people(sent, verb.start())
        if stage == "convicted" and not names:
            names = [n for n in people(sent[verb.end():]) if sent[verb.end():].lstrip().startswith(n)][:1]
        if not names:
            continue  # "A Nebraska man was sentenced today ...": the name may come in the next sentence
        if len({name_key(n) for n in names}) != 1:
            return None
        key = name_key(names[0])
        if len(re.findall(rf"\b{re.escape(key[1])}\b", body, re.I)) < 2:
            return None
        if stage != "sentenced":
            return Release(names[0], key, stage, sent)
        for said in [sent] + [s for s in opening if s != sent]:
            if said.count("sentenced") != 1 or any(name_key(n) != key for n in people(said)):
                continue  # a co-defendant's term
            months = _term(said, title)
            if months is not None:
                return Release(names[0], key, stage, said, months)
        return None
    return None


def term_aliases(months: int) -> list[str]:
    """'57 months', '57-month'; whole years also as years ('10 years', '120 months')."""
    if months == 0:
        return ["life in prison", "life sentence", "life imprisonment", "to life"]
    out = [f"{months} months", f"{months}-month"]
    years, rest = divmod(months, 12)
    if years and not rest:
        out = [f"{years} years" if years > 1 else "1 year", f"{years}-year"] + out
    elif years and months > 24:
        out.append(f"{years} years and {rest} months")
    return list(dict.fromkeys(out))
