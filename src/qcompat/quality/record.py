"""One engine's quality figures for one checkpoint against its base, as a results file stores them (`quality`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from qcompat.quality.corpus import Corpus
from qcompat.quality.figures import Figures, TaskFigures
from qcompat.quality.limits import Limits

FULL_LOGITS = "full logits (exact)"
LM_EVAL = "lm-eval: the harness's task and metric, greedy"


def top_k_approximation(k: int) -> str:
    return (
        f"top-{k} prompt_logprobs: KL over the base's {k} likeliest tokens and one bin for the rest (a lower"
        f" bound), a token outside the checkpoint's {k} at its {k}th log probability; perplexity and top-1 exact"
    )


@dataclass(frozen=True)
class QualityRun:
    run: str  # what ran, as the greedy runs name it: "hf-int4", "vllm-int4"
    weights_digest: str  # the checkpoint's bytes (checkpoint.local.weights_digest): tells revisions of a layout apart
    base_identity: str  # the base's (checkpoint.local.identity)
    corpus: str  # its name
    corpus_digest: str
    approximation: str
    figures: dict[str, float]  # Figures (distributions) or TaskFigures (a task's accuracy), as dicts
    limits: Limits | None

    @classmethod
    def of(
        cls,
        run: str,
        weights_digest: str,
        base_identity: str,
        corpus: Corpus,
        approximation: str,
        figures: Figures | TaskFigures,
        limits: Limits | None,
    ) -> QualityRun:
        return cls(
            run, weights_digest, base_identity, corpus.name, corpus.digest, approximation, figures.to_dict(), limits
        )

    def to_dict(self) -> dict[str, Any]:
        found = {k: v for k, v in vars(self).items() if k != "limits"}
        return found | {"limits": self.limits.to_dict() if self.limits else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityRun:
        limits = Limits.from_dict(data["limits"]) if data.get("limits") else None
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name != "limits"}, limits=limits)
