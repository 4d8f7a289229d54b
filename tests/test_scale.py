"""eval/scale.py at a tiny scale: a synthetic corpus through the product's own build, FAISS (flat, IVF)
and Milvus Lite side by side, timed end to end with real retrieval (hash-embedded questions)."""

from __future__ import annotations

import numpy as np
import pytest

from eval import scale

from .conftest import HashEmbedder

N = 2_000
QUESTIONS = ["What cap on Ukraine's military did the first US draft propose?", "Who is Kirill Dmitriev?",
             "Where did Russian drones strike?", "What did Zelenskyy ask Trump for?"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from rag.config import Config
    from rag.stores import build_index

    config = Config(gate="", index_dir=tmp_path_factory.mktemp("scale") / "index")
    return build_index(config, HashEmbedder())


def test_the_synthetic_corpus_has_exactly_n_chunks_of_real_sentences(base):
    index, pool = scale.synthetic_index(base, N, seed=3)
    assert len(index.chunks) == N
    real = set(pool)
    some = index.chunks[:50] + index.chunks[-50:]
    assert all(p in real for c in some for p in c.text.split("\n"))
    spc = np.mean([len(c.sentences) for c in index.chunks])
    real_spc = np.mean([len(c.sentences) for c in base.chunks])
    assert abs(spc - real_spc) < 1.5, (spc, real_spc)
    chunk_vectors, sentence_vectors = index.store.vectors()
    assert chunk_vectors.shape == (N, base.sentence_vectors.shape[1]) and len(sentence_vectors) == len(index.sentences)
    assert np.allclose(np.linalg.norm(chunk_vectors, axis=1), 1, atol=1e-4)
    # a sentence keeps its real vector, so dense and lexical search agree about what a chunk is about
    s = index.sentences[0]
    text = index.documents[s.doc_id].text[s.start:s.end]
    assert np.allclose(sentence_vectors[0], base.sentence_vectors[[p for p in (
        base.documents[x.doc_id].text[x.start:x.end] for x in base.sentences)].index(text)], atol=1e-5)


def test_faiss_and_milvus_side_by_side(base, tmp_path):
    pytest.importorskip("pymilvus")
    report = scale.bench_stores(base, QUESTIONS, HashEmbedder(), [N], workdir=tmp_path, progress=lambda m: None)
    rows = {r.store: r for r in report.rows}
    assert set(rows) == {"faiss-flat", "faiss-ivf", "milvus-lite"}
    assert report.corpus[0]["chunks"] == N
    for r in rows.values():
        assert r.rows_inserted == N and r.sentences == report.corpus[0]["sentences"]
        assert r.rows_per_s > 0 and r.disk_mb > 0 and r.open_s > 0
        assert r.passages_found == 1.0  # every question found passages of the synthetic corpus
        for t in (r.ann, r.candidates, r.retrieve):
            assert 0 < t.p50_ms <= t.p95_ms
    assert rows["faiss-flat"].recall_at_10 == 1.0
    assert rows["milvus-lite"].recall_at_10 >= 0.9  # FLAT in Milvus: exact up to ties
    # RSS growth is reported, not asserted: Milvus Lite runs in this process and freed pages can make it negative
    lines = scale.markdown(scale.to_dict(report), None)
    assert any("| 2,000 | milvus-lite |" in line for line in lines)
