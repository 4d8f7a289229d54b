"""The pipeline with a hash embedder and scripted generators: behaviour, not models."""

import pytest

from rag import RAG
from rag.errors import InputError, RagError
from rag.types import Answer

from .conftest import ScriptedGenerator, extractive

CAP_Q = "What would the initial US draft cap the military at?"


def test_a_grounded_answer_cites_the_exact_span(bot):
    answer = bot.ask(CAP_Q)
    assert not answer.abstained
    assert "600,000" in answer.text
    assert answer.citations, answer
    c = answer.citations[0]
    doc = bot.index.documents[c.doc_id]
    assert doc.text[c.start:c.end] == c.quote
    assert "600, 000" in c.quote
    assert (c.outlet, c.published) == ("RFE/RL", "2025-11-26")
    assert c.url.startswith("https://www.rferl.org/")
    assert f"[{c.n}]" in answer.text


def test_stream_yields_text_then_the_final_answer(bot):
    items = list(bot.stream(CAP_Q))
    assert isinstance(items[-1], Answer)
    assert all(isinstance(i, str) for i in items[:-1]) and len(items) > 2
    assert items[-1].timings.total >= items[-1].timings.first_token > 0


def test_the_model_refusing_means_a_decline_without_citations(config, fake_embedder):
    bot = RAG.load(config, embedder=fake_embedder, generator=ScriptedGenerator("NOT FOUND"))
    answer = bot.ask("What is the population of Kryvyi Rih?")
    assert answer.abstained and answer.citations == []
    assert answer.text.startswith("The articles don't say")
    assert answer.passages  # the closest passages are still there to show
    streamed = [i for i in bot.stream("What is the population of Kryvyi Rih?") if isinstance(i, str)]
    assert streamed == []  # the refusal marker itself is never streamed


def test_an_invented_figure_is_not_passed_on(config, fake_embedder):
    bot = RAG.load(config, embedder=fake_embedder,
                   generator=ScriptedGenerator("The initial US draft would cap it at 350,000 [1]."))
    answer = bot.ask(CAP_Q)
    assert answer.abstained and "350,000" not in answer.text
    assert "350000" in answer.verdict


def test_irrelevant_questions_are_declined_before_generation(tmp_path, corpus_dir, fake_embedder):
    from rag.config import Config

    gen = ScriptedGenerator("Paris [1].")
    config = Config(gate="", corpus_dir=corpus_dir, index_dir=tmp_path / "i", cache_dir=tmp_path / "c", min_relevance=0.5)
    bot = RAG.load(config, embedder=fake_embedder, generator=gen)
    answer = bot.ask("Best sourdough starter hydration ratio?")
    assert answer.abstained and gen.calls == []
    assert "relevance" in answer.verdict


def test_conflicting_sources_are_both_cited(config, fake_embedder):
    bot = RAG.load(config.replace(passages=6), embedder=fake_embedder,
                   generator=ScriptedGenerator(lambda p, q: _cite(p, "995 miles", "Tomahawks have a range of about 995 miles")))
    answer = bot.ask("What is the range of the Tomahawk missiles Ukraine wants?")
    assert "995" in answer.text and "2,500 kilometers" in answer.text and "disagree" in answer.text
    assert {c.doc_id for c in answer.citations} == {"chicagotribune-trump-zelenskyy-stop-where-they-are",
                                                    "rferl-zelenskyy-drones-tomahawks"}


def _cite(passages: str, needle: str, text: str) -> str:
    for line in passages.splitlines():
        if needle in line:
            return f"{text} [{line[1:line.index(']')]}]."
    return "NOT FOUND"


def test_followups_are_rewritten_before_retrieval(bot):
    history = [("Who is Kirill Dmitriev?", "He heads Russia's sovereign wealth fund [1].")]
    answer = bot.ask("When was he blacklisted?", history)
    assert answer.standalone_question != "When was he blacklisted?"
    assert "Dmitriev" in answer.standalone_question
    assert any("blacklisted" in p.text for p in answer.passages)


@pytest.mark.parametrize("question, message", [
    ("", "empty"), ("   \n\t ", "empty"), ("?!", "no words"), ("x" * 1001, "1,001 characters"),
    (None, "must be text"),
])
def test_bad_questions_raise_input_errors(bot, question, message):
    with pytest.raises(InputError, match=message):
        bot.ask(question)


def test_malformed_history_is_an_input_error(bot):
    with pytest.raises(InputError, match="history"):
        bot.ask("Who is Witkoff?", history=[("only one part",)])


def test_add_replace_skip_and_remove_documents(bot, tmp_path):
    good = tmp_path / "harbor-news.md"
    good.write_text("---\ntitle: Harbor reopens\noutlet: Harbor Daily\n---\n\nThe harbor reopened on Monday "
                    "after a three-week closure. Ferry service resumes on Wednesday.")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\x00\x00" * 100)
    results = bot.add_documents([good, empty, binary, tmp_path / "missing.md"])
    assert [r.status for r in results] == ["added", "skipped", "skipped", "skipped"]
    assert "no readable text" in results[1].reason and "binary" in results[2].reason
    assert {d.id for d in bot.documents()} >= {"harbor-news", "rferl-witkoff-moscow-peace-plan"}
    assert len(bot.documents()) == 4  # nothing already indexed was lost

    again = bot.add_documents([good])
    assert again[0].status == "unchanged"
    good.write_text(good.read_text().replace("Wednesday", "Thursday"))
    assert bot.add_documents([good])[0].status == "replaced"
    texts = [c.text for c in bot.index.chunks if c.doc_id == "harbor-news"]
    assert any("Thursday" in t for t in texts) and not any("Wednesday" in t for t in texts)

    answer = bot.ask("When does ferry service resume after the harbor reopened?")
    assert any(c.doc_id == "harbor-news" for c in answer.citations)

    # the change is on disk: a fresh load sees it
    reloaded = RAG.load(bot.config, embedder=bot.embedder, generator=ScriptedGenerator(extractive))
    assert "harbor-news" in {d.id for d in reloaded.documents()}

    removed = bot.remove_document("harbor-news")
    assert removed.title == "Harbor reopens"
    assert "harbor-news" not in {d.id for d in bot.documents()}
    with pytest.raises(RagError, match="no document with id 'harbor-news'"):
        bot.remove_document("harbor-news")


def test_duplicate_content_under_another_name_is_not_indexed_twice(bot, corpus_dir, tmp_path):
    copy = tmp_path / "same-article.md"
    copy.write_bytes((corpus_dir / "rferl-witkoff-moscow-peace-plan.md").read_bytes())
    r = bot.add_documents([copy])[0]
    assert r.status == "unchanged" and "rferl-witkoff-moscow-peace-plan" in r.reason


def test_load_builds_a_missing_index_once_and_reuses_it(config, fake_embedder):
    RAG.load(config, embedder=fake_embedder, generator=ScriptedGenerator("x"))
    calls = fake_embedder.calls
    RAG.load(config, embedder=fake_embedder, generator=ScriptedGenerator("x"))
    assert fake_embedder.calls == calls and (config.index_dir / "manifest.json").exists()


def test_load_refuses_an_index_made_from_other_articles(config, fake_embedder):
    from rag.errors import IndexStale

    RAG.load(config, embedder=fake_embedder)
    article = config.corpus_dir / "rferl-witkoff-moscow-peace-plan.md"
    article.write_text(article.read_text().replace("sixth time", "seventh time"))
    with pytest.raises(IndexStale, match="rag index build"):
        RAG.load(config, embedder=fake_embedder)


def test_importing_rag_loads_no_model():
    import subprocess
    import sys

    code = ("import sys, rag; from rag import RAG, Config; "
            "heavy = [m for m in ('torch', 'sentence_transformers', 'llama_cpp', 'faiss', 'gradio') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_disagreeing_figure_outside_the_shown_passages_is_found_and_cited(config, fake_embedder):
    """Only 2 passages are shown; the other article's figure sits in the retrieved chunks."""
    bot = RAG.load(config.replace(passages=2), embedder=fake_embedder,
                   generator=ScriptedGenerator(lambda p, q: _cite(p, "2,500", "Tomahawks have a range of up to 2,500 kilometers")))
    answer = bot.ask("Tomahawk missiles have a range of up to how many kilometers?")
    assert "2,500 kilometers" in answer.text and "995 miles" in answer.text, answer.text
    assert len(answer.passages) == 3 and answer.citations[-1].n == 3
    assert answer.citations[-1].doc_id == "chicagotribune-trump-zelenskyy-stop-where-they-are"


def test_writing_stops_once_a_sentence_ends_with_its_citation(config, fake_embedder):
    """The answer is one cited sentence: the model is not kept writing past "... [n].", and its
    context is handed back at once. With the option off, everything it writes is read."""
    closed = []

    class Chatty(ScriptedGenerator):
        def stream(self, messages, max_tokens, usage):
            try:
                yield from super().stream(messages, max_tokens, usage)
            finally:
                closed.append(True)

    chatty = Chatty(lambda passages, q: _cite(passages, "600, 000", "The initial US draft would cap it at 600,000") +
                    " Also, the weather was mild [1].")
    bot = RAG.load(config, embedder=fake_embedder, generator=chatty)
    answer = bot.ask(CAP_Q)
    assert not answer.abstained and "600,000" in answer.text
    assert "weather" not in answer.raw and answer.raw.rstrip().endswith("].")
    assert closed == [True]
    loose = RAG.load(config.replace(stop_at_citation=False, second_look=False), embedder=fake_embedder,
                     generator=chatty)
    assert "weather" in loose.ask(CAP_Q).raw


def test_a_follow_up_shows_passages_before_the_model_rewrites_it(bot):
    """Evidence first for follow-ups: the first thing streamed is a Retrieval read with the previous
    question, before the generator has been asked anything (the rewrite is its first call); the
    standalone question's passages follow, then the answer."""
    from rag.retrieve import Retrieval
    from rag.types import Answer

    gen = bot.generator
    history = [("What cap on Ukraine's military did the first US draft propose?", "600,000 [1].")]
    stream = bot.stream("And who wrote it?", history, evidence=True)
    first = next(stream)
    assert isinstance(first, Retrieval) and first.passages and gen.calls == []
    rest = list(stream)
    assert isinstance(rest[0], Retrieval) and isinstance(rest[-1], Answer)
    assert len(gen.calls) >= 2  # the rewrite, then the answer
