"""Split a document into sentence-aligned chunks that overlap by whole sentences.

Every chunk keeps document offsets, so `doc.text[chunk.start:chunk.end] == chunk.text`.

    >>> from rag.types import Document
    >>> d = Document("d", "", "", "", "", "One two three. Four five six. Seven eight nine.")
    >>> [c.text for c in chunk_document(d, max_words=6, overlap=1)]
    ['One two three. Four five six.', 'Four five six. Seven eight nine.']
"""

from __future__ import annotations

from .text import sentence_spans
from .types import Chunk, Document


def chunk_document(doc: Document, max_words: int = 90, overlap: int = 1) -> list[Chunk]:
    spans = sentence_spans(doc.text)
    sizes = [len(doc.text[a:b].split()) for a, b in spans]
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j, words = i, 0
        while j < len(spans) and (j == i or words + sizes[j] <= max_words):
            words += sizes[j]
            j += 1
        start, end = spans[i][0], spans[j - 1][1]
        chunks.append(Chunk(id=f"{doc.id}#{len(chunks)}", doc_id=doc.id, start=start, end=end,
                            text=doc.text[start:end], sentences=tuple(spans[i:j])))
        if j >= len(spans):
            break
        i = max(j - overlap, i + 1)  # always advance, even when one sentence fills a chunk
    return chunks
