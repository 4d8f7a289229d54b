"""A stock LlamaIndex RAG pipeline over the same corpus, as a peer to benchmark against.

Built the way the LlamaIndex docs show for local models: Documents -> SentenceSplitter
(chunk_size=256, chunk_overlap=32) -> HuggingFaceEmbedding -> in-memory VectorStoreIndex ->
vector retriever, or QueryFusionRetriever(vector + BM25, reciprocal_rerank, num_queries=1) ->
RetrieverQueryEngine(streaming=True) with LlamaIndex's default text_qa prompt -> LlamaCPP
(Qwen2.5 ChatML template). No prompt engineering; single-turn (history is not used).

Offline notes (checked with llama-index-core 0.14.25 under `unshare -n`, i.e. no network):
- NLTK: llama_index.core bundles punkt_tab + stopwords in llama_index/core/_static/nltk_cache
  and uses it unless NLTK_DATA is set; if NLTK_DATA points somewhere without them, llama_index
  would try nltk.download(), so we drop such an NLTK_DATA before importing llama_index.
- tiktoken: the cl100k_base file (used for token counting) is bundled in _static/tiktoken_cache;
  get_tokenizer() points TIKTOKEN_CACHE_DIR there unless it is already set, so we leave it alone.
- Hugging Face: the embedder is a local folder; HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE are set to 1
  (setdefault) before the first import of llama_index, so nothing asks the hub.
- LlamaCPP only downloads when model_path is None; we always pass model_path.
- Settings.llm is never resolved (we pass llm= everywhere), so no OpenAI default is touched.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any, Sequence

PIP_INSTALL = (
    'pip install "llama-index-core==0.14.25" "llama-index-embeddings-huggingface==0.8.0" '
    '"llama-index-llms-llama-cpp==0.7.0" "llama-index-retrievers-bm25==0.8.0" '
    '"llama-cpp-python==0.3.36" "sentence-transformers==6.2.0" pyyaml'
)
_MODULES = ("llama_index.core", "llama_index.embeddings.huggingface",
            "llama_index.llms.llama_cpp", "llama_index.retrievers.bm25", "yaml")
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def peer_available() -> str | None:
    """None when the LlamaIndex stack is importable, else the pip command that installs it."""
    try:
        missing = [m for m in _MODULES if importlib.util.find_spec(m) is None]
    except ModuleNotFoundError:  # parent package (llama_index) absent
        missing = ["llama_index"]
    return PIP_INSTALL if missing else None


def messages_to_prompt(messages: Sequence[Any]) -> str:
    """Qwen2.5 ChatML: <|im_start|>role\\ncontent<|im_end|> per message, then the assistant turn."""
    parts = []
    if not messages or str(getattr(messages[0].role, "value", messages[0].role)) != "system":
        parts.append(f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>")
    for m in messages:
        role = str(getattr(m.role, "value", m.role))
        parts.append(f"<|im_start|>{role}\n{m.content or ''}<|im_end|>")
    return "\n".join(parts) + "\n<|im_start|>assistant\n"


def completion_to_prompt(completion: str) -> str:
    """Wrap a bare completion prompt as one user turn with Qwen's default system prompt."""
    return (f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n"
            f"<|im_start|>user\n{completion}<|im_end|>\n<|im_start|>assistant\n")


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    nltk_dir = os.environ.get("NLTK_DATA")
    if nltk_dir and not (Path(nltk_dir, "tokenizers", "punkt_tab").exists()
                         and Path(nltk_dir, "corpora", "stopwords").exists()):
        del os.environ["NLTK_DATA"]  # fall back to llama_index's bundled copy


def load_documents(corpus_dir: str) -> list[Any]:
    """One Document per article .md (README.md skipped), YAML front matter moved to metadata."""
    import yaml
    from llama_index.core import Document

    docs = []
    for path in sorted(Path(corpus_dir).glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        raw, meta = path.read_text(encoding="utf-8"), {}
        if raw.startswith("---"):
            _, front, raw = raw.split("---", 2)
            meta = {k: str(v) for k, v in (yaml.safe_load(front) or {}).items()}
        docs.append(Document(text=raw.strip(), metadata=meta, id_=path.stem))
    return docs


class LlamaIndexPeer:
    """LlamaIndex pipeline with a local GGUF generator; see the module docstring."""

    def __init__(self, embedder_dir: str, gguf_path: str, corpus_dir: str,
                 n_threads: int = 2, top_k: int = 4, hybrid: bool = True) -> None:
        _offline_env()
        from llama_index.core import VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.query_engine import RetrieverQueryEngine
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.llms.llama_cpp import LlamaCPP

        t0 = time.perf_counter()
        self.embed_model = HuggingFaceEmbedding(model_name=embedder_dir)
        self.index = VectorStoreIndex.from_documents(
            load_documents(corpus_dir), embed_model=self.embed_model,
            transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32)])
        self.llm = LlamaCPP(
            model_path=gguf_path, temperature=0.0, max_new_tokens=80, context_window=2048,
            generate_kwargs={}, model_kwargs={"n_threads": n_threads, "n_gpu_layers": 0},
            messages_to_prompt=messages_to_prompt, completion_to_prompt=completion_to_prompt,
            verbose=False)
        retriever = self.index.as_retriever(similarity_top_k=top_k)
        if hybrid:
            from llama_index.retrievers.bm25 import BM25Retriever

            bm25 = BM25Retriever.from_defaults(docstore=self.index.docstore,
                                               similarity_top_k=top_k)
            retriever = QueryFusionRetriever(
                [retriever, bm25], llm=self.llm, mode="reciprocal_rerank",
                num_queries=1, similarity_top_k=top_k, use_async=True)
        self.query_engine = RetrieverQueryEngine.from_args(
            retriever, llm=self.llm, streaming=True)
        self.build_seconds = time.perf_counter() - t0
        self.num_nodes = len(self.index.docstore.docs)

    def answer(self, question: str) -> dict[str, Any]:
        """Answer one question: text, total seconds, seconds to first streamed token, sources."""
        t0 = time.perf_counter()
        response = self.query_engine.query(question)
        first: float | None = None
        pieces: list[str] = []
        for token in response.response_gen:
            if first is None and token:
                first = time.perf_counter() - t0
            pieces.append(token)
        seconds = time.perf_counter() - t0
        return {"text": "".join(pieces).strip(), "seconds": seconds,
                "first_token": first if first is not None else seconds,
                "sources": [n.node.get_content() for n in response.source_nodes]}
