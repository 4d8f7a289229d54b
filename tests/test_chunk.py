import pytest

from rag.chunk import chunk_document
from rag.ingest import read_document, scan
from rag.types import Document

from .conftest import CORPUS


@pytest.mark.parametrize("path", scan(CORPUS), ids=lambda p: p.stem)
def test_chunks_point_exactly_into_the_document_and_cover_every_sentence(path):
    doc = read_document(path)
    chunks = chunk_document(doc, max_words=90, overlap=1)
    assert chunks, "an article gives at least one chunk"
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        assert len(c.text.split()) <= 90 or len(c.sentences) == 1
    covered = {s for c in chunks for s in c.sentences}
    from rag.text import sentence_spans

    assert covered == set(sentence_spans(doc.text))


def test_neighbouring_chunks_share_the_overlap_sentences():
    doc = Document("d", "", "", "", "", " ".join(f"Sentence number {i} is here." for i in range(12)))
    chunks = chunk_document(doc, max_words=15, overlap=1)
    for a, b in zip(chunks, chunks[1:]):
        assert a.sentences[-1] == b.sentences[0]
    chunks0 = chunk_document(doc, max_words=15, overlap=0)
    for a, b in zip(chunks0, chunks0[1:]):
        assert a.end <= b.start


def test_a_sentence_longer_than_the_limit_is_its_own_chunk_and_chunking_terminates():
    long = "word " * 200 + "end."
    doc = Document("d", "", "", "", "", f"Short one. {long} Short two.")
    chunks = chunk_document(doc, max_words=10, overlap=1)
    assert any(len(c.text.split()) > 10 and len(c.sentences) == 1 for c in chunks)
    assert chunks[-1].text.endswith("Short two.")


@pytest.mark.parametrize("text, expected", [
    ("", 0), ("One sentence only", 1), ("Emoji 🙂 sentence. Another 🚀 one.", 1),
])
def test_edge_documents(text, expected):
    chunks = chunk_document(Document("d", "", "", "", "", text), max_words=90, overlap=1)
    assert len(chunks) == expected
    assert all(c.id == f"d#{i}" for i, c in enumerate(chunks))
