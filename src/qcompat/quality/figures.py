"""The quality figures of a checkpoint against its base, from what each position of a fixed text gave: the log
probability each put on the token that came next, the KL divergence of the checkpoint's next-token distribution
from the base's, and whether their most likely tokens agree. Engine-free: engines hand over per-position numbers."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Position:
    checkpoint_logprob: float  # of the token that came next
    base_logprob: float
    kld: float  # KL(base || checkpoint), nats
    top1_agrees: bool


@dataclass(frozen=True)
class Figures:
    tokens: int
    ppl: float
    base_ppl: float
    ppl_ratio: float
    kld_mean: float
    kld_p99: float
    top1_agreement: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class TaskFigures:
    """A task's accuracy for the checkpoint and its base (lm-eval), and recovery: the checkpoint's / the base's."""

    task: str
    items: int
    accuracy: float
    base_accuracy: float

    @property
    def recovery(self) -> float:
        return self.accuracy / self.base_accuracy if self.base_accuracy else 0.0

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self) | {"recovery": self.recovery}


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (the smallest value at or above q percent of them), as llama.cpp reports p99."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(positions: list[Position]) -> Figures:
    if not positions:
        raise ValueError("no positions: the text gave no token to predict")
    n = len(positions)
    ppl = math.exp(-sum(p.checkpoint_logprob for p in positions) / n)
    base_ppl = math.exp(-sum(p.base_logprob for p in positions) / n)
    klds = [p.kld for p in positions]
    return Figures(
        tokens=n,
        ppl=ppl,
        base_ppl=base_ppl,
        ppl_ratio=ppl / base_ppl,
        kld_mean=sum(klds) / n,
        kld_p99=percentile(klds, 99),
        top1_agreement=sum(p.top1_agrees for p in positions) / n,
    )
