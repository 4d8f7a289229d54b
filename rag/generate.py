"""Write the answer: stream the generator's pieces, hold back what may be the refusal marker, and
stop once the cited sentence has ended.

    raw, usage = yield from write_answer(generator, messages, config, timings, start)
"""

from __future__ import annotations

import time
from typing import Iterator

from .config import Config
from .models import Generator, Usage
from .prompt import ANSWER_DONE, NOT_FOUND
from .types import Timings


def write_answer(gen: Generator, messages: list[dict], config: Config, timings: Timings,
                 start: float) -> Iterator[str]:
    """Yield the answer's text as it is written; return (raw text, usage). Text that may be the start
    of NOT FOUND is held back until it is clearly not; the stream is closed (the model handed back)
    as soon as the answer is complete or the consumer stops."""
    usage = Usage()
    raw, held, first = "", "", True
    t = t_gen = time.perf_counter()
    pieces = gen.stream(messages, config.max_answer_tokens, usage)
    try:
        for piece in pieces:
            if first:
                timings.prompt_eval = time.perf_counter() - t
                t_gen = time.perf_counter()
            raw += piece
            held += piece
            if held.strip() and NOT_FOUND.startswith(held.strip().upper()):
                continue
            if first:
                timings.first_token = time.perf_counter() - start
                first = False
            yield held
            held = ""
            if config.stop_at_citation and ANSWER_DONE.search(raw):
                break  # one cited sentence is the whole answer: don't wait for the model to say so
    finally:
        close = getattr(pieces, "close", None)
        if close:
            close()  # an abandoned stream hands the model back at once
    timings.generate = time.perf_counter() - t_gen if raw else 0.0
    if not raw:
        timings.prompt_eval = time.perf_counter() - t
    return raw, usage
