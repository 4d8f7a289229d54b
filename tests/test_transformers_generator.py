"""The transformers generator (the GPU path, when llama.cpp has no CUDA build) decodes as the llama.cpp
path does: greedy, no settings taken from the model's files, the same stop strings and refusal gate.
The GPU itself is not needed to check that: the real tests run both on the CPU with the tiny GGUF."""

from __future__ import annotations

import threading
import time

import pytest

from .conftest import SHARED_CACHE

CASES = [  # invented passages
    ("[1] The town council of Zorvik approved 1, 200 solar panels for public buildings on Monday.\n"
     "[2] Mayor Ilse Marek said the panels would cut the town's power bills by a third.",
     "How many solar panels did the Zorvik council approve?"),
    ("[1] The ferry between Alden and Brisk now leaves every 40 minutes, the port authority said.\n"
     "[2] Tickets cost 3 euros for adults and are free for children under 12.",
     "How much does a ferry ticket cost for adults?"),
    ("[1] The Velmar library reopened on 3 March after a two-year renovation.\n"
     "[2] It now holds 85, 000 books and a new reading room for students.",
     "When did the Velmar library reopen?"),
]
AGREE_TOKENS = 10
TIE = 0.5  # nats: how far below the best token a quantized model's choice may fall


def _messages(passages: str, question: str) -> list[dict]:
    from rag.prompt import build_messages, user_message

    messages = build_messages([], question)
    messages[-1] = {"role": "user", "content": user_message(passages, question)}
    return messages


@pytest.fixture(scope="module")
def hf_tiny():
    from rag.models import TransformersGenerator

    gen = TransformersGenerator("tiny", SHARED_CACHE, device="cpu", refusal_threshold=1.0)
    gen.warm_up()
    return gen


@pytest.fixture(scope="module")
def llama_tiny():
    from rag.models import LlamaCppGenerator

    # one thread: llama.cpp's spinning threads crawl on a busy 2-core machine (60 s instead of 1 s)
    return LlamaCppGenerator("tiny", SHARED_CACHE, n_ctx=1024, n_threads=1, refusal_threshold=1.0)


def _answer(gen, messages, max_tokens=24):
    from rag.models import Usage

    usage = Usage()
    return "".join(gen.stream(messages, max_tokens, usage)), usage


def _log_probs_along(gen, messages, tokens: list[int]):
    """The transformers model's log-probabilities, teacher-forced along `tokens`: for each step, the
    chosen token's log-probability and the best one's (the first step without the refusal marker)."""
    import torch

    from rag.prompt import REFUSAL_MARKER

    model, tok = gen.model, gen.tokenizer
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"]
    marker = tok.encode(REFUSAL_MARKER, add_special_tokens=False)[:1]
    with torch.inference_mode():
        logits = model(input_ids=torch.cat([ids, torch.tensor([tokens])], dim=1)).logits[0].float()
    steps = logits[ids.shape[1] - 1: ids.shape[1] - 1 + len(tokens)].clone()
    steps[0, marker] = -float("inf")
    logp = torch.log_softmax(steps, dim=-1)
    return [(float(logp[i, t]), float(logp[i].max())) for i, t in enumerate(tokens)]


@pytest.mark.real
@pytest.mark.parametrize("passages, question", CASES)
def test_transformers_and_llama_cpp_write_the_same_greedy_answer(hf_tiny, llama_tiny, passages, question):
    """Both back-ends decode greedily from the same chat template. llama.cpp runs the quantized GGUF, so
    where two tokens are nearly tied it may take the other one: at every step of llama.cpp's answer,
    its token must be the transformers model's best or within TIE nats of it (a sampling, template or
    penalty bug lands tokens far below the best), and the answers agree token for token up to the
    first such tie."""
    messages = _messages(passages, question)
    ours, ours_usage = _answer(hf_tiny, messages)
    theirs, theirs_usage = _answer(llama_tiny, messages)
    tok = hf_tiny.tokenizer
    a, b = tok.encode(ours, add_special_tokens=False), tok.encode(theirs, add_special_tokens=False)
    steps = _log_probs_along(hf_tiny, messages, b[:AGREE_TOKENS])
    gaps = [best - chosen for chosen, best in steps]
    assert max(gaps) < TIE, (ours, theirs, gaps)
    first_tie = next((i for i, g in enumerate(gaps) if g > 1e-4), len(gaps))
    assert a[:first_tie] == b[:first_tie], (ours, theirs, gaps)
    assert not ours.strip().upper().startswith("NOT")  # the calibrated gate, as in llama.cpp
    assert abs(ours_usage.refusal_prob - theirs_usage.refusal_prob) < 0.05, (ours_usage, theirs_usage)
    assert ours_usage.prompt_tokens == theirs_usage.prompt_tokens  # same chat template, same tokens
    assert ours_usage.completion_tokens > 0


@pytest.mark.real
def test_decoding_is_greedy_whatever_the_model_files_ask_for(hf_tiny):
    """Sampling, temperature and a repetition penalty in the model's generation config are ignored:
    the streamed answer is the argmax at every step."""
    import torch

    from rag.prompt import REFUSAL_MARKER

    passages, question = CASES[0]
    messages = _messages(passages, question)
    model, tok = hf_tiny.model, hf_tiny.tokenizer
    clean = model.generation_config
    model.generation_config = type(clean)(**{**clean.to_dict(), "do_sample": True, "temperature": 5.0,
                                             "top_k": 50, "repetition_penalty": 3.0, "no_repeat_ngram_size": 2})
    try:
        streamed, usage = _answer(hf_tiny, messages, 12)
    finally:
        model.generation_config = clean

    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)["input_ids"]
    marker = tok.encode(REFUSAL_MARKER, add_special_tokens=False)[:1]
    out, past = [], None
    with torch.inference_mode():
        step = ids
        for i in range(usage.completion_tokens):
            result = model(input_ids=step, past_key_values=past, use_cache=True)
            past, logits = result.past_key_values, result.logits[0, -1].float()
            if i == 0:
                logits[marker] = -float("inf")
            out.append(int(logits.argmax()))
            step = torch.tensor([[out[-1]]])
    assert streamed == tok.decode(out, skip_special_tokens=True)[:len(streamed)], (streamed, out)


@pytest.mark.real
def test_a_closed_stream_stops_the_generation(hf_tiny):
    passages, question = CASES[1]
    from rag.models import Usage

    before = threading.active_count()
    stream = hf_tiny.stream(_messages(passages, question), 200, Usage())
    assert next(stream)
    t = time.perf_counter()
    stream.close()
    assert time.perf_counter() - t < 5 and threading.active_count() == before


def test_the_default_dtype_is_float32_on_the_gpu_too():
    """float32 is the closest to llama.cpp; half precision changed answers (see TransformersGenerator)."""
    from rag.models import TransformersGenerator

    assert TransformersGenerator("tiny", device="cuda")._dtype_name() == "float32"
    assert TransformersGenerator("tiny", device="cpu")._dtype_name() == "float32"
    assert TransformersGenerator("tiny", device="cuda", dtype="bfloat16")._dtype_name() == "bfloat16"


def test_the_transformers_generator_gets_the_calibrated_refusal_threshold(monkeypatch):
    import llama_cpp

    import rag.models
    from rag.config import Config
    from rag.models import TransformersGenerator, make_generator
    from rag.models.registry import REGISTRY

    monkeypatch.setattr(rag.models, "pick_device", lambda device: "cuda")
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: False)
    gen = make_generator(Config(), "tiny")
    assert isinstance(gen, TransformersGenerator) and gen.device == "cuda"
    assert gen.refusal_threshold == REGISTRY["tiny"].refusal_threshold
