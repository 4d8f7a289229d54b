"""The gate's network: MiniLM (the bundled embedder's encoder) as a cross-encoder with two heads.

    [CLS] question [SEP] title. passage [SEP]  ->  encoder  ->  answer logit  (on [CLS; mean])
                                                          ->  start/end logits per token (the span)

`answer` is the score the product uses: sigmoid(answer) is the gate's belief that the passage answers
the question (calibrated later, with the other signals, in `rag.gate.calibrate`). The span head is a
training aid (it makes the encoder find *where* the answer is) and names the answer's words.

The word embeddings are the embedder's own and stay frozen, so the saved gate holds only what
training changed (encoder layers, position embeddings, heads): about 11M numbers, 21 MB in float16.
Loading takes the word embeddings from the embedder's checked weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

MAX_TOKENS = 128
FORMAT = 1  # bump when the saved layout changes; the loader refuses other versions


def passage_text(title: str, passage: str) -> tuple[str, int]:
    """The second segment and where the passage starts in it: "Title. passage"."""
    head = f"{title.strip()}. " if title and title.strip() else ""
    return head + passage, len(head)


def build(base_folder: Path) -> "GateNet":
    """A fresh gate on top of the embedder's encoder (training starts here)."""
    from transformers import BertModel

    return GateNet(BertModel.from_pretrained(str(base_folder), add_pooling_layer=False))


class GateNet(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        h = encoder.config.hidden_size
        self.answer = nn.Linear(2 * h, 1)
        self.span = nn.Linear(h, 2)
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)

    def forward(self, input_ids, attention_mask, token_type_ids):
        """(answer logit per pair, start logits, end logits); span logits are -1e4 off the passage."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(out.dtype)
        mean = (out * m).sum(1) / m.sum(1).clamp(min=1.0)
        logit = self.answer(torch.cat([out[:, 0], mean], dim=-1)).squeeze(-1)
        span = self.span(out)
        # only passage tokens (segment 1) and [CLS] (no answer) may hold the span
        allowed = (token_type_ids == 1) & attention_mask.bool()
        allowed[:, 0] = True
        span = span.masked_fill(~allowed.unsqueeze(-1), -1e4)
        return logit, span[..., 0], span[..., 1]


def trainable_state(net) -> dict:
    """What the gate file stores: every tensor but the frozen word embeddings."""
    return {k: v for k, v in net.state_dict().items() if not k.endswith("word_embeddings.weight")}


def save(net, folder: Path, meta: dict) -> Path:
    """gate.safetensors (float16) + gate.json (format, base model, training settings, metrics)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").half().contiguous() for k, v in trainable_state(net).items()}
    path = folder / "gate.safetensors"
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(path)
    (folder / "gate.json").write_text(json.dumps({"format": FORMAT, **meta}, indent=2) + "\n")
    return path


def load(folder: Path, base_folder: Path):
    """The saved gate on top of the embedder's word embeddings, in float32, ready to score."""
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    from ..errors import ModelError

    folder = Path(folder)
    meta = json.loads((folder / "gate.json").read_text())
    if meta.get("format") != FORMAT:
        raise ModelError(f"the gate in {folder} has format {meta.get('format')}, this code reads {FORMAT}: "
                         f"retrain it with `python -m rag.gate.train` or install the matching version")
    config = BertConfig.from_pretrained(str(base_folder))
    net = GateNet(BertModel(config, add_pooling_layer=False))
    state = {k: v.float() for k, v in load_file(str(folder / "gate.safetensors")).items()}
    from safetensors import safe_open

    with safe_open(str(Path(base_folder) / "model.safetensors"), "pt") as f:
        key = next(k for k in f.keys() if k.endswith("word_embeddings.weight"))
        state["encoder.embeddings.word_embeddings.weight"] = f.get_tensor(key).float()
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(f"the gate in {folder} does not fit its base model: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")
    net.eval()
    return net, meta
