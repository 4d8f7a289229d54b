"""Training pairs for the answer gate, built from SQuAD-layout files where they live.

A pair is (question, passage) with a label: 1 when the passage answers the question, 0 when it does
not, and, for a 1, where the answer sits in the passage (the span head learns from it). Passages are
what the product shows: a sentence, sometimes with the sentence before it, after its article's title.

Kinds of pair, made by code from any SQuAD-layout file (nothing here names a bundled article):
- pos      the sentence holding the answer                                   label 1
- sent     another sentence of the same paragraph, without the answer        label 0
- para     the closest sentence (word overlap) of another paragraph           label 0
- swap     the question with a year, number, ordinal, name or opposite swapped for another from
           the same article, against the answer sentence, which keeps the original   label 0
- unans    a SQuAD 2.0 unanswerable question against its paragraph's closest sentence   label 0

Splits are by article: `split_of(title)` is fixed by a seeded hash, so an article is in one split
in every file. The SQuAD 2.0 articles "Normans" and "Rhine" are the project's external test sets and
are never used here.

    >>> split_of("Normans", "dev")
    'excluded'
    >>> swap_candidates("When did the 1973 oil crisis begin?")[0]
    ('1973', 'number')
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..text import content_terms, sentence_spans

EXCLUDED = frozenset({"Normans", "Rhine"})  # the eval's external test articles
SPLIT_SEED = "gate-2026-12"
# Share of articles in calibration and test; the rest trains. SQuAD 2.0 dev, the only file with many
# adversarial unanswerable questions, has 30 usable articles: ranked by the seeded hash, 5 test,
# 5 calibrate and 20 train (counts, not shares, so that each held-out part is 5 articles).
SHARES = {"default": (0.04, 0.0)}
DEV_COUNTS = (5, 5)  # (test, calib) articles of a "dev" file


@dataclass(frozen=True)
class Pair:
    question: str
    title: str
    passage: str  # the sentence (and perhaps the one before), as the product shows it
    label: int  # 1: the passage answers the question
    answer_start: int = -1  # character offsets of the answer in `passage` (label 1 only)
    answer_end: int = -1
    kind: str = "pos"
    group: str = ""  # question id: pairs of one question share it (for per-question metrics)
    source: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)


def split_of(title: str, family: str = "default", titles: list[str] | None = None) -> str:
    """'train', 'calib', 'test' or 'excluded', fixed for a title by a seeded hash (for a "dev" file,
    by the title's rank among the file's `titles`)."""
    if title in EXCLUDED:
        return "excluded"
    if family == "dev" and titles:
        ranked = sorted((t for t in titles if t not in EXCLUDED), key=_hash)
        rank = ranked.index(title)
        test, calib = DEV_COUNTS
        return "test" if rank < test else "calib" if rank < test + calib else "train"
    calib, test = SHARES["default"]
    u = int(_hash(title), 16) / 2**32
    return "test" if u < test else "calib" if u < test + calib else "train"


def _hash(title: str) -> str:
    return hashlib.sha256(f"{SPLIT_SEED}:{title}".encode()).hexdigest()[:8]


# --- swaps ---------------------------------------------------------------------------------
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "last"]
# generic opposites (English), for questions turned into their adversarial twin
OPPOSITES = dict(p for a, b in [
    ("largest", "smallest"), ("biggest", "smallest"), ("highest", "lowest"), ("most", "least"),
    ("before", "after"), ("earliest", "latest"), ("first", "last"), ("north", "south"), ("east", "west"),
    ("oldest", "youngest"), ("older", "younger"), ("longest", "shortest"), ("maximum", "minimum"),
    ("increase", "decrease"), ("increased", "decreased"), ("won", "lost"), ("win", "lose"),
    ("more", "less"), ("higher", "lower"), ("larger", "smaller"), ("best", "worst"), ("above", "below"),
    ("start", "end"), ("began", "ended"), ("northern", "southern"), ("eastern", "western"),
    ("major", "minor"), ("positive", "negative"), ("inside", "outside"), ("top", "bottom"),
] for p in ((a, b), (b, a)))
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'-]+(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'-]+)*")
_WORD = re.compile(r"[A-Za-z]+")


def swap_candidates(question: str) -> list[tuple[str, str]]:
    """(token, kind) in the question that a swap may replace: numbers, names, ordinals, opposites."""
    out = [(m.group(), "number") for m in _NUMBER.finditer(question)]
    out += [(m.group(), "name") for m in _NAME.finditer(question)]
    out += [(w, "ordinal") for w in _WORD.findall(question) if w.lower() in ORDINALS]
    out += [(w, "opposite") for w in _WORD.findall(question) if w.lower() in OPPOSITES]
    return out


def article_pools(article_text: str) -> dict[str, list[str]]:
    """Numbers and names of an article, the replacements a swap draws from."""
    return {"number": sorted(set(_NUMBER.findall(article_text))),
            "name": sorted(set(m.group() for m in _NAME.finditer(article_text)))}


def swapped(question: str, passage: str, pools: dict[str, list[str]], rng: random.Random) -> str | None:
    """The question with one detail replaced so that the passage no longer answers it; None when no
    detail of the question is in the passage or no replacement is absent from it."""
    low = passage.lower()
    cands = [(t, k) for t, k in swap_candidates(question) if t.lower() in low]
    rng.shuffle(cands)
    for token, kind in cands:
        if kind == "ordinal":
            options = [o for o in ORDINALS if o != token.lower()]
        elif kind == "opposite":
            options = [OPPOSITES[token.lower()]]
        else:
            same_shape = [o for o in pools[kind] if o != token and _shape(o) == _shape(token)]
            options = same_shape or [o for o in pools[kind] if o != token]
        options = [o for o in options if not re.search(rf"\b{re.escape(o.lower())}\b", low)]
        if not options:
            continue
        new = rng.choice(options)
        if token[:1].isupper() and new[:1].islower():
            new = new[:1].upper() + new[1:]
        return re.sub(rf"\b{re.escape(token)}\b", new, question, count=1)
    return None


def _shape(token: str) -> str:
    """ "1973" -> "dddd", "Paris" -> "A", "New York" -> "AA": swaps keep the kind of detail."""
    if token[:1].isdigit():
        return re.sub(r"\d", "d", token)
    return "A" * len(token.split())


# --- passages --------------------------------------------------------------------------------
def passage_windows(context: str) -> list[tuple[int, int, int]]:
    """(start, end, sentence_start) per sentence: the sentence alone, and the sentence with the one
    before it when it has one (the product shows both kinds)."""
    spans = sentence_spans(context)
    return [(a, b, a) for a, b in spans] + [(spans[i - 1][0], b, a) for i, (a, b) in enumerate(spans) if i]


def overlap(question_terms: set[str], text: str) -> float:
    """Share of the question's content terms in the text."""
    if not question_terms:
        return 0.0
    return len(question_terms & set(content_terms(text))) / len(question_terms)


def pairs_from_file(path: Path, family: str, split: str, seed: int = 0,
                    kinds: tuple[str, ...] = ("pos", "sent", "para", "swap", "unans")) -> Iterator[Pair]:
    """Every pair of one split of one SQuAD-layout file, in a fixed order for a seed."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    rng = random.Random(f"{seed}:{Path(path).name}:{split}")
    titles = [a["title"] for a in data]
    for article in data:
        title = article["title"]
        if split_of(title, family, titles) != split:
            continue
        shown_title = title.replace("_", " ")
        paragraphs = article["paragraphs"]
        contexts = [p["context"] for p in paragraphs]
        pools = article_pools("\n".join(contexts))
        spans = [sentence_spans(c) for c in contexts]
        for pi, para in enumerate(paragraphs):
            context = contexts[pi]
            for qa in para["qas"]:
                yield from _question_pairs(qa, shown_title, context, spans[pi], contexts, spans, pi,
                                           pools, rng, kinds, Path(path).stem)


def _question_pairs(qa, title, context, spans, contexts, all_spans, pi, pools, rng, kinds, source):
    q = " ".join(qa["question"].split())
    if not q:
        return
    qid = qa.get("id") or f"{title}-{pi}-{q[:20]}"
    qterms = set(content_terms(q))
    answers = [a for a in qa.get("answers", []) if a.get("text")]

    def window(i: int, with_previous: bool) -> tuple[int, int]:
        a, b = spans[i]
        return (spans[i - 1][0] if with_previous and i else a), b

    def best_sentence(exclude: set[int]) -> int | None:
        scored = [(overlap(qterms, context[a:b]), i) for i, (a, b) in enumerate(spans) if i not in exclude]
        return max(scored)[1] if scored else None

    if qa.get("is_impossible") or not answers:
        if "unans" in kinds and spans:  # its closest sentence and the next closest: the hardest two
            first = best_sentence(set())
            for i in (first, best_sentence({first})):
                if i is not None:
                    a, b = window(i, rng.random() < 0.5)
                    yield Pair(q, title, context[a:b], 0, kind="unans", group=qid, source=source)
        return
    ans = answers[0]
    start = ans.get("answer_start", -1)
    if not 0 <= start < len(context) or context[start:start + len(ans["text"])] != ans["text"]:
        start = context.find(ans["text"])
    if start < 0:
        return
    end = start + len(ans["text"])
    holding = [i for i, (a, b) in enumerate(spans) if a <= start < b]
    if not holding or end > spans[holding[0]][1]:
        return  # the answer crosses a sentence boundary: no one sentence holds it
    hi = holding[0]
    a, b = window(hi, rng.random() < 0.5)
    passage = context[a:b]
    if "pos" in kinds:
        yield Pair(q, title, passage, 1, start - a, end - a, "pos", qid, source)
    texts = {t.lower() for t in (x["text"] for x in answers)}
    if "swap" in kinds:
        twin = swapped(q, passage, pools, rng)
        if twin and twin != q:
            yield Pair(twin, title, passage, 0, kind="swap", group=qid + ":swap", source=source)
    if "sent" in kinds and len(spans) > 1:
        others = [i for i, (x, y) in enumerate(spans)
                  if i != hi and not any(t in context[x:y].lower() for t in texts)]
        if others:
            i = max(others, key=lambda i: overlap(qterms, context[spans[i][0]:spans[i][1]]) + rng.random() * 0.2)
            x, y = window(i, False)
            yield Pair(q, title, context[x:y], 0, kind="sent", group=qid, source=source)
    if "para" in kinds and len(contexts) > 1:
        cands = []
        for pj in rng.sample(range(len(contexts)), min(len(contexts), 6)):
            if pj == pi:
                continue
            for x, y in all_spans[pj]:
                text = contexts[pj][x:y]
                if not any(t in text.lower() for t in texts):
                    cands.append((overlap(qterms, text), text))
        if cands:
            yield Pair(q, title, max(cands)[1], 0, kind="para", group=qid, source=source)


# --- the mixture -----------------------------------------------------------------------------
# (file in ../shared/datasets, family, kinds, share of its questions used, times its training pairs
# are repeated). SQuAD 2.0's own pairs are the only human-written adversarial questions: seen twice.
SOURCES = [
    ("squad2-dev.json", "dev", ("pos", "sent", "swap", "unans"), 1.0, 2),
    ("squad2-train-first10.json", "default", ("pos", "sent", "swap", "unans"), 1.0, 2),
    ("squad11-train.json", "default", ("pos", "sent", "para", "swap"), 1.0, 1),
    ("squadshifts-reddit.json", "default", ("pos", "sent", "swap"), 0.5, 1),
    ("squadshifts-amazon_reviews.json", "default", ("pos", "sent", "swap"), 0.5, 1),
]


def build(datasets: Path, split: str, seed: int = 0, limit: int | None = None) -> list[Pair]:
    """The pairs of one split from every source present, shuffled with the seed; with a limit, at
    most that many from each source (a quick run reads only the start of each file)."""
    rng = random.Random(seed)
    out: list[Pair] = []
    for name, family, kinds, share, repeat in SOURCES:
        path = Path(datasets) / name
        if not path.exists():
            continue
        taken = 0
        for pair in pairs_from_file(path, family, split, seed, kinds):
            if share < 1.0 and _unit(pair.group, seed) >= share:
                continue
            out += [pair] * (repeat if split == "train" else 1)
            taken += 1
            if limit and taken >= limit:
                break
    rng.shuffle(out)
    return out


def _unit(key: str, seed: int) -> float:
    return int(hashlib.sha256(f"{seed}:{key.split(':')[0]}".encode()).hexdigest()[:8], 16) / 2**32


def missing_data_message(datasets: Path) -> str:
    return (f"no SQuAD-layout training files in {datasets}. The gate trains on SQuAD 2.0 dev, SQuAD 1.1 "
            f"train and SQuADShifts (see ../shared/datasets/README.md); pass --datasets PATH to a folder "
            f"holding squad2-dev.json and squad11-train.json.")
