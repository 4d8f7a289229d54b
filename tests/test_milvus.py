"""The Milvus store (rag/milvus.py) on a real Milvus Lite file, side by side with the FAISS store.

Fast tier: the real Milvus Lite with the hash embedder and the extractive fake generator, so each
lifecycle step (build, ask, cite, add, replace, remove, reload, a second RAG object, mismatch
refusal) runs on both stores in seconds. Real tier: the real embedder and generator on Milvus.
"""

from __future__ import annotations

import pytest

from rag import RAG
from rag.errors import ConfigError, IndexStale

from .conftest import SHARED_CACHE, HashEmbedder, ScriptedGenerator, extractive

pytest.importorskip("pymilvus", reason="the milvus extra is missing. Fix: pip install -e '.[milvus]'")

WITKOFF = "rferl-witkoff-moscow-peace-plan"
CAP = "What cap on Ukraine's military did the first US draft propose?"
HARBOR = ("---\ntitle: Harbor reopens\noutlet: Harbor Daily\n---\n\nThe harbor of Velmora reopened on "
          "Wednesday after a storm closed it for nine days. Officials said 40 ships waited offshore.\n")


def store_config(config, store: str, tmp_path):
    if store == "faiss":
        return config
    return config.replace(vector_store="milvus", milvus_uri=str(tmp_path / "milvus.db"))


def load(config, embedder):
    return RAG.load(config, embedder=embedder, generator=ScriptedGenerator(extractive))


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_build_ask_add_replace_remove_reload(store, config, tmp_path):
    config = store_config(config, store, tmp_path)
    emb = HashEmbedder()
    bot = load(config, emb)
    assert type(bot.index.store).__name__ == ("MilvusStore" if store == "milvus" else "FaissStore")
    answer = bot.ask(CAP)
    assert not answer.abstained and any(c.doc_id == WITKOFF for c in answer.citations), answer.verdict

    other = load(config, emb)  # a second RAG object on the same index (another app replica)
    article = tmp_path / "harbor.md"
    article.write_text(HARBOR)
    assert [r.status for r in bot.add_documents([article])] == ["added"]
    assert "harbor" in {d.id for d in other.documents()}  # sees the change without a restart
    assert "Velmora" in other.ask("How many days was the Velmora harbor closed?").text

    embedded = emb.texts_embedded
    assert bot.add_documents([article])[0].status == "unchanged" and emb.texts_embedded == embedded
    article.write_text(HARBOR.replace("nine days", "ten days"))
    assert bot.add_documents([article])[0].status == "replaced"
    assert emb.texts_embedded - embedded <= 3  # only the changed sentence and its chunk, not the corpus

    bot.remove_document("harbor")
    assert "harbor" not in {d.id for d in other.documents()}
    reloaded = load(config, emb)
    assert {d.id for d in reloaded.documents()} == {d.id for d in bot.documents()}
    assert len(reloaded.index.chunks) == len(bot.index.chunks)
    assert reloaded.ask(CAP).text == answer.text


def test_both_stores_give_the_same_passages(config, tmp_path):
    emb = HashEmbedder()
    faiss_bot = load(config, emb)
    milvus_bot = load(store_config(config.replace(index_dir=tmp_path / "m-index"), "milvus", tmp_path), emb)
    for question in (CAP, "Which city is Zelenskyy's hometown?", "Who is Kirill Dmitriev?"):
        a, b = faiss_bot.retrieve(question), milvus_bot.retrieve(question)
        assert [(p.doc.id, p.start, p.end) for p in a.passages] == [(p.doc.id, p.start, p.end) for p in b.passages]


def test_rows_are_visible_in_milvus(config, tmp_path):
    from pymilvus import MilvusClient

    config = store_config(config, "milvus", tmp_path)
    bot = load(config, HashEmbedder())
    n = len(bot.index.chunks)
    client = MilvusClient(str(tmp_path / "milvus.db"))
    chunks = client.query("rag_news_chunks", filter="", output_fields=["doc_id"], limit=16_000)
    sentences = client.query("rag_news_sentences", filter="", output_fields=["pk"], limit=16_000)
    assert len(chunks) == n and len(sentences) == len(bot.index.sentences)
    assert WITKOFF in {r["doc_id"] for r in chunks}


def test_a_collection_built_with_another_embedder_is_refused(config, tmp_path):
    config = store_config(config, "milvus", tmp_path)
    load(config, HashEmbedder())

    class OtherEmbedder(HashEmbedder):
        def identity(self):
            return {"name": "other", "model_id": "tests/other", "sha256": "1" * 64}

    with pytest.raises(IndexStale, match="built with embedder.*Rebuild with: rag index build"):
        load(config, OtherEmbedder())


def test_milvus_needs_a_uri():
    from rag.config import Config

    with pytest.raises(ConfigError, match="milvus_uri must name"):
        Config(vector_store="milvus")


@pytest.mark.real
def test_the_real_models_answer_from_milvus_with_a_citation(real_embedder, tmp_path):
    from rag.config import Config

    config = Config(index_dir=tmp_path / "index", cache_dir=SHARED_CACHE, vector_store="milvus",
                    milvus_uri=str(tmp_path / "milvus.db"))
    bot = RAG.load(config, embedder=real_embedder)
    answer = bot.ask(CAP)
    assert not answer.abstained and "600" in answer.text, (answer.raw, answer.verdict)
    assert any(c.doc_id == WITKOFF and "600, 000" in c.quote for c in answer.citations), answer.citations


def test_a_manifest_larger_than_one_row_is_stored_in_parts(config, tmp_path, monkeypatch):
    """The manifest lists every article: at a few thousand it outgrows a VARCHAR (65,535 bytes; the
    100k-chunk bench hit it). It is written in parts before the one-row commit point; a new commit's
    parts replace the last one's, and a lost part is an error that says how to rebuild."""
    import rag.stores.milvus_store as milvus
    from pymilvus import MilvusClient
    from rag.errors import IndexCorrupt

    monkeypatch.setattr(milvus, "PART", 200)  # a manifest of a few kB: many parts
    config = store_config(config, "milvus", tmp_path)
    bot = load(config, HashEmbedder())
    (tmp_path / "harbor.md").write_text(HARBOR)
    bot.add_documents([tmp_path / "harbor.md"])
    again = load(config, HashEmbedder())
    assert "harbor" in {d.id for d in again.documents()} and WITKOFF in {d.id for d in again.documents()}
    client = MilvusClient(str(tmp_path / "milvus.db"))
    parts = client.query("rag_news_docs", filter='kind == "manifest-part"', output_fields=["pk"], limit=16_000)
    assert len(parts) > 3 and {r["pk"].split(":")[0] for r in parts} == {"manifest-2"}  # generation 2 only
    client.delete("rag_news_docs", filter=f'pk == "{parts[0]["pk"]}"')
    milvus.MilvusHome.of(config).close()  # the next load opens a fresh client
    with pytest.raises(IndexCorrupt, match="Rebuild it: rag index build"):
        load(config, HashEmbedder())
