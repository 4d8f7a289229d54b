"""Races, each made deterministic: a document removed while a question is being answered, two first
questions loading one model, and an abandoned answer stream."""

from __future__ import annotations

import threading
import time

import pytest

from rag import RAG
from rag.config import Config
from rag.retrieve import Retrieval
from rag.types import Answer

from .conftest import CORPUS, HashEmbedder, ScriptedGenerator, extractive

QUESTION = "What would the initial US draft cap the military at?"


def make_bot(tmp_path, generator) -> RAG:
    config = Config(gate="", corpus_dir=CORPUS, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", min_relevance=0.0)
    return RAG.load(config, embedder=HashEmbedder(), generator=generator)


def test_removing_a_document_mid_question_leaves_that_question_on_its_snapshot(tmp_path):
    bot = make_bot(tmp_path, ScriptedGenerator(extractive))
    stream = bot.stream(QUESTION, evidence=True)
    found = next(stream)
    assert isinstance(found, Retrieval) and found.passages
    doomed = found.passages[0].doc.id
    bot.remove_document(doomed)  # between retrieval and generation
    assert doomed not in {d.id for d in bot.documents()}
    items = list(stream)
    answer = items[-1]
    assert isinstance(answer, Answer) and not answer.abstained, answer.verdict
    assert any(c.doc_id == doomed for c in answer.citations)
    snapshot = {p.doc.id: p.doc for p in found.passages}
    for c in answer.citations:  # the citation still quotes the text the answer was read from
        assert c.quote == snapshot[c.doc_id].text[c.start:c.end]
    later = bot.ask(QUESTION)  # the next question reads the index without it
    assert all(c.doc_id != doomed for c in later.citations) and all(p.doc.id != doomed for p in later.passages)


def test_two_first_questions_load_the_model_once(tmp_path, monkeypatch):
    import rag.pipeline as pipeline

    made = []

    def slow_make(name, *args, **kwargs):
        made.append(name)
        time.sleep(0.3)
        return ScriptedGenerator(extractive)

    monkeypatch.setattr(pipeline, "make_generator", slow_make)
    bot = make_bot(tmp_path, None)
    got = []
    threads = [threading.Thread(target=lambda: got.append(bot.generator_for("quality"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == ["quality"] and len({id(g) for g in got}) == 1


class HoldingGenerator(ScriptedGenerator):
    """Holds one context, like llama.cpp: a lock taken while pieces are produced."""

    def __init__(self):
        super().__init__(extractive)
        self.lock = threading.Lock()

    def stream(self, messages, max_tokens, usage):
        if not self.lock.acquire(timeout=5):
            raise TimeoutError("the model was never handed back")
        try:
            yield from super().stream(messages, max_tokens, usage)
        finally:
            self.lock.release()


def test_an_abandoned_stream_hands_the_model_back(tmp_path):
    gen = HoldingGenerator()
    bot = make_bot(tmp_path, gen)
    stream = bot.stream(QUESTION)
    assert isinstance(next(stream), str)  # the model is now mid-answer
    assert gen.lock.locked()
    stream.close()  # the user went away
    assert not gen.lock.locked()
    assert not bot.ask(QUESTION).abstained  # the next user is served at once


def test_set_generator_is_the_public_door(tmp_path):
    bot = make_bot(tmp_path, None)
    gen = ScriptedGenerator("NOT FOUND")
    bot.set_generator(gen, "custom")
    assert bot.generator_for("custom") is gen
    bot.ask(QUESTION, generator="custom")
    assert gen.calls
