"""Small typed values passed between stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache

from .text import WEEKDAYS


@dataclass(frozen=True)
class Document:
    id: str  # stable slug, from the file name
    title: str
    outlet: str
    published: str  # ISO date or ""
    url: str
    text: str  # the article body, unchanged; every offset points into it
    source: str = ""  # where it was read from
    sha256: str = ""  # of `text`: the identity used for deduplication
    warnings: tuple[str, ...] = ()  # what ingest dropped or changed (a non-http URL, say), for the add result
    author: str = ""  # the byline, when the source gives one (front matter, a feed entry, the page's metadata)

    def meta(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("text", "warnings")}


@dataclass(frozen=True)
class Chunk:
    id: str  # "<doc_id>#<n>"
    doc_id: str
    start: int  # character offsets into Document.text
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]  # (start, end) of each sentence, document offsets

    @property
    def sha256(self) -> str:
        from .text import sha256

        return sha256(self.text)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the parts it came from."""

    chunk: Chunk
    score: float
    lexical: float = 0.0  # BM25 score divided by the best BM25 score for the query
    dense: float = 0.0  # cosine similarity with the query


@dataclass(frozen=True)
class Passage:
    """One numbered span of text shown to the generator."""

    n: int
    doc: Document
    chunk_id: str
    start: int
    end: int
    score: float
    sentence_start: int  # the span of the sentence that earned the passage its place
    sentence_end: int
    note: str = ""  # context shown with it to the model (its article's date or title) when the question needs it

    @property
    def text(self) -> str:
        return self.doc.text[self.start:self.end]

    @property
    def context(self) -> str:
        """What the passage needs to be read: its article's title and date, the paragraph it sits in,
        and the sentence before when it opens that paragraph ("It would cap it at 600,000." needs
        what "it" is). Checks read this; the model and the citation get `text`."""
        return context_of(self.doc, self.start, self.end)


@lru_cache(maxsize=2048)
def context_of(doc: Document, start: int, end: int, before: int = 400) -> str:
    """The title, the date and the text around [start, end), less any line that talks to the assistant."""
    from .grounding.guard import is_instruction
    from .text import sentence_spans

    text = doc.text
    para_start = text.rfind("\n", 0, start) + 1
    para_end = text.find("\n", end)
    para_end = len(text) if para_end < 0 else para_end
    if not text[para_start:start].strip():  # the passage opens its paragraph: add the end of the one before
        para_start = max(0, para_start - before)
    para_start = max(para_start, start - 3 * before)  # a text with no paragraph breaks: stay near the passage
    para_end = min(para_end, end + 2 * before)
    dated = f"{doc.published} {_spelled_date(doc.published)}".strip()
    around = text[para_start:para_end]
    kept = " ".join(around[a:b] for a, b in sentence_spans(around) if not is_instruction(around[a:b]))
    return f"{doc.title}\n{dated}{_weekdays(kept, doc.published)}\n{kept}"




def _weekdays(text: str, published: str) -> str:
    """The dates a news text means by "on Thursday" or "yesterday", read back from its publication
    date: "Thursday" in a story of Friday 2025-10-17 is October 16, 2025."""
    import datetime as dt
    import re

    try:
        day = dt.date.fromisoformat(published[:10])
    except ValueError:
        return ""
    out = []
    for word in set(re.findall(r"[a-z]+", text.lower())):
        if word in WEEKDAYS:
            back = (day.weekday() - WEEKDAYS.index(word)) % 7
            out.append(day - dt.timedelta(days=back))
        elif word in ("yesterday", "today", "tonight"):
            out.append(day - dt.timedelta(days=1 if word == "yesterday" else 0))
    return "".join(f" {_spelled_date(d.isoformat())}" for d in sorted(set(out)))


def _spelled_date(iso: str) -> str:
    """ "2025-11-26" -> "November 26, 2025", so a question's "Nov. 26" finds the article's date."""
    import datetime as dt

    try:
        d = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return ""
    return f"{d:%B} {d.day}, {d.year}"


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    outlet: str
    published: str
    url: str
    chunk_id: str
    quote: str  # the cited text, exactly doc.text[start:end]
    start: int
    end: int

    @classmethod
    def from_passage(cls, p: Passage) -> "Citation":
        return cls(n=p.n, doc_id=p.doc.id, title=p.doc.title, outlet=p.doc.outlet,
                   published=p.doc.published, url=p.doc.url, chunk_id=p.chunk_id,
                   quote=p.text, start=p.start, end=p.end)


@dataclass
class Timings:
    """Seconds spent in each stage of one answer."""

    rewrite: float = 0.0
    retrieve: float = 0.0
    select: float = 0.0
    prompt_eval: float = 0.0  # reading the prompt, up to the first token
    generate: float = 0.0  # writing the answer after the first token
    verify: float = 0.0  # checking the answer, a second look included
    second_look: float = 0.0  # asking again one passage at a time (0 when not needed)
    gate: float = 0.0  # the answer gate reading the candidate passages
    first_token: float = 0.0  # from the call to the first streamed text
    total: float = 0.0


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    abstained: bool
    question: str  # the question as asked
    standalone_question: str  # after follow-up rewriting
    passages: list[Passage] = field(default_factory=list)  # everything shown to the generator
    timings: Timings = field(default_factory=Timings)
    raw: str = ""  # the generator's own text before verification
    verdict: str = ""  # "verified", "repaired", "rescued", "declined: <reason>"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refusal_prob: float = -1.0  # the model's probability of declining, where the runtime reports it
    prompt_evaluated: int = 0  # prompt tokens computed for this answer (the rest were cached)
    confidence: float = 0.0  # calibrated probability that the answer is right (rag/gate/calibrate.py)
    threshold: float = 0.0  # the probability it had to reach for the configured max_risk
    signals: dict = field(default_factory=dict)  # what the decision read (gate scores, generator signals)
    candidate: str = ""  # on a decline by the threshold: the answer that was not given (for eval and debug)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passages"] = [
            {"n": p.n, "doc_id": p.doc.id, "chunk_id": p.chunk_id, "start": p.start, "end": p.end,
             "score": p.score, "text": p.text}
            for p in self.passages
        ]
        return d
