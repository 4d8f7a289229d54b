"""Text helpers: matching normalisation, sentence spans, word tokens.

Stored text is never changed; these functions build *views* of it for matching.

    >>> normalize("capped at 600, 000 “in peacetime”")
    'capped at 600,000 "in peacetime"'
    >>> words("Ukraine’s 100, 000 troops")
    ['ukraine', 's', '100000', 'troops']
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"',
                         "–": "-", "—": " - ", "\u00a0": " ", "\u2009": " ", "\u202f": " "})
_SPACED_THOUSANDS = re.compile(r"(?<=\d),\s+(?=\d{3}\b)")
_THOUSANDS = re.compile(r"(?<=\d)[,\s](?=\d{3}\b)")


def sha256(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def normalize(text: str) -> str:
    """Unicode NFKC, straight quotes, "100, 000" -> "100,000". Length may change."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACED_THOUSANDS.sub(",", text)


def words(text: str) -> list[str]:
    """Lower-cased word tokens with digit groups joined ("2,500" -> "2500")."""
    text = _THOUSANDS.sub("", normalize(text).lower())
    return re.findall(r"[a-z0-9]+", text)


STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each either else ever few for from
further had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out over own
per same she should so some such than that the their theirs them themselves then there these they this
those through to too under until up upon us very was we were what when where which while who whom whose
why will with within would you your yours yourself yourselves s t d ll re ve m
said says say according told tell did does do
""".split())


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


# Irregular verb forms that a suffix stemmer cannot join to their base ("spoke" -> "speak").
IRREGULAR = {form: base for base, forms in {
    "speak": "spoke spoken", "meet": "met", "give": "gave given", "take": "took taken", "go": "went gone",
    "make": "made", "hold": "held", "lead": "led", "send": "sent", "sell": "sold", "think": "thought",
    "begin": "began begun", "come": "came", "see": "saw seen", "know": "knew known", "leave": "left",
    "win": "won", "lose": "lost", "strike": "struck", "pay": "paid", "run": "ran", "write": "wrote written",
    "choose": "chose chosen", "bring": "brought", "buy": "bought", "fight": "fought", "seek": "sought",
    "keep": "kept", "feel": "felt", "hear": "heard", "mean": "meant", "stand": "stood", "spend": "spent",
    "build": "built", "find": "found", "get": "got gotten", "draw": "drew drawn", "fly": "flew flown",
    "grow": "grew grown", "rise": "rose risen", "shoot": "shot", "throw": "threw thrown", "break": "broke broken",
    "understand": "understood", "tell": "told", "say": "said", "fall": "fell fallen", "drive": "drove driven",
    "teach": "taught", "catch": "caught", "sit": "sat", "lie": "lay lain", "show": "shown", "eat": "ate eaten",
}.items() for form in forms.split()}


def content_terms(text: str) -> list[str]:
    """Stemmed words that carry meaning (no stop words), in order, duplicates kept.

    >>> content_terms("Trump and Zelenskyy spoke twice over the weekend")
    ['trump', 'zelenskyy', 'speak', 'twice', 'weekend']
    """
    st = _stemmer()
    return [st.stemWord(IRREGULAR.get(w, w)) for w in words(text) if w not in STOPWORDS]


def numbers(text: str) -> set[str]:
    """Numbers as digit strings: "600, 000 troops and 2,500 km" -> {"600000", "2500"}."""
    text = _THOUSANDS.sub("", normalize(text))
    return {m.lstrip("0") or "0" for m in re.findall(r"\d+(?:\.\d+)?", text)}


# --- sentences -------------------------------------------------------------

_ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sr jr st mt gen col lt sgt capt gov sen rep rev fla calif mass wash
jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp vs etc no approx
u.s u.n u.k e.g i.e a.m p.m d.c
""".split())
_END = re.compile(r"[.!?]+[\"'”’)\]*]*(?=\s)")
_MARKUP = " \t#*_>-"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence; headings and paragraphs never merge.

    Markdown markup around a line (#, *, _) stays outside the span.

    >>> t = "He met U.S. officials. Then he left!\\n\\n### A heading\\nLast one"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['He met U.S. officials.', 'Then he left!', 'A heading', 'Last one']
    """
    spans = []
    for para in re.finditer(r"[^\n]+", text):
        start, stop = para.start(), para.end()
        cut = start
        for m in _END.finditer(text, start, stop):
            end = m.end()
            before = text[cut:m.start() + 1].split()
            token = before[-1].rstrip(".!?").lstrip("(\"'“‘") if before else ""
            initial = len(token) == 1 and token.isupper() and len(before) > 1 and before[-2][:1].isupper()
            if m.group().startswith(".") and (token.lower() in _ABBREVIATIONS or initial):
                continue
            if _open_quote(text[cut:m.end()]):
                continue  # never split inside a quotation: “They attacked us. They don’t intend to stop,”
            nxt = text[end:stop].lstrip()
            if nxt and not (nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in "\"“‘'(*#"):
                continue
            spans.append(_trim(text, cut, end))
            cut = end
        spans.append(_trim(text, cut, stop))
    return [(a, b) for a, b in spans if b > a and re.search(r"\w", text[a:b])]


def _open_quote(span: str) -> bool:
    return span.count("“") > span.count("”") or span.count('"') % 2 == 1


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in _MARKUP:
        a += 1
    while b > a and text[b - 1] in " \t*_":
        b -= 1
    return a, b
