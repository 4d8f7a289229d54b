import json
import shutil

import numpy as np
import pytest

from rag.stores import new_index, load_folder, rebuild
from rag.errors import IndexCorrupt, IndexMissing, IndexStale
from rag.stores.index import FORMAT_VERSION, Index, corpus_fingerprint, load_corpus

from .conftest import HashEmbedder


def build(corpus_dir, emb, **kw):
    return new_index(load_corpus(corpus_dir), emb, 90, 1, corpus=corpus_fingerprint(corpus_dir), **kw)


def test_save_load_round_trip_keeps_everything(tmp_path, corpus_dir, fake_embedder):
    import dataclasses

    docs = load_corpus(corpus_dir)
    docs[0] = dataclasses.replace(docs[0], warnings=("url dropped: not http(s)",))
    index = new_index(docs, fake_embedder, 90, 1, corpus=corpus_fingerprint(corpus_dir))
    index.save(tmp_path / "index")
    loaded = load_folder(tmp_path / "index")
    assert loaded.manifest == index.manifest
    assert loaded.documents == index.documents and len({hash(d) for d in loaded.documents.values()}) == 3
    assert [c.id for c in loaded.chunks] == [c.id for c in index.chunks]
    assert np.array_equal(loaded.chunk_vectors, index.chunk_vectors)
    assert np.array_equal(loaded.sentence_vectors, index.sentence_vectors)
    assert loaded.dense.ntotal == len(index.chunks)
    q = fake_embedder.embed(["Tomahawk range"], query=True)[0]
    assert loaded.search_dense(q, 3)[1].tolist() == index.search_dense(q, 3)[1].tolist()
    assert loaded.lexical_scores(["tomahawk"]).tolist() == index.lexical_scores(["tomahawk"]).tolist()


def test_the_folder_describes_itself(tmp_path, corpus_dir, fake_embedder):
    build(corpus_dir, fake_embedder).save(tmp_path / "index")
    folder = tmp_path / "index"
    assert sorted(p.name for p in folder.iterdir()) == ["LOCK", "README.md", "manifest.json", "v-000001"]
    m = json.loads((folder / "manifest.json").read_text())
    assert m["data"] == "v-000001" and m["previous"] is None
    names = {p.name for p in (folder / m["data"]).iterdir()}
    assert {"manifest.json", "documents.jsonl", "chunks.jsonl", "chunk_vectors.npy", "sentence_vectors.npy",
            "dense.faiss", "lexical"} == names
    assert m["format_version"] == FORMAT_VERSION
    assert m["embedder"] == {**HashEmbedder().identity(), "dim": 64}
    assert m["chunking"]["chunk_words"] == 90
    assert m["counts"]["documents"] == 3
    assert len(m["corpus"]["sha256"]) == 64
    inner = json.loads((folder / m["data"] / "manifest.json").read_text())
    assert inner == {k: v for k, v in m.items() if k not in ("data", "previous")}
    readme = (folder / "README.md").read_text()
    assert all(name in readme for name in names | {"LOCK", "v-000002/"}) and "fsync" in readme


def test_each_commit_is_a_new_version_and_the_previous_one_is_kept(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "index"
    index = build(corpus_dir, fake_embedder)
    docs = list(index.documents.values())
    for n in (3, 2, 1):
        rebuild(index, docs[:n], fake_embedder).save(folder)
    m = json.loads((folder / "manifest.json").read_text())
    assert (m["data"], m["previous"]) == ("v-000003", "v-000002")
    assert sorted(p.name for p in folder.iterdir()) == ["LOCK", "README.md", "manifest.json", "v-000002",
                                                      "v-000003"]
    loaded = load_folder(folder)
    assert len(loaded.documents) == 1 and loaded.version == "v-000003"
    assert loaded.manifest["counts"]["documents"] == 1 and "data" not in loaded.manifest
    assert len(load_folder(folder / "v-000002").documents) == 2  # a version folder opens on its own


def test_missing_index_names_the_rebuild_command(tmp_path):
    with pytest.raises(IndexMissing, match="rag index build"):
        load_folder(tmp_path / "nothing")


def test_stale_when_an_article_changes(tmp_path, corpus_dir, fake_embedder):
    index = build(corpus_dir, fake_embedder)
    article = corpus_dir / "rferl-zelenskyy-drones-tomahawks.md"
    article.write_text(article.read_text() + "\nA new paragraph.\n")
    with pytest.raises(IndexStale, match="rferl-zelenskyy-drones-tomahawks.md.*rag index build"):
        index.check_compatible(fake_embedder.identity(), 90, 1, corpus_fingerprint(corpus_dir))


def test_stale_when_the_embedder_or_chunking_differs(corpus_dir, fake_embedder):
    index = build(corpus_dir, fake_embedder)
    corpus = corpus_fingerprint(corpus_dir)
    other = {"name": "minilm", "sha256": "ab" * 32}
    with pytest.raises(IndexStale, match="embedder"):
        index.check_compatible(other, 90, 1, corpus)
    with pytest.raises(IndexStale, match="chunked with"):
        index.check_compatible(fake_embedder.identity(), 60, 1, corpus)
    index.check_compatible(fake_embedder.identity(), 90, 1, corpus)  # the matching settings pass


def test_old_format_and_damaged_files_are_refused(tmp_path, corpus_dir, fake_embedder):
    folder = tmp_path / "index"
    build(corpus_dir, fake_embedder).save(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    data = folder / manifest["data"]
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 0}))
    with pytest.raises(IndexStale, match="format 0"):
        load_folder(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="not valid JSON"):
        load_folder(folder)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    lines = (data / "chunks.jsonl").read_text().splitlines()
    (data / "chunks.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(IndexCorrupt, match="inconsistent"):
        load_folder(folder)
    (data / "chunk_vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match="damaged"):
        load_folder(folder)
    shutil.rmtree(data)
    with pytest.raises(IndexCorrupt, match="damaged.*rag index build"):
        load_folder(folder)


def test_a_crash_while_saving_leaves_the_old_index(tmp_path, corpus_dir, fake_embedder, monkeypatch):
    folder = tmp_path / "index"
    old = build(corpus_dir, fake_embedder)
    old.save(folder)
    before = (folder / "manifest.json").read_text()
    docs = load_corpus(corpus_dir)[:1]
    new = new_index(docs, fake_embedder, 90, 1)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        new.save(folder)
    assert (folder / "manifest.json").read_text() == before
    assert load_folder(folder).manifest["counts"]["documents"] == 3
    assert sorted(p.name for p in folder.iterdir()) == ["LOCK", "README.md", "manifest.json", "v-000001"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_unchanged_text_is_never_embedded_again(corpus_dir, fake_embedder):
    index = build(corpus_dir, fake_embedder)
    first = fake_embedder.texts_embedded
    assert first == len(index.chunks) + len(index.sentences)
    docs = list(index.documents.values())
    same = rebuild(index, docs, fake_embedder)
    assert fake_embedder.texts_embedded == first  # nothing new to embed
    assert np.array_equal(same.chunk_vectors, index.chunk_vectors)
    from rag.types import Document

    extra = Document("extra", "Extra", "", "", "", "An extra article about harbor ferries. They run daily.",
                     sha256="e" * 64)
    rebuild(index, docs + [extra], fake_embedder)
    assert fake_embedder.texts_embedded - first == 3  # one new chunk and its two sentences


def test_vectors_from_another_embedder_are_not_reused(corpus_dir, fake_embedder):
    index = build(corpus_dir, fake_embedder)

    class Other(HashEmbedder):
        def identity(self):
            return {"name": "other", "model_id": "x", "sha256": "1" * 64}

    other = Other()
    rebuild(index, list(index.documents.values()), other)
    assert other.texts_embedded == len(index.chunks) + len(index.sentences)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_index_types_find_the_nearest_vector(kind):
    from rag.stores.faiss_store import make_faiss

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = make_faiss(vectors, kind)
    _, ids = index.search(vectors[:20], 1)
    assert (ids[:, 0] == np.arange(20)).mean() >= 0.9
