"""Greedy results compared, and goldens: recorded greedy results that name their stack and checkpoint.

GreedyComparison of two greedy runs of one prompt: identical tokens (then the largest logprob difference of the
chosen tokens), else the first divergence, where each side's token must be in the other's top-k ("close");
comparison stops there. Anything else is "diverged".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from qcompat.engines.greedy import Greedy
from qcompat.errors import QcompatError

GOLDEN_FORMAT = 1
Closeness = Literal["identical", "close", "diverged"]


@dataclass
class GreedyComparison:
    prompt: str
    verdict: Closeness
    first_divergence: int | None = None
    max_logprob_delta: float | None = None
    detail: str = ""

    def line(self) -> str:
        where = f" at token {self.first_divergence}" if self.first_divergence is not None else ""
        delta = f", max logprob delta {self.max_logprob_delta:.4f}" if self.max_logprob_delta is not None else ""
        return f"{self.verdict}{where}{delta}: {self.prompt!r}{' ' + self.detail if self.detail else ''}"


def compare(a: Greedy, b: Greedy) -> GreedyComparison:
    if a.prompt_ids != b.prompt_ids:
        return GreedyComparison(
            a.prompt, "diverged", 0, detail=f"different prompt ids: {a.prompt_ids} vs {b.prompt_ids}"
        )
    steps = min(len(a.generated_ids), len(b.generated_ids))
    for step in range(steps):
        if a.generated_ids[step] != b.generated_ids[step]:
            return _divergence(a, b, step)
    if len(a.generated_ids) != len(b.generated_ids):
        return GreedyComparison(
            a.prompt,
            "diverged",
            steps,
            detail=f"one side stopped: {len(a.generated_ids)} vs {len(b.generated_ids)} tokens",
        )
    deltas = [
        abs(la - lb)
        for step in range(steps)
        if (la := a.chosen_logprob(step)) is not None and (lb := b.chosen_logprob(step)) is not None
    ]
    return GreedyComparison(a.prompt, "identical", max_logprob_delta=max(deltas, default=0.0))


def _divergence(a: Greedy, b: Greedy, step: int) -> GreedyComparison:
    ta, tb = a.generated_ids[step], b.generated_ids[step]
    contained = ta in b.top_ids(step) and tb in a.top_ids(step)
    detail = f"token {ta} vs {tb}; " + ("each in the other's top-k" if contained else "not in each other's top-k")
    return GreedyComparison(a.prompt, "close" if contained else "diverged", step, detail=detail)


@dataclass
class Summary:
    comparisons: list[GreedyComparison]

    @property
    def verdicts(self) -> dict[str, int]:
        counts = {"identical": 0, "close": 0, "diverged": 0}
        for c in self.comparisons:
            counts[c.verdict] += 1
        return counts

    @property
    def max_logprob_delta(self) -> float:
        return max((c.max_logprob_delta for c in self.comparisons if c.max_logprob_delta is not None), default=0.0)

    def text(self) -> str:
        counts = ", ".join(f"{n} {v}" for v, n in self.verdicts.items())
        return f"{counts}; max logprob delta {self.max_logprob_delta:.4f}\n" + "\n".join(
            c.line() for c in self.comparisons
        )


def compare_all(a: list[Greedy], b: list[Greedy]) -> Summary:
    if [g.prompt for g in a] != [g.prompt for g in b]:
        raise QcompatError("the two greedy runs are of different prompt sets")
    return Summary([compare(x, y) for x, y in zip(a, b)])


@dataclass
class Golden:
    engine: str
    stack: dict[str, Any]
    checkpoint: dict[str, Any]  # name and identity (qcompat.checkpoint.identity)
    max_new_tokens: int
    top_k: int
    results: list[Greedy] = field(default_factory=list)
    format: int = GOLDEN_FORMAT

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        path.write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path, identity: str | None = None) -> Golden:
        """The golden at `path`; with `identity`, only if it was recorded for that checkpoint."""
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise TypeError(f"a JSON {type(data).__name__}, not an object")
            if data.get("format") != GOLDEN_FORMAT:
                raise QcompatError(f"{path}: golden format {data.get('format')!r}, expected {GOLDEN_FORMAT}")
            results = [Greedy.from_dict(r) for r in data.pop("results")]
            golden = cls(**data, results=results)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise QcompatError(f"{path}: not a readable golden ({exc})") from None
        recorded = golden.checkpoint.get("identity")
        if identity is not None and recorded != identity:
            raise QcompatError(f"{path}: golden recorded for checkpoint {recorded}, not {identity}")
        return golden
