"""Per-position figures from transformers' full logits: the checkpoint and its base run on the same token ids.

Imports torch when called; only the transformers stack's venv has it.
"""

from __future__ import annotations

from qcompat.engines.hf import Loaded
from qcompat.errors import QcompatError
from qcompat.quality.figures import Position


def positions(checkpoint: Loaded, base: Loaded, texts: list[str]) -> list[Position]:
    import torch

    found = []
    for text in texts:
        ids = base.tokenizer(text, return_tensors="pt").input_ids
        if checkpoint.tokenizer(text, return_tensors="pt").input_ids.tolist() != ids.tolist():
            raise QcompatError(f"the checkpoint's and the base's tokenizers split {text[:40]!r} differently")
        with torch.no_grad():
            ours = torch.log_softmax(checkpoint.model(ids.to(checkpoint.model.device)).logits[0].float().cpu(), -1)
            theirs = torch.log_softmax(base.model(ids.to(base.model.device)).logits[0].float().cpu(), -1)
        ours, theirs, following = ours[:-1], theirs[:-1], ids[0, 1:]
        klds = (theirs.exp() * (theirs - ours)).sum(-1)
        agrees = ours.argmax(-1) == theirs.argmax(-1)
        for i, token in enumerate(following.tolist()):
            found.append(Position(float(ours[i, token]), float(theirs[i, token]), float(klds[i]), bool(agrees[i])))
    return found
