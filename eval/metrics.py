"""Evaluation metrics as pure functions. Each defines its empty case (no rows -> 0.0, never an error).

    >>> normalize_answer("Capped at 600, 000 “in peacetime.”")
    'capped at 600000 in peacetime'
    >>> alias_match("It would cap it at 600,000 [1].", ["600 000"])
    True
    >>> alias_match("995 miles [1]", [["995 miles"], ["2,500 km", "2500 kilometers"]])
    False
    >>> round(token_f1("six hundred thousand troops", ["600,000 troops"]), 2)
    0.33
    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.0

SQuAD's own rule (the official script's normalisation: lower case, no punctuation, no a/an/the):

    >>> squad_normalize("The Normans [2], in 911!")
    'normans in 911'
    >>> squad_contains("They came from Denmark, Iceland and Norway [1].", ["Denmark, Iceland and Norway"])
    True
    >>> squad_exact("The 10th century [1]", ["10th century", "10th"]), round(squad_f1("in the 10th century", ["10th"]), 2)
    (1.0, 0.5)
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter

from rag.prompt import CITE

_PUNCT = re.compile(r"[^\w\s]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_THOUSANDS = re.compile(r"(?<=\d)[,.]?\s?(?=\d{3}\b)")


def normalize_answer(text: str) -> str:
    """Lower case, straight quotes, digit groups joined, punctuation dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = CITE.sub(" ", text)  # citation markers are not part of the answer
    text = _THOUSANDS.sub("", text)
    text = text.replace("'", "")
    text = _PUNCT.sub(" ", text)
    return " ".join(text.split())


def _contains(haystack: str, needle: str) -> bool:
    needle = normalize_answer(needle)
    plural = "(?:s|es)?" if needle[-1:].isalpha() else ""  # "chocolate" matches "chocolates"
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}{plural}(?!\w)", normalize_answer(haystack)) is not None


def alias_match(prediction: str, answers: list) -> bool:
    """True when an alias occurs in the prediction; with a list of lists, one alias of each list must."""
    if not answers:
        return False
    if isinstance(answers[0], list):
        return all(any(_contains(prediction, a) for a in group) for group in answers)
    return any(_contains(prediction, a) for a in answers)


def token_f1(prediction: str, answers: list) -> float:
    """Best SQuAD-style token F1 against any alias (groups are joined into one reference)."""
    refs = [" ".join(g) for g in answers] if answers and isinstance(answers[0], list) else list(answers)
    return _best_f1(normalize_answer(prediction).split(), [normalize_answer(r).split() for r in refs])


def _best_f1(pred: list[str], golds: list[list[str]]) -> float:
    """The best token F1 of a prediction against any gold token list; none -> 0.0."""
    best = 0.0
    for gold in golds:
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            p, r = common / len(pred), common / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def squad_normalize(text: str) -> str:
    """SQuAD's official answer normalisation, after dropping our citation markers."""
    text = CITE.sub(" ", text).lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact(prediction: str, answers: list[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer; no answers -> 0.0."""
    pred = squad_normalize(prediction)
    return float(any(pred == squad_normalize(a) for a in answers))


def squad_f1(prediction: str, answers: list[str]) -> float:
    """Best token F1 against any gold answer, as SQuAD's script computes it; no answers -> 0.0."""
    return _best_f1(squad_normalize(prediction).split(), [squad_normalize(a).split() for a in answers])


def squad_contains(prediction: str, answers: list[str]) -> bool:
    """A normalised gold answer occurs in the normalised prediction as whole words (our answers are
    sentences, so this is the primary "answerable right"); no answers -> False. Punctuation becomes a
    space here rather than vanishing, so that "Rollo's arrival" holds "Rollo" and "bases of the
    Adriatic—fell" holds "Adriatic".

    >>> squad_contains("Before Rollo's arrival [2]", ["Rollo"]), squad_contains("Rollover", ["Rollo"])
    (True, False)
    """
    def norm(text: str) -> str:
        text = CITE.sub(" ", text).lower()
        return " " + squad_normalize(_PUNCT.sub(" ", text)) + " "  # any punctuation, dashes included

    pred = norm(prediction)
    return any(gold.strip() and gold in pred for gold in map(norm, answers))


def rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def abstention(rows: list[dict]) -> dict:
    """Precision: declines that were right to decline. Recall: unanswerable questions declined."""
    declined = [r for r in rows if r["abstained"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "precision": rate([not r["answerable"] for r in declined]),
        "recall": rate([r["abstained"] for r in unanswerable]),
        "declined_answerable": sum(1 for r in declined if r["answerable"]),
    }


def supports(passage: str, evidence: list[str], answers: list) -> bool:
    """A cited passage supports an answer when it holds the evidence (or most of it) or an answer alias."""
    p = normalize_answer(passage)
    for e in evidence:
        e = normalize_answer(e)
        if e and (e in p or p in e):
            return True
        e_tokens, p_tokens = set(e.split()), set(p.split())
        if e_tokens and len(e_tokens & p_tokens) / len(e_tokens) >= 0.6:
            return True
    return alias_match(passage, answers) if answers else False


def citation_quality(rows: list[dict]) -> dict:
    """ALCE-style, over answered, answerable questions.

    recall: answers whose citations together support them; precision: citations that support the
    answer on their own. Also counts answers without any citation and citations to no passage.
    """
    answered = [r for r in rows if r["answerable"] and not r["abstained"]]
    recall, precision, no_citation, dangling = [], [], 0, 0
    for r in answered:
        quotes = [c["quote"] for c in r["citations"]]
        dangling += r.get("dangling_citations", 0)
        if not quotes:
            no_citation += 1
            recall.append(False)
            continue
        flags = [supports(q, r["evidence"], r["answers"]) for q in quotes]
        recall.append(supports(" ".join(quotes), r["evidence"], r["answers"]) or any(flags))
        precision.extend(flags)
    correct = [r for r in answered if r["correct"]]
    contains = [any(alias_match(c["quote"], r["answers"]) or supports(c["quote"], r["evidence"], [])
                    for c in r["citations"]) for r in correct]
    return {"recall": rate(recall), "precision": rate(precision), "no_citation": no_citation,
            "dangling": dangling, "correct_with_supporting_citation": rate(contains)}


def citation_support(rows: list[dict]) -> float:
    """Share of answered, answerable questions with a cited passage that holds a gold answer or the
    item's evidence. Answers to unanswerable questions are not counted here: no passage can support
    them, and "declined right" already counts them as wrong. No such rows -> 0.0."""
    answered = [r for r in rows if r["answerable"] and not r["abstained"]]
    return rate([any(supports(c["quote"], r["evidence"], r["answers"]) for c in r["citations"]) for r in answered])


def retrieval_ranks(passages: list[str], evidence: list[str]) -> int | None:
    """1-based rank of the first passage holding the evidence, or None."""
    for i, p in enumerate(passages, 1):
        if supports(p, evidence, []):
            return i
    return None


def recall_at(ranks: list[int | None], k: int) -> float:
    return rate([r is not None and r <= k for r in ranks])


def mrr(ranks: list[int | None]) -> float:
    return sum(1.0 / r for r in ranks if r) / len(ranks) if ranks else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q% of values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[k - 1]


def summarize(rows: list[dict]) -> dict:
    """Every headline number of a run, from its per-question rows."""
    answerable = [r for r in rows if r["answerable"]]
    ranks = [r.get("evidence_rank") for r in answerable]
    latency = [r["seconds"] for r in rows if "seconds" in r]
    ttft = [r["first_token"] for r in rows if "first_token" in r]
    by_kind: dict[str, list[bool]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r["correct"])
    summary = {
        "questions": len(rows),
        "answerable": len(answerable),
        "accuracy": rate([r["correct"] for r in answerable]),
        "token_f1": sum(r.get("f1", 0.0) for r in answerable) / len(answerable) if answerable else 0.0,
        "declined_correctly": rate([r["abstained"] for r in rows if not r["answerable"]]),
        "overall": rate([r["correct"] for r in rows]),
        "abstention": abstention(rows),
        "citations": citation_quality(rows),
        "retrieval": {"recall@1": recall_at(ranks, 1), "recall@2": recall_at(ranks, 2),
                      "recall@3": recall_at(ranks, 3), "recall@4": recall_at(ranks, 4), "recall@all": recall_at(ranks, 99), "mrr": mrr(ranks)},
        "latency": {"p50": percentile(latency, 50), "p95": percentile(latency, 95),
                    "first_token_p50": percentile(ttft, 50), "first_token_p95": percentile(ttft, 95)},
        "tokens": {"prompt_mean": _mean([r.get("prompt_tokens", 0) for r in rows if "prompt_tokens" in r]),
                   "completion_mean": _mean([r.get("completion_tokens", 0) for r in rows if "completion_tokens" in r])},
        "by_kind": {k: rate(v) for k, v in sorted(by_kind.items())},
        "citation_support": citation_support(rows),
        "second_look": second_look(rows),
        "off_question": sum(1 for r in rows if r.get("off_question")),
    }
    if any("em" in r for r in answerable):
        summary["squad"] = {"em": _mean([r.get("em", 0.0) for r in answerable]),
                            "f1": _mean([r.get("f1", 0.0) for r in answerable])}
    return summary


def second_look(rows: list[dict]) -> dict:
    """How many questions took the second look, how many it rescued, and what it cost them.

    >>> second_look([{"timings": {"second_look": 1.0}, "verdict": "rescued: x"}, {"timings": {"second_look": 0.0}}])
    {'share': 0.5, 'rescued': 1, 'p50_s': 1.0}
    """
    taken = [r["timings"]["second_look"] for r in rows if r.get("timings", {}).get("second_look", 0) > 0]
    return {"share": len(taken) / len(rows) if rows else 0.0,
            "rescued": sum(1 for r in rows if str(r.get("verdict", "")).startswith("rescued")),
            "p50_s": percentile(taken, 50)}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
