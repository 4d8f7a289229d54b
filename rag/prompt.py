"""Chat messages for the generator. The instructions and worked examples come first and never
change, so llama.cpp keeps them in its KV cache; only the passages and the question are new.
"""

from __future__ import annotations

from .types import Passage

NOT_FOUND = "NOT FOUND"

SYSTEM = (
    "You answer questions about news articles using only the numbered passages given with the question. "
    "Reply with one short sentence that answers the question and ends with the number of the passage "
    "it comes from, in brackets, like [2]. Use the passage's own words and numbers. "
    f"If the passages do not answer the question, reply exactly: {NOT_FOUND}"
)

# Worked examples about an invented article, so no real fact can leak into an answer.
EXAMPLES = [
    (
        "[1] The council approved 4, 500 new parking permits on Tuesday. (Harbor Daily)\n"
        "[2] “We will not raise fees this year,” Mayor Ana Ruiz told reporters. (Harbor Daily)",
        "How many parking permits did the council approve?",
        "The council approved 4,500 new parking permits [1].",
    ),
    (
        "[1] The council approved 4, 500 new parking permits on Tuesday. (Harbor Daily)\n"
        "[2] “We will not raise fees this year,” Mayor Ana Ruiz told reporters. (Harbor Daily)",
        "What did the mayor say about fees?",
        "Mayor Ana Ruiz said, “We will not raise fees this year” [2].",
    ),
    (
        "[1] The council approved 4, 500 new parking permits on Tuesday. (Harbor Daily)\n"
        "[2] “We will not raise fees this year,” Mayor Ana Ruiz told reporters. (Harbor Daily)",
        "How much does a parking permit cost?",
        NOT_FOUND,
    ),
]


def format_passages(passages: list[Passage]) -> str:
    """One line a passage; the outlet goes last, where a small model is less tempted to answer with it."""
    lines = []
    for p in passages:
        text = " ".join(p.text.split()).strip("*# ")
        lines.append(f"[{p.n}] {text} ({p.doc.outlet})" if p.doc.outlet else f"[{p.n}] {text}")
    return "\n".join(lines)


def user_message(passages_text: str, question: str) -> str:
    return f"Passages:\n{passages_text}\n\nQuestion: {question}"


def build_messages(passages: list[Passage], question: str) -> list[dict]:
    messages = [{"role": "system", "content": SYSTEM}]
    for ptext, q, a in EXAMPLES:
        messages.append({"role": "user", "content": user_message(ptext, q)})
        messages.append({"role": "assistant", "content": a})
    messages.append({"role": "user", "content": user_message(format_passages(passages), question)})
    return messages
