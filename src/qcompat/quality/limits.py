"""What the gate requires of a checkpoint's quality figures (the profile's `quality` section): limits against its
base, and how far a revision may fall behind the baseline's, or one revision move night over night."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    name: str  # the key in Figures and in the JSON
    label: str
    higher_is_worse: bool
    relative: bool  # its tolerance is a fraction of the baseline's value, else an absolute difference

    def shown(self, value: float) -> str:
        if self.name in ("top1_agreement", "recovery"):
            return f"{value:.2%}"
        return f"{value:.5f}" if self.name == "ppl_ratio" else f"{value:.3g}"


METRICS = {
    m.name: m
    for m in (
        Metric("kld_mean", "mean KL divergence", True, True),
        Metric("kld_p99", "p99 KL divergence", True, True),
        Metric("ppl_ratio", "perplexity ratio", True, False),
        Metric("top1_agreement", "top-1 agreement", False, False),
        Metric("recovery", "task accuracy recovery (checkpoint / base)", False, False),
    )
}


@dataclass(frozen=True)
class Limits:
    bounds: dict[str, float]  # metric -> the worst value allowed
    tolerance: dict[str, float]  # metric -> how far from the baseline's value a run may be
    source: str  # where the bounds came from (a measurement, a date)

    def to_dict(self) -> dict[str, Any]:
        return {"bounds": self.bounds, "tolerance": self.tolerance, "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        return cls(dict(data["bounds"]), dict(data["tolerance"]), data["source"])


def limits_for(quality: dict[str, Any] | None, variant: str) -> Limits | None:
    """The profile's limits for this variant ("published" or "tiny"); None where the profile states none."""
    if not quality or variant not in quality.get("limits", {}):
        return None
    stated = dict(quality["limits"][variant])
    source = stated.pop("source")
    return Limits({k: float(v) for k, v in stated.items()}, dict(quality["tolerance"]), source)


def breaches(figures: dict[str, float], limits: Limits) -> list[str]:
    """Each metric worse than its limit, naming it, the limit and the value found."""
    found = []
    for name, bound in limits.bounds.items():
        if name not in figures:
            continue  # a task run has no KL divergence, a distribution run no recovery
        metric, value = METRICS[name], figures[name]
        if value > bound if metric.higher_is_worse else value < bound:
            side = "above" if metric.higher_is_worse else "below"
            found.append(f"{name} ({metric.label}) {metric.shown(value)} is {side} its limit {metric.shown(bound)}")
    return found


def moved(metric: Metric, baseline: float, tonight: float, tolerance: float) -> float:
    """How far tonight's value lies beyond the tolerated band around the baseline's, in the worse direction when
    positive, the better when negative; 0 inside it."""
    allowed = tolerance * abs(baseline) if metric.relative else tolerance
    worse = tonight - baseline if metric.higher_is_worse else baseline - tonight
    if worse > allowed:
        return worse - allowed
    if worse < -allowed:
        return worse + allowed
    return 0.0
