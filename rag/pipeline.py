"""The RAG object: retrieve -> select -> prompt -> generate -> verify, plus document management.

    bot = RAG.load()                                  # builds the index if it is missing
    answer = bot.ask("What cap did the first draft propose?")
    for piece in bot.stream("Who is the mayor?"):      # text pieces, then the final Answer
        ...
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from .config import Config
from .errors import DocumentError, IndexMissing, InputError, RagError
from .grounding import constraints as qc
from .grounding.conflict import conflict_note, find_conflict, measures
from .grounding.verify import best_quote, quoted_from, verify
from .ingest import read_document
from .models import Embedder, Generator, Usage, complete, make_embedder, make_generator
from .prompt import ANSWER_DONE, CITE, NOT_FOUND, build_extract_messages, build_messages, is_refusal
from .retrieve import Retrieval, keep_to_question, query_terms, retrieve_chunks, select_passages, unknown_names
from .rewrite import rewrite
from .stores import build_index, index_stamp, open_index, rebuild, save_index, writing
from .stores.index import Index, corpus_fingerprint
from .text import numbers, words
from .types import Answer, Citation, Document, Passage, Timings

DECLINE = "The articles don't say."


@dataclass(frozen=True)
class AddResult:
    path: str
    status: str  # added | replaced | unchanged | skipped
    doc_id: str = ""
    reason: str = ""  # why it was skipped, or what was dropped on the way in (an unsafe URL)


class RAG:
    def __init__(self, config: Config, index: Index, embedder: Embedder, generator: Generator | None = None):
        self.config = config
        self.index = index
        self.embedder = embedder
        self._generators: dict[str, Generator] = {config.generator: generator} if generator else {}
        self._write_lock = threading.Lock()  # one document change at a time; readers use the old index
        self._load_lock = threading.Lock()  # one model load at a time

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def load(cls, config: Config | None = None, *, embedder: Embedder | None = None,
             generator: Generator | None = None, build_if_missing: bool = True, progress: bool = False) -> "RAG":
        """Open the index named by the config (building it from the corpus folder if it is missing).

        Refuses an index built with another embedder, other chunking or from changed articles.
        Models load lazily: the embedder on the first question, the generator on the first answer.
        """
        config = config or Config()
        embedder = embedder or make_embedder(config)
        corpus = corpus_fingerprint(config.corpus_dir) if config.corpus_dir.is_dir() else None
        try:
            index = open_index(config)
        except IndexMissing:
            if not build_if_missing:
                raise
            with writing(config):  # another process may be building it right now
                try:
                    index = open_index(config)
                except IndexMissing:
                    index = build_index(config, embedder, progress=progress)
            index.check_compatible(embedder.identity(), config.chunk_words, config.chunk_overlap, corpus)
        else:
            index.check_compatible(embedder.identity(), config.chunk_words, config.chunk_overlap, corpus)
        return cls(config, index, embedder, generator)

    @property
    def generator(self) -> Generator:
        """The configured generator (loaded on first use)."""
        return self.generator_for(self.config.generator)

    def generator_for(self, name: str) -> Generator:
        """A generator by registry name or reference; each is created once (under a lock, so two
        first questions never load a model twice) and reused."""
        with self._load_lock:
            if name not in self._generators:
                self._generators[name] = make_generator(config=self.config, name=name)
            return self._generators[name]

    def set_generator(self, generator: Generator, name: str | None = None) -> None:
        """Answer with this generator under `name` (default: the configured generator's name), e.g. one
        shared between several RAG objects, or a scripted one in tests."""
        if not isinstance(generator, Generator):
            raise InputError(f"{type(generator).__name__} is not a generator: subclass rag.models.Generator "
                             f"and give it stream(messages, max_tokens, usage)")
        with self._load_lock:
            self._generators[name or self.config.generator] = generator

    def warm_up(self, generator: bool = True) -> None:
        """Load the models now instead of on the first question, and read the prompt's fixed
        instructions once so that the first question only pays for its own passages."""
        getattr(self.embedder, "warm_up", lambda: None)()
        self.embedder.embed(["warm up"], query=True)
        if generator:
            getattr(self.generator, "warm_up", lambda: None)()
            for _ in self.generator.stream(build_messages([], "?"), 1, Usage()):
                pass

    # --- questions --------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        return check_question(question, self.config.max_question_chars)

    def retrieve(self, question: str, history: Sequence[tuple[str, str]] | None = None) -> Retrieval:
        """Retrieval only (no generation): the passages a question would be answered from."""
        q = self.check_question(question)
        standalone = rewrite(q, _clean_history(history))
        index = self._current_index()
        found = self._retrieve(standalone, Timings(), self.config, index)
        return keep_to_question(index, found, qc.constraints(standalone), self.config.passages)[0]

    def _retrieve(self, standalone: str, timings: Timings, c: Config, index: Index) -> Retrieval:
        t = time.perf_counter()
        terms = query_terms(index, standalone)
        qvec = self.embedder.embed([standalone], query=True)[0] if c.retrieval != "lexical" else None
        hits = retrieve_chunks(index, terms, qvec, c.retrieval, c.fusion, c.lexical_weight, c.top_chunks)
        timings.retrieve = time.perf_counter() - t
        t = time.perf_counter()
        passages, relevance = select_passages(index, terms, qvec, hits, c.passages, c.passage_words)
        timings.select = time.perf_counter() - t
        return Retrieval(hits, passages, relevance)

    def ask(self, question: str, history: Sequence[tuple[str, str]] | None = None, *,
            generator: str | None = None, passages: int | None = None) -> Answer:
        """Answer one question. `history` holds earlier (question, answer) turns, oldest first;
        `generator` and `passages` override the configuration for this call only."""
        answer = None
        for item in self.stream(question, history, generator=generator, passages=passages):
            if isinstance(item, Answer):
                answer = item
        return answer

    def stream(self, question: str, history: Sequence[tuple[str, str]] | None = None, *,
               generator: str | None = None, passages: int | None = None,
               evidence: bool = False) -> Iterator[str | Answer | Retrieval]:
        """Yield the answer's text as it is written, then the final, verified `Answer`; with
        `evidence=True`, first the `Retrieval` (the passages, about 10 ms in), so a page can show
        them while the answer is written.

        The final text can differ from the streamed pieces: verification may fix a citation,
        or replace an unsupported answer with a decline. One request reads one index snapshot
        from start to end, whatever documents are added or removed meanwhile.
        """
        start = time.perf_counter()
        q = self.check_question(question)
        config = self.config if passages is None else self.config.replace(passages=passages)
        gen = self.generator_for(generator or config.generator)
        index = self._current_index()
        timings = Timings()
        history = _clean_history(history)
        t = time.perf_counter()
        if config.rewrite_followups:
            standalone = rewrite(q, history, complete(gen, 48))
        else:
            standalone = q
        timings.rewrite = time.perf_counter() - t
        found = self._retrieve(standalone, timings, config, index)
        cons = qc.constraints(standalone)
        found, absent = keep_to_question(index, found, cons, config.passages)
        if evidence:
            yield found
        answer = Answer(text="", citations=[], abstained=True, question=q, standalone_question=standalone,
                        passages=found.passages, timings=timings)
        declined = self._gate(index, standalone, found, cons, absent, config)
        if declined:
            answer.text, answer.verdict = declined
            yield from self._finish(answer, start, first=True)
            return

        messages = build_messages(found.passages, standalone)
        usage = Usage()
        raw, held, first = "", "", True
        t = t_gen = time.perf_counter()
        pieces = gen.stream(messages, config.max_answer_tokens, usage)
        try:
            for piece in pieces:
                if first:
                    timings.prompt_eval = time.perf_counter() - t
                    t_gen = time.perf_counter()
                raw += piece
                held += piece
                # hold back text that may turn out to be the refusal marker
                if NOT_FOUND.startswith(held.strip().upper()) and held.strip():
                    continue
                if first:
                    timings.first_token = time.perf_counter() - start
                    first = False
                yield held
                held = ""
                if config.stop_at_citation and ANSWER_DONE.search(raw):
                    break  # one cited sentence is the whole answer: don't wait for the model to say so
        finally:
            close = getattr(pieces, "close", None)
            if close:
                close()  # an abandoned stream hands the model back at once
        timings.generate = time.perf_counter() - t_gen if raw else 0.0
        if not raw:
            timings.prompt_eval = time.perf_counter() - t
        answer.raw = raw
        answer.prompt_tokens, answer.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        answer.refusal_prob = usage.refusal_prob
        answer.prompt_evaluated = usage.prompt_evaluated

        t = time.perf_counter()
        self._settle(answer, found, index, gen, config)
        timings.verify = time.perf_counter() - t
        yield from self._finish(answer, start, first=first)

    def _gate(self, index: Index, standalone: str, found: Retrieval, cons: list, absent: list,
              config: Config) -> tuple[str, str] | None:
        """(text, verdict) when the question can be declined before generating: it rests on a number
        or a name no article has, nothing matches it, or no passage keeps to its details."""
        if absent and found.passages:
            instead = [a for c in absent for a in qc.alternatives(c, [p.context for p in found.passages])]
            text = f"{DECLINE} Nothing I found is about {qc.describe(absent)}"
            text += f"; the passages mention {', '.join(instead)}." if instead else "."
            return text, f"declined: no passage keeps to {qc.describe(absent)}"
        foreign = sorted(n for n in numbers(standalone) if len(n) >= 2 and n not in index.numbers)
        if foreign:
            return (f"{DECLINE} They never mention {foreign[0]}, so I can't answer a question built on it.",
                    f"declined: the question's number {foreign[0]} is in no article")
        unknown = unknown_names(index, [c for c in cons if c.kind == "entity"])
        if unknown:
            return (f"{DECLINE} They never mention {unknown[0]}.",
                    f"declined: the question's name {unknown[0]} is in no article")
        if not found.passages or found.relevance < config.min_relevance:
            return (DECLINE + " Nothing in them matches this question.",
                    f"declined: best passage relevance {found.relevance:.2f} is below {config.min_relevance:.2f}")
        return None

    def _settle(self, answer: Answer, found: Retrieval, index: Index, gen: Generator, config: Config) -> None:
        """Verify the raw answer; keep it (its citations repaired), take a second look, or decline."""
        passages = found.passages
        verdict = verify(answer.raw, passages, answer.standalone_question)
        if not verdict.ok and config.second_look and found.relevance >= config.second_look_relevance:
            t = time.perf_counter()
            second = self._second_look(answer.standalone_question, passages, gen)
            answer.timings.second_look = time.perf_counter() - t
            if second is not None:
                verdict = second
        if verdict.ok:
            text, cited = verdict.text, list(verdict.cited)
            # look for a disagreeing figure among the passages and the rest of the retrieved chunks
            candidates = passages + extra_passages(index, found.hits, passages)
            other = find_conflict(text, verdict.cited, candidates, answer.standalone_question)
            if other is not None:
                if other.n == 0:  # from the retrieved chunks: show it as the next numbered passage
                    other = dataclasses.replace(other, n=len(passages) + 1)
                    passages = answer.passages = passages + [other]
                text += " " + conflict_note(other, {fam for _, fam, _ in measures(text)})
                cited.append(other.n)
            answer.text, answer.abstained = text, False
            answer.citations = [Citation.from_passage(p) for n in cited for p in passages if p.n == n]
            answer.verdict = verdict.status + (f": {verdict.reason}" if verdict.reason else "")
            return
        quote = best_quote(answer.raw, passages, answer.standalone_question) \
            if verdict.status == "failed" and config.quote_fallback else None
        if quote is not None:
            answer.text = f"The closest the articles come: “{' '.join(quote.text.split())}” [{quote.n}]"
            answer.citations, answer.abstained = [Citation.from_passage(quote)], False
            answer.verdict = f"quoted: {verdict.reason}"
            return
        answer.text = DECLINE
        if verdict.status == "failed":
            answer.text += " The model's answer could not be checked against the passages, so I won't guess."
        answer.verdict = f"declined: {verdict.reason}"

    def _second_look(self, question: str, passages: list[Passage], gen: Generator):
        """Ask again, narrower: one passage at a time, "copy the words that answer". A copied span that
        verifies (and keeps to the question) stands; the model's own words are never trusted more."""
        ask = complete(gen, 40)
        for p in passages[:self.config.second_look_passages]:
            raw = ask(build_extract_messages(p, question)).strip()
            span = CITE.sub("", raw).strip().strip('"“”').rstrip(".")
            if is_refusal(span) or not quoted_from(span, p.text):
                continue
            verdict = verify(f"{span} [{p.n}].", passages, question)
            if verdict.ok:
                return dataclasses.replace(verdict, status="rescued", reason=f"second look at passage {p.n}")
        return None

    def _finish(self, answer: Answer, start: float, first: bool) -> Iterator[str | Answer]:
        answer.timings.total = time.perf_counter() - start
        if first:
            answer.timings.first_token = answer.timings.total
        yield answer

    # --- documents -----------------------------------------------------------------------------
    def _current_index(self) -> Index:
        """The index to use for one request, from start to end.

        It is the one in memory, first replaced by the latest commit when another process (say
        `rag index add`) or another RAG object has changed the index folder since: that check is one
        stat call. While this object is writing a change of its own, the last commit is used.
        """
        index = self.index
        if index.stamp is None or index_stamp(self.config) in (None, index.stamp):
            return index
        if not self._write_lock.acquire(blocking=False):
            return index  # a change of ours is being written; it replaces self.index when done
        try:
            return self._latest_index()
        finally:
            self._write_lock.release()

    def _latest_index(self) -> Index:
        """The latest committed index (read again if it changed); the caller holds self._write_lock."""
        index, c = self.index, self.config
        if index.stamp is not None and index_stamp(c) not in (None, index.stamp):
            fresh = open_index(c)
            fresh.check_compatible(self.embedder.identity(), c.chunk_words, c.chunk_overlap, None)
            self.index = index = fresh
        return index

    def documents(self) -> list[Document]:
        return list(self._current_index().documents.values())

    def add_documents(self, paths: Sequence[str | Path | Document], progress: bool = False) -> list[AddResult]:
        """Index files, or Documents already read (a fetched page, a feed's article: their `source`,
        else `url`, is the result's path); each result says added, replaced (same id, new text),
        unchanged or skipped (why).

        A file that cannot be read is skipped; the others are indexed, and nothing indexed is lost:
        the change is applied to the latest commit, under the index folder's writer lock, so that a
        change made meanwhile by another process (or RAG object) is kept.
        """
        read = []
        for path in paths:
            if isinstance(path, Document):
                empty = not path.id or len(path.text.split()) < 3
                read.append((path.source or path.url or path.id,
                             DocumentError(f"{path.id or '(no id)'}: no id or no readable text") if empty else path))
                continue
            try:
                read.append((path, read_document(path, max_mb=self.config.max_file_mb)))
            except DocumentError as exc:
                read.append((path, exc))
        with self._write_lock, writing(self.config):
            base = self._latest_index()
            current = dict(base.documents)
            by_hash = {d.sha256: d.id for d in current.values()}
            results, changed = [], False
            for path, doc in read:
                if isinstance(doc, DocumentError):
                    results.append(AddResult(str(path), "skipped", reason=str(doc)))
                    continue
                if doc.sha256 in by_hash:
                    same = by_hash[doc.sha256]
                    results.append(AddResult(str(path), "unchanged", same,
                                             "already indexed" + (f" as '{same}'" if same != doc.id else "")))
                    continue
                status = "replaced" if doc.id in current else "added"
                if status == "replaced":
                    by_hash.pop(current[doc.id].sha256, None)
                current[doc.id] = doc
                by_hash[doc.sha256] = doc.id
                changed = True
                results.append(AddResult(str(path), status, doc.id, reason="; ".join(doc.warnings)))
            if changed:
                self._replace_documents(base, list(current.values()), progress)
            return results

    def remove_document(self, doc_id: str) -> Document:
        with self._write_lock, writing(self.config):
            base = self._latest_index()
            current = dict(base.documents)
            if doc_id not in current:
                known = ", ".join(sorted(current)) or "none"
                raise RagError(f"no document with id '{doc_id}'. Indexed ids: {known}")
            removed = current.pop(doc_id)
            self._replace_documents(base, list(current.values()), progress=False)
            return removed

    def _replace_documents(self, base: Index, docs: list[Document], progress: bool) -> None:
        new_index = rebuild(base, docs, self.embedder, progress=progress)
        save_index(self.config, new_index)
        self.index = new_index  # readers holding the old object finish on it undisturbed


def extra_passages(index: Index, hits, shown: list[Passage]) -> list[Passage]:
    """Sentences of the retrieved chunks that are not shown already, as unnumbered (n=0) passages."""
    taken = {(p.doc.id, p.sentence_start) for p in shown}
    out, seen = [], set()
    for hit in hits:
        doc = index.documents[hit.chunk.doc_id]
        for a, b in hit.chunk.sentences:
            key = (doc.id, a)
            if key not in taken and key not in seen:
                seen.add(key)
                out.append(Passage(0, doc, hit.chunk.id, a, b, hit.score, a, b))
    return out


def check_question(question: str, max_chars: int = 1000) -> str:
    """The question with whitespace collapsed; InputError when it is empty, too long or not text."""
    if not isinstance(question, str):
        raise InputError(f"the question must be text, not {type(question).__name__}")
    q = " ".join(question.split())
    if not q:
        raise InputError("the question is empty: type a question about the articles")
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q):,} characters long; the limit is {max_chars:,}. "
                         f"Ask a shorter question.")
    if not words(q):
        raise InputError("the question has no words in it: type a question about the articles")
    return q


def _clean_history(history) -> list[tuple[str, str]]:
    """Earlier turns as (question, answer) pairs; InputError for any other shape."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise InputError(f"history must be a list of (question, answer) pairs of text, not {type(history).__name__}")
    out = []
    for turn in history:
        if isinstance(turn, dict):  # gradio "messages" format is handled by the app; accept pairs here
            continue
        if isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(x, str) for x in turn):
            out.append((turn[0], turn[1]))
        else:
            raise InputError("history must be a list of (question, answer) pairs of text")
    return out
