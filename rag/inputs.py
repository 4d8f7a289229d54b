"""What a caller hands in, checked: a question and a conversation history (InputError naming the fix)."""

from __future__ import annotations

from .errors import InputError
from .text import words


def check_question(question: str, max_chars: int = 1000) -> str:
    """The question with whitespace collapsed; InputError when it is empty, too long or not text."""
    if not isinstance(question, str):
        raise InputError(f"the question must be text, not {type(question).__name__}")
    q = " ".join(question.split())
    if not q:
        raise InputError("the question is empty: type a question about the articles")
    if len(q) > max_chars:
        raise InputError(f"the question is {len(q):,} characters long; the limit is {max_chars:,}. "
                         f"Ask a shorter question.")
    if not words(q):
        raise InputError("the question has no words in it: type a question about the articles")
    return q


def clean_history(history) -> list[tuple[str, str]]:
    """Earlier turns as (question, answer) pairs; InputError for any other shape."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise InputError(f"history must be a list of (question, answer) pairs of text, not {type(history).__name__}")
    out = []
    for turn in history:
        if isinstance(turn, dict):  # a chat "messages" turn: the caller pairs them up (as app.py does)
            raise InputError("history must be a list of (question, answer) pairs of text, not role/content "
                             "messages: pair each user message with the assistant's reply")
        if isinstance(turn, (list, tuple)) and len(turn) == 2 and all(isinstance(x, str) for x in turn):
            out.append((turn[0], turn[1]))
        else:
            raise InputError("history must be a list of (question, answer) pairs of text")
    return out
