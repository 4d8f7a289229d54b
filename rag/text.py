"""Text helpers: matching normalisation, sentence spans, word tokens.

Stored text is never changed; these functions build *views* of it for matching.

    >>> normalize("capped at 600, 000 “in peacetime”")
    'capped at 600,000 "in peacetime"'
    >>> words("Zorvik’s 100, 000 panels")
    ['zorvik', 's', '100000', 'panels']
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN_PLUS

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


# bm25s's English stop words (NLTK's list), less "won" (a verb here, not half of "won't"), plus the
# reporting words every news story uses ("said", "according", "told") and contraction fragments.
STOPWORDS = (frozenset(STOPWORDS_EN_PLUS) - {"won"}) | frozenset("""
also could either else ever per upon us whose within would s t d ll re ve m
said says say according told tell
""".split())


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


# The names of things written out, one home each (questions, answers and dates all read them).
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CARDINALS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
             "sixteen seventeen eighteen nineteen twenty").split()  # CARDINALS[n] is n
ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth").split()  # [n-1]


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

    >>> content_terms("Brandt and Soto spoke twice over the weekend")
    ['brandt', 'soto', 'speak', 'twice', 'weekend']
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
_MARKUP = " \t#*_>-"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    r"""(start, end) offsets of each sentence; headings and paragraphs never merge.

    Boundaries come from sentencex (rules for abbreviations, initials, quotes); a boundary is
    dropped where the next "sentence" starts in lower case or the previous one ends in a title,
    an abbreviation or an initial ("Ms. Lee", "Mary K. Lee"), or inside an open quotation.
    Markdown markup around a line (#, *, _) stays outside the span.

    >>> t = "He met U.S. officials. Then Mary K. Lee left!\n\n### A heading\nLast one"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['He met U.S. officials.', 'Then Mary K. Lee left!', 'A heading', 'Last one']
    """
    spans = []
    for para in re.finditer(r"[^\n]+", text):
        start, stop = para.start(), para.end()
        cut = start
        for end in _boundaries(para.group())[:-1]:
            end += start
            before = text[cut:end].rstrip().split()
            token = before[-1].rstrip(".!?\"'”’)").lstrip("(\"'“‘") if before else ""
            ends_with_dot = text[cut:end].rstrip().endswith(".")
            initial = len(token) == 1 and token.isupper() and len(before) > 1 and before[-2][:1].isupper()
            if ends_with_dot and (token.lower() in _ABBREVIATIONS or initial):
                continue
            if _open_quote(text[cut:end]):
                continue  # never split inside a quotation: “They attacked us. They don’t intend to stop,”
            nxt = text[end:stop].lstrip()
            if nxt and not (nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in "\"“‘'(*#[$€£"):
                continue
            spans.append(_trim(text, cut, end))
            cut = end
        spans.append(_trim(text, cut, stop))
    return [(a, b) for a, b in spans if b > a and re.search(r"\w", text[a:b])]


def split_sentences(text: str) -> list[str]:
    """The sentences of a short text (an answer), by the same rules as `sentence_spans`."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _boundaries(paragraph: str) -> list[int]:
    """End offsets of sentencex's sentences in one paragraph (the last is the paragraph's end)."""
    from sentencex import get_sentence_boundaries

    ends = [b["end_index"] for b in get_sentence_boundaries("en", paragraph)]
    return ends if ends and ends[-1] == len(paragraph) else ends + [len(paragraph)]


def _open_quote(span: str) -> bool:
    return span.count("“") > span.count("”") or span.count('"') % 2 == 1


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a] in _MARKUP:
        a += 1
    while b > a and text[b - 1] in " \t*_":
        b -= 1
    return a, b


SPELLING = 80  # rapidfuzz ratio: the one cut-off for "the same word, misspelt" ("Zorvick" ~ "Zorvik")


def close_words(term: str, vocab, limit: int = 3, cutoff: int = SPELLING) -> list[str]:
    """The words of `vocab` spelt like `term`, best first (retrieval's query expansion and the
    question's constraints both use this one matcher).

    >>> close_words("zorvick", ("zorvik", "harbor", "zurich"))
    ['zorvik']
    """
    from rapidfuzz import fuzz, process

    return [m[0] for m in process.extract(term, vocab, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff)]
