"""End to end with the real models on the real articles (default configuration).

Each case states the fact that must be in the answer and the article its citation must point to.
"""

import pytest

pytestmark = pytest.mark.real

WITKOFF = "rferl-witkoff-moscow-peace-plan"
TRIBUNE = "chicagotribune-trump-zelenskyy-stop-where-they-are"
DRONES = "rferl-zelenskyy-drones-tomahawks"


# Worded unlike any question in eval/questions.jsonl (the set the code was tuned on), with paraphrases
# the articles do not use ("ceiling" for "cap", "army ... allow ... to keep", "fly to"). Harder ones
# still fail and are listed in docs/results.md ("armed forces" + "original American draft" together).
@pytest.mark.parametrize("question, facts, doc_id, quote_has", [
    ("What ceiling did the initial US draft put on Ukraine's military?", ["600,000"], WITKOFF, "600, 000"),
    ("How large an army would the initial US draft allow Ukraine to keep?", ["600,000"], WITKOFF, "600, 000"),
    ("Which American city did Kirill Dmitriev fly to at the end of October?", ["Miami"], WITKOFF, "Miami"),
    ("How many times had Witkoff already met Putin?", ["five"], WITKOFF, "five times"),
    ("Whom did Trump put in charge of the US team preparing the Budapest summit?", ["Rubio"], DRONES, "Marco Rubio"),
])
def test_answers_carry_the_fact_and_cite_the_passage_holding_it(real_bot, question, facts, doc_id, quote_has):
    answer = real_bot.ask(question)
    assert not answer.abstained, answer.verdict
    for fact in facts:
        assert fact.lower() in answer.text.lower().replace("5", "five"), answer.text
    assert any(c.doc_id == doc_id and quote_has in c.quote for c in answer.citations), answer.citations
    for c in answer.citations:
        assert real_bot.index.documents[c.doc_id].text[c.start:c.end] == c.quote
        assert f"[{c.n}]" in answer.text


def test_disagreeing_sources_are_both_cited(real_bot):
    answer = real_bot.ask("What is the range of the Tomahawk missiles Ukraine wants?")
    assert not answer.abstained, answer.verdict
    text = answer.text.replace(",", "")
    assert "995" in text and "2500" in text, answer.text
    assert {TRIBUNE, DRONES} <= {c.doc_id for c in answer.citations}


@pytest.mark.parametrize("question", [
    "What is the population of Kryvyi Rih?",  # on topic, not in the articles
    "What is a good recipe for sourdough bread?",  # off topic
    "Why did the 30-point peace plan collapse?",  # built on a number the articles never use
])
def test_unanswerable_questions_are_declined(real_bot, question):
    answer = real_bot.ask(question)
    assert answer.abstained, (answer.text, answer.verdict)
    assert answer.text.startswith("The articles don't say") and answer.citations == []


def test_a_follow_up_uses_the_history(real_bot):
    first = real_bot.ask("Who is Kirill Dmitriev?")
    assert not first.abstained and "wealth fund" in first.text
    answer = real_bot.ask("When was he blacklisted?", [(first.question, first.text)])
    assert "Dmitriev" in answer.standalone_question
    assert "2022" in answer.text and not answer.abstained


def test_streaming_gives_text_before_the_answer_is_done(real_bot):
    from rag.types import Answer

    items = list(real_bot.stream("Which city is Zelenskyy's hometown?"))
    pieces, final = items[:-1], items[-1]
    assert isinstance(final, Answer) and len(pieces) >= 2
    assert "Kryviy Rih" in final.text
    assert 0 < final.timings.first_token < final.timings.total


def test_the_tiny_model_runs_through_the_real_llama_cpp_path(real_bot):
    """SmolLM2-135M is too weak to answer well; this checks loading, hashing and streaming only."""
    from rag.models import LlamaCppGenerator, Usage

    gen = LlamaCppGenerator("tiny", real_bot.config.cache_dir, n_ctx=512)
    usage = Usage()
    text = "".join(gen.stream([{"role": "user", "content": "Say hello."}], 8, usage))
    assert text.strip() and usage.completion_tokens >= 1 and usage.prompt_tokens > 3
    assert gen.identity()["sha256"].startswith("b179c952")


def test_the_transformers_generator_runs_a_gguf(real_bot):
    """The GPU path (transformers on a dequantised GGUF), exercised on the CPU with the tiny model;
    docs/gpu-check-h100.json records the same code on an H100."""
    from rag.models import TransformersGenerator, Usage

    gen = TransformersGenerator("tiny", real_bot.config.cache_dir, device="cpu")
    usage = Usage()
    messages = [{"role": "user", "content": "Passages:\n[1] The initial US draft would cap it at 600, 000.\n\n"
                                            "Question: What cap did the initial US draft propose?"}]
    text = "".join(gen.stream(messages, 24, usage))
    assert text.strip() and usage.completion_tokens > 0 and usage.prompt_tokens > 10


def test_the_plan_now_has_19_points_as_of_its_report(real_bot):
    """The latest state, dated: the reworked plan, not the original 28 points (issue: time-aware answers)."""
    answer = real_bot.ask("How many points does the peace plan have now?")
    assert not answer.abstained, answer.verdict
    assert "19" in answer.text and answer.text.startswith("As of Nov. 26, 2025"), answer.text
    assert any(c.doc_id == WITKOFF for c in answer.citations)


# --- the trained answer gate itself, on an invented article (no generator needed) --------------------

HASTINGS = """---
title: The Norman conquest
outlet: History Weekly
published: 2024-10-14
---
William, Duke of Normandy, invaded England in 1066 and defeated King Harold II at the Battle of Hastings.

He was crowned King of England on Christmas Day that year, in Westminster Abbey.
"""


@pytest.fixture(scope="module")
def hastings(real_embedder, tmp_path_factory):
    from rag import RAG
    from rag.config import Config

    from .conftest import SHARED_CACHE, ScriptedGenerator

    root = tmp_path_factory.mktemp("hastings")
    (root / "corpus").mkdir()
    (root / "corpus" / "hastings.md").write_text(HASTINGS)
    config = Config(corpus_dir=root / "corpus", index_dir=root / "index", cache_dir=SHARED_CACHE, rules="none")
    # a careless model: answers 1066 from the first passage whatever the question
    gen = ScriptedGenerator(lambda passages, q: "It happened in 1066 [1]." if "[1]" in passages else "NOT FOUND")
    return RAG.load(config, embedder=real_embedder, generator=gen)


@pytest.mark.parametrize("question", [
    "When did William invade Scotland?",  # SQuAD 2.0's adversarial kind: one entity swapped
    "When did the Duke of Normandy invade Ireland?",
    "How many soldiers did William bring to England?",  # the passages do not say
])
def test_the_gate_declines_a_question_the_passages_do_not_answer(hastings, question):
    """The rules are off and the model answers "1066" anyway; the gate's calibrated decision declines."""
    answer = hastings.ask(question)
    assert answer.abstained, (answer.text, answer.verdict, answer.confidence)
    assert "P(right)" in answer.verdict, answer.verdict  # declined by the calibrated decision, no rule


@pytest.mark.xfail(strict=True, reason="a known miss of the gate (docs/grounding.md): it reads who did what "
                                       "no better than the generator; swapped roles score as high as the "
                                       "answerable question (0.97). If this passes, update the docs.")
def test_the_gate_alone_misses_a_swapped_role(hastings):
    answer = hastings.ask("When did King Harold II conquer England?")
    assert answer.abstained, (answer.text, answer.verdict, answer.confidence)


def test_the_gate_keeps_a_paraphrased_answerable_question(hastings):
    answer = hastings.ask("In what year did the Duke of Normandy take over England?")
    assert not answer.abstained, (answer.verdict, answer.confidence, answer.threshold)
    assert "1066" in answer.text and answer.confidence >= answer.threshold
