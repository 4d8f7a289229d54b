"""Scoring (question, passage) pairs with a loaded gate network, in small batches."""

from __future__ import annotations

from .model import MAX_TOKENS, passage_text


def score_pairs(net, tok, questions: list[str], titles: list[str], passages: list[str], device: str = "cpu",
                max_tokens: int = MAX_TOKENS, batch: int = 32) -> list[float]:
    """The gate's probability that each passage answers its question, in input order."""
    import torch

    seconds = [passage_text(t, p)[0] for t, p in zip(titles, passages)]
    order = sorted(range(len(questions)), key=lambda i: len(questions[i]) + len(seconds[i]))
    out = [0.0] * len(questions)
    with torch.inference_mode():
        for k in range(0, len(order), batch):
            part = order[k:k + batch]
            enc = tok([questions[i] for i in part], [seconds[i] for i in part], truncation="only_second",
                      max_length=max_tokens, padding=True, return_tensors="pt")
            logit = net(enc["input_ids"].to(device), enc["attention_mask"].to(device),
                        enc["token_type_ids"].to(device))[0]
            for i, v in zip(part, torch.sigmoid(logit).tolist()):
                out[i] = v
    return out
