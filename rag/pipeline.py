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
from pathlib import Path
from typing import Iterator, Sequence

from . import decide, when
from .config import Config
from .errors import DocumentError, IndexMissing, InputError, RagError
from .generate import write_answer
from .grounding import constraints as qc
from .inputs import check_question, clean_history
from .library import AddResult, merge, read_all
from .models import Embedder, Generator, Usage, complete, make_embedder, make_generator
from .prompt import build_messages
from .recency import TIME_POOL, event_date, hits_in_time, in_time, oldest_first, time_bound
from .retrieve import (Retrieval, gate_scores, keep_to_question, query_terms, rank_with_gate, retrieve_chunks,
                       select_passages)
from .rewrite import is_followup, rewrite
from .stores import build_index, index_stamp, open_index, rebuild, save_index, writing
from .stores.index import Index, corpus_fingerprint
from .types import Answer, Document, Timings

DECLINE = decide.DECLINE


class RAG:
    def __init__(self, config: Config, index: Index, embedder: Embedder, generator: Generator | None = None,
                 gate=None):
        self.config = config
        self.index = index
        self.embedder = embedder
        self.gate = gate  # the answer gate (rag.gate.AnswerGate), loaded on first use when None
        self._decisions: dict[str, object] = {}  # generator name -> its calibrated Decision
        self._generators: dict[str, Generator] = {config.generator: generator} if generator else {}
        self._write_lock = threading.Lock()  # one document change at a time; readers use the old index
        self._load_lock = threading.Lock()  # one model load at a time

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def load(cls, config: Config | None = None, *, embedder: Embedder | None = None,
             generator: Generator | None = None, gate=None, build_if_missing: bool = True,
             progress: bool = False) -> "RAG":
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
        return cls(config, index, embedder, generator, gate)

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
        gate = self._gate()
        if gate is not None:
            gate.warm_up()
        if generator:
            getattr(self.generator, "warm_up", lambda: None)()
            for _ in self.generator.stream(build_messages([], "?"), 1, Usage()):
                pass

    # --- questions --------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        return check_question(question, self.config.max_question_chars)

    def retrieve(self, question: str, history: Sequence[tuple[str, str]] | None = None) -> Retrieval:
        """Retrieval only (no generation): the passages a question would be answered from, best first
        (an answer shows them to the model by date instead)."""
        q = self.check_question(question)
        standalone = rewrite(q, clean_history(history))
        return self._retrieve(standalone, Timings(), self.config, self._current_index())[0]

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
        `evidence=True`, first the `Retrieval` (the passages, milliseconds in), so a page can show
        them while the answer is written.

        rewrite -> retrieve -> decide before -> write -> settle. The final text can differ from the
        streamed pieces: settling may fix a citation or replace the answer with a decline. One request
        reads one index snapshot from start to end, whatever documents are added or removed meanwhile.
        """
        start = time.perf_counter()
        q = self.check_question(question)
        config = self.config if passages is None else self.config.replace(passages=passages)
        gen = self.generator_for(generator or config.generator)
        index, timings, history = self._current_index(), Timings(), clean_history(history)
        if evidence and config.rewrite_followups and is_followup(q, history):
            # evidence first for a follow-up too: the passages for it read with the previous question,
            # shown while the model rewrites it; replaced by those of the standalone question below
            yield self._retrieve(f"{history[-1][0]} {q}", Timings(), config, index, gate=False)[0]
        standalone = self._rewrite(q, history, gen, config, timings)
        found, absent = self._retrieve(standalone, timings, config, index)
        found = oldest_first(found)  # as the model reads them: by date, the newest next to the question
        if evidence:
            yield found
        answer = Answer(text="", citations=[], abstained=True, question=q, standalone_question=standalone,
                        passages=found.passages, timings=timings)
        signals = decide.signals_before(found)
        decision = self.decision_for(generator or config.generator)
        early = decide.before(index, standalone, found, absent, config, decision, signals)
        if early:
            answer.text, answer.verdict, answer.confidence = early
        else:
            messages = build_messages(found.passages, standalone, when.spelled(when.today(config.as_of)),
                                      config.passage_dates)
            answer.raw, usage = yield from write_answer(gen, messages, config, timings, start)
            self._read_usage(answer, usage, signals)
            t = time.perf_counter()
            decide.settle(answer, found, index, config, complete(gen, 40), self._gate(), decision, signals,
                          self.scope(standalone, index))
            timings.verify = time.perf_counter() - t - timings.second_look
        answer.signals = signals.to_dict()
        timings.total = time.perf_counter() - start
        timings.first_token = timings.first_token or timings.total
        yield answer

    def _rewrite(self, q: str, history: list, gen: Generator, config: Config, timings: Timings) -> str:
        t = time.perf_counter()
        standalone = rewrite(q, history, complete(gen, 48)) if config.rewrite_followups else q
        timings.rewrite = time.perf_counter() - t
        return standalone

    def _retrieve(self, standalone: str, timings: Timings, c: Config, index: Index,
                  gate: bool = True) -> tuple[Retrieval, list]:
        """The passages for a question, ranked with the gate when there is one (and `gate`); and the
        details of the question no passage keeps to (for the constraints rule)."""
        t = time.perf_counter()
        sc, today = self.scope(standalone, index), when.today(c.as_of)
        bound = time_bound(index, sc, today)
        content = sc.content(standalone) if bound else standalone  # the period is a filter, not words
        terms = query_terms(index, content)
        qvec = self.embedder.embed([content], query=True)[0] if c.retrieval != "lexical" else None
        pool = c.top_chunks * TIME_POOL if bound else c.top_chunks
        hits = retrieve_chunks(index, terms, qvec, c.retrieval, c.fusion, c.lexical_weight, pool)
        if bound:
            hits = hits_in_time(index, hits, sc, today, c.recency_weight, c.top_chunks)
        timings.retrieve = time.perf_counter() - t
        t = time.perf_counter()
        gate = self._gate() if gate else None
        count = max(c.passages, c.gate_candidates)
        passages, relevance = select_passages(index, terms, qvec, hits, count, c.passage_words)
        found = in_time(Retrieval(hits, passages, relevance), sc, today, c.recency_weight)
        timings.select = time.perf_counter() - t
        if gate:
            t = time.perf_counter()
            found = rank_with_gate(found, standalone, gate, c.passages, c.gate_weight)
            timings.gate = time.perf_counter() - t
        else:
            found = dataclasses.replace(found, passages=found.passages[:c.passages])
        # passages that lack a detail the question pins down carry their article's date or title
        found, absent = keep_to_question(index, found, qc.constraints(standalone), c.passages)
        if gate:
            found = gate_scores(found, standalone, gate)
        return found, absent

    def scope(self, question: str, index: Index) -> when.Scope:
        """The period a question asks about, read against `as_of`; an event ("since the summit") is
        dated by the report that matches it best."""
        return when.scope(question, when.today(self.config.as_of), lambda phrase: event_date(index, phrase))

    def _read_usage(self, answer: Answer, usage, signals) -> None:
        answer.prompt_tokens, answer.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        answer.refusal_prob = signals.refusal_prob = usage.refusal_prob
        signals.answer_logprob = usage.answer_logprob
        answer.prompt_evaluated = usage.prompt_evaluated

    # --- the answer gate --------------------------------------------------------------------------
    def _gate(self):
        """The answer gate named by the config (loaded on first use), or None when it is off."""
        if not self.config.gate:
            return None
        with self._load_lock:
            if self.gate is None:
                from .gate import AnswerGate

                self.gate = AnswerGate(self.config.gate, self.config.cache_dir)
            return self.gate

    def decision_for(self, generator: str):
        """The calibrated decision for a generator (rag/gate/weights/calibration.json): the one fitted
        for it, else the generator-free one; None without a gate or a calibration."""
        gate = self._gate()
        if gate is None:
            return None
        with self._load_lock:
            if generator not in self._decisions:
                self._decisions[generator] = gate.decision(generator)
            return self._decisions[generator]

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
        read = read_all(paths, self.config.max_file_mb)
        with self._write_lock, writing(self.config):
            base = self._latest_index()
            current, results, changed = merge(dict(base.documents), read)
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
