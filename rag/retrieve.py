"""Find the chunks for a question (BM25 + dense, fused), then pick the few sentences worth showing.

Chunk retrieval casts the net; sentence selection keeps the prompt small: the generator reads
`passages` short spans (a sentence, plus its neighbour when the sentence needs it), not whole chunks.
"""

from __future__ import annotations

import dataclasses
import re
import weakref
from dataclasses import dataclass

import numpy as np

from .grounding import constraints as qc
from .grounding.guard import is_instruction
from .stores.index import Index
from .stores.base import Query
from .text import STOPWORDS, close_words, content_terms, stem
from .types import Hit, Passage, _spelled_date as _spelled

RRF_K = 60
# Words that say where an answer should come from, not what it is about (the outlets' own names,
# read from the indexed documents, are added per index).
QUESTION_NOISE = frozenset(stem(w) for w in (
    "article articles report reports reported according news story coverage piece "
    "mention mentioned mentions write wrote written").split())
_OUTLET_TERMS: "weakref.WeakKeyDictionary[Index, frozenset[str]]" = weakref.WeakKeyDictionary()


def outlet_terms(index: Index) -> frozenset[str]:
    """Stemmed words of the indexed documents' outlet names ("According to the Daily Planet, ...")."""
    if index not in _OUTLET_TERMS:
        outlets = {d.outlet for d in index.documents.values() if d.outlet}
        _OUTLET_TERMS[index] = frozenset(t for o in outlets for t in content_terms(o))
    return _OUTLET_TERMS[index]
_NEEDS_PREVIOUS = re.compile(
    r"^[\"“‘']?(he|she|it|they|this|that|these|those|his|her|its|their|him|them|there|but|and|also|"
    r"so|yet|still|however|instead|meanwhile|later|then)\b", re.I)


@dataclass(frozen=True)
class QueryTerms:
    """Stemmed content terms of a question; misspelt ones also match their closest index terms."""

    terms: tuple[str, ...]
    expansions: dict  # term -> tuple of index terms it stands for (itself if known)
    idf: dict  # index term -> inverse document frequency

    def all_index_terms(self) -> list[str]:
        return [t for term in self.terms for t in self.expansions[term]]


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]  # fused chunk ranking, best first
    passages: list[Passage]  # numbered from 1, best first
    relevance: float  # how well the best passage matches the question, 0..1 (for the abstain gate)
    gate: tuple = ()  # the answer gate's GateScore for each passage, in order (empty: no gate)


def query_terms(index: Index, question: str) -> QueryTerms:
    vocab = df = index.store.vocabulary
    n = max(len(index.chunks), 1)
    terms, expansions = [], {}
    names = {stem(w.lower()) for w in re.findall(r"(?<![.?!]\s)(?<!^)\b[A-Z][a-z]{3,}", question.strip())}
    noise = QUESTION_NOISE | outlet_terms(index)
    for term in dict.fromkeys(t for t in content_terms(question) if t not in noise):
        if term in vocab:
            expansions[term] = (term,)
        elif term in names:  # a misspelt name ("Witkof") stands for its closest index terms
            expansions[term] = tuple(_fuzzy(term, tuple(vocab)))
        else:
            expansions[term] = ()
        terms.append(term)
    idf = {t: float(np.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)))
           for ts in expansions.values() for t in ts}
    return QueryTerms(tuple(terms), expansions, idf)


def _fuzzy(term: str, vocab: tuple[str, ...]) -> list[str]:
    """Index terms within a small edit distance: "brandtt" -> ["brandt"]."""
    return [w for w in close_words(term, vocab) if w and abs(len(w) - len(term)) <= 3]


def retrieve_chunks(index: Index, q: QueryTerms, qvec: np.ndarray | None, mode: str, fusion: str,
                    lexical_weight: float, k: int) -> list[Hit]:
    n = len(index.chunks)
    if n == 0:
        return []
    terms = tuple(q.all_index_terms()) if mode != "dense" else ()
    found = index.store.search(Query(terms, qvec, k * 4, dense=mode != "lexical"))
    pool, cos, lex_pool = found.rows, found.cosine, found.lexical
    if not pool:
        return []
    lex_norm = lex_pool / lex_pool.max() if lex_pool.max() > 0 else lex_pool
    if mode == "lexical":
        fused = lex_norm
    elif mode == "dense":
        fused = cos
    elif fusion == "rrf":
        fused = _rrf(lex_pool) + _rrf(cos)
    else:
        top_cos = max(float(cos.max()), 1e-6)
        fused = lexical_weight * lex_norm + (1 - lexical_weight) * np.clip(cos, 0, None) / top_cos
    order = np.argsort(-fused)[:k]
    return [Hit(index.chunks[pool[i]], float(fused[i]), float(lex_norm[i]), float(cos[i])) for i in order]


def _rrf(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[np.argsort(-scores)] = np.arange(1, len(scores) + 1)
    return 1.0 / (RRF_K + ranks)


def select_passages(index: Index, q: QueryTerms, qvec: np.ndarray | None, hits: list[Hit],
                    count: int, max_words: int) -> tuple[list[Passage], float]:
    """Score each sentence of the retrieved chunks; return the best as numbered passages.

    A sentence's score mixes its IDF-weighted coverage of the question terms, its own cosine
    with the question, and the score of the best chunk it sits in.
    """
    if not hits:
        return [], 0.0
    best_chunk = hits[0].score or 1.0
    total_idf = sum(max((q.idf.get(t, 0.0) for t in q.expansions[term]), default=_unknown_idf(index))
                    for term in q.terms) or 1.0
    scored: dict[tuple[str, int], tuple[float, float, float, int]] = {}
    rows = list(dict.fromkeys(index.sentence_row[(h.chunk.doc_id, a)] for h in hits for a, _ in h.chunk.sentences))
    cosines = dict(zip(rows, index.store.sentence_cosines(rows, qvec))) if qvec is not None else {}
    for hit in hits:
        chunk_share = hit.score / best_chunk
        for a, b in hit.chunk.sentences:
            key = (hit.chunk.doc_id, a)
            if key in scored and scored[key][0] >= chunk_share:
                continue
            text = index.documents[hit.chunk.doc_id].text[a:b]
            if is_instruction(text):
                continue  # a line that talks to the assistant is never evidence
            cover = _coverage(q, set(content_terms(text))) / total_idf
            row = index.sentence_row[key]
            cos = cosines.get(row, 0.0)
            scored[key] = (chunk_share, cover, cos, b)
    ranked = sorted(scored.items(), key=lambda kv: -_mix(*kv[1][:3]))
    passages: list[Passage] = []
    taken: list[tuple[str, int, int]] = []
    for (doc_id, a), (chunk_share, cover, cos, b) in ranked:
        if len(passages) == count:
            break
        if any(d == doc_id and s <= a < e for d, s, e in taken):
            continue
        start, end = _window(index, doc_id, a, b, max_words)
        if any(d == doc_id and start < e and s < end for d, s, e in taken):
            start, end = a, b  # the neighbour is already shown; keep just the sentence
        taken.append((doc_id, start, end))
        score = _mix(chunk_share, cover, cos)
        chunk_id = next(h.chunk.id for h in hits if h.chunk.doc_id == doc_id and h.chunk.start <= a < h.chunk.end)
        passages.append(Passage(len(passages) + 1, index.documents[doc_id], chunk_id, start, end, score, a, b))
    if not passages:
        return [], 0.0
    top = ranked[0][1]
    return passages, max(top[1], top[2])


# Weights of a sentence's score, tuned on eval/questions.jsonl (evidence recall of 4 passages).
W_COVER, W_COS, W_CHUNK = 0.3, 0.3, 0.4


def _mix(chunk_share: float, cover: float, cos: float) -> float:
    return W_COVER * cover + W_COS * cos + W_CHUNK * chunk_share


def _coverage(q: QueryTerms, present: set[str]) -> float:
    return sum(max((q.idf.get(t, 0.0) for t in q.expansions[term] if t in present), default=0.0)
               for term in q.terms)


def _unknown_idf(index: Index) -> float:
    """A question term the articles never use weighs as much as the rarest possible term."""
    return float(np.log(1 + (len(index.chunks) + 0.5) / 0.5))


def _window(index: Index, doc_id: str, a: int, b: int, max_words: int) -> tuple[int, int]:
    """A sentence plus the neighbour it needs to be understood.

    Backwards when it starts with a pronoun or connective ("She’s met with the mayor five times") or is
    short; forwards when the next sentence is the quote it announces (“...,” he said).
    """
    text = index.documents[doc_id].text
    sentence = text[a:b]
    start, end = a, b
    if _NEEDS_PREVIOUS.match(sentence) or len(sentence.split()) < 8:
        prev = _neighbour(index, doc_id, a, -1)
        heading = prev is not None and "\n" in text[prev[1]:a] and text[prev[0]:prev[1]].count(" ") < 12
        if prev is not None and not heading and len(text[prev[0]:b].split()) <= max_words:
            start = prev[0]
    nxt = _neighbour(index, doc_id, a, +1)
    if nxt is not None and _QUOTE_WITH_ATTRIBUTION.match(text[nxt[0]:nxt[1]]) \
            and len(text[start:nxt[1]].split()) <= max_words:
        end = nxt[1]
    return start, end


_QUOTE_WITH_ATTRIBUTION = re.compile(r"^[“\"].*[”\"],?\s+(he|she|they)\s+\w+", re.S)


def _neighbour(index: Index, doc_id: str, a: int, step: int) -> tuple[int, int] | None:
    row = index.sentence_row.get((doc_id, a))
    if row is None or not 0 <= row + step < len(index.sentences):
        return None
    s = index.sentences[row + step]
    return (s.start, s.end) if s.doc_id == doc_id else None


def keep_to_question(index: Index, found: Retrieval, cons: list, count: int) -> tuple[Retrieval, list]:
    """Make the passages keep to the details the question pins down (years, dates, qualifiers...).

    A passage whose sentence lacks a detail that its context has (the year at the start of its
    paragraph, the article's date) shows that context to the model as a note. When no passage
    holds the details, a sentence of the retrieved chunks that does takes the last place.
    Returns the retrieval and the details no passage holds (empty when all is well).
    """
    hard = [c for c in cons if c.kind in qc.HARD]
    if not hard or not found.passages:
        return found, []
    passages = [_with_note(p, hard) for p in found.passages]
    if any(not qc.missing(hard, p.context) for p in passages):
        return dataclasses.replace(found, passages=passages), []
    best, best_score = None, 0.0
    shown = {(p.doc.id, p.sentence_start) for p in passages}
    for hit in found.hits:
        doc = index.documents[hit.chunk.doc_id]
        for a, b in hit.chunk.sentences:
            if (doc.id, a) in shown or is_instruction(doc.text[a:b]):
                continue
            candidate = Passage(0, doc, hit.chunk.id, a, b, hit.score, a, b)
            if not qc.missing(hard, candidate.context) and hit.score > best_score:
                best, best_score = candidate, hit.score
    if best is None:
        return dataclasses.replace(found, passages=passages), \
            qc.missing(hard, "\n".join(p.context for p in passages))
    keep = passages[:count - 1] if len(passages) >= count else passages
    best = dataclasses.replace(_with_note(best, hard), n=len(keep) + 1)
    return dataclasses.replace(found, passages=keep + [best]), []


def _with_note(p: Passage, hard: list) -> Passage:
    """The passage, with its article's date and title as a note when the question's details are
    there and not in the passage's own text; or its span widened to the sentence that has them."""
    absent = qc.missing(hard, p.text)
    if not absent or qc.missing(absent, p.context):
        return p
    text = p.doc.text
    para_start = text.rfind("\n", 0, p.start) + 1
    if not qc.missing(absent, text[para_start:p.end]) and len(text[para_start:p.end].split()) <= 120:
        return dataclasses.replace(p, start=para_start)  # the detail sits earlier in the paragraph
    # only what holds the missing detail: the article's date, or its title
    dated = f"{p.doc.published} {_spelled(p.doc.published)}"
    note = [p.doc.published] if p.doc.published and len(qc.missing(absent, dated)) < len(absent) else []
    if p.doc.title and len(qc.missing(absent, p.doc.title)) < len(absent):
        note.insert(0, p.doc.title)
    return dataclasses.replace(p, note=", ".join(note)) if note else p


def rank_with_gate(found: Retrieval, question: str, gate, count: int, weight: float) -> Retrieval:
    """Re-rank the candidate passages by the answer gate's belief that each answers the question,
    mixed with retrieval's own score (`weight` is the gate's share), and keep the best `count`,
    renumbered from 1. Every passage kept carries its gate score."""
    if not found.passages:
        return found
    scores = gate.score(question, [(p.doc.title, p.text) for p in found.passages])
    fused = [(1 - weight) * p.score + weight * g.prob for p, g in zip(found.passages, scores)]
    order = sorted(range(len(fused)), key=lambda i: -fused[i])[:count]
    passages = [dataclasses.replace(found.passages[i], n=k + 1, score=fused[i]) for k, i in enumerate(order)]
    return dataclasses.replace(found, passages=passages, gate=tuple(scores[i] for i in order))


def gate_scores(found: Retrieval, question: str, gate) -> Retrieval:
    """The retrieval with a gate score for every passage (scoring only those that lack one, such as a
    passage put in by keep_to_question)."""
    have = {(p.doc.id, p.start, p.end): g for p, g in zip(found.passages, found.gate)} if found.gate else {}
    todo = [p for p in found.passages if (p.doc.id, p.start, p.end) not in have]
    for p, g in zip(todo, gate.score(question, [(p.doc.title, p.text) for p in todo]) if todo else []):
        have[(p.doc.id, p.start, p.end)] = g
    return dataclasses.replace(found, gate=tuple(have[(p.doc.id, p.start, p.end)] for p in found.passages))
