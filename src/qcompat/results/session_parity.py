"""Greedy parity between the sessions of one run, and against an earlier run (the baseline).

Each engine session records its greedy runs in its results file (`greedy`: run label such as "vllm-int4",
the checkpoint identity, the stack for people to read, the results). Two runs are compared when they are of the
same checkpoint and the same prompts, with the rules of parity.py; a divergence names the session, the prompt and
the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

from qcompat.engines.greedy import Greedy
from qcompat.errors import QcompatError
from qcompat.results.files import SessionResults
from qcompat.results.parity import Summary, compare_all


@dataclass(frozen=True)
class GreedyRun:
    session: str
    run: str  # what ran: "vllm-int4", "hf-bf16", ...
    identity: str  # the checkpoint's (qcompat.checkpoint.identity)
    results: tuple[Greedy, ...]

    @property
    def label(self) -> str:
        return f"{self.session} {self.run}"

    @property
    def prompts(self) -> tuple[str, ...]:
        return tuple(result.prompt for result in self.results)


def runs_of(sessions: list[SessionResults]) -> list[GreedyRun]:
    runs = []
    for session in sessions:
        for index, raw in enumerate(session.data.get("greedy") or []):
            try:
                results = tuple(Greedy.from_dict(r) for r in raw["results"])
                runs.append(GreedyRun(session.session, str(raw["run"]), str(raw["identity"]), results))
            except (KeyError, TypeError, ValueError) as exc:
                raise QcompatError(f"{session.path}: greedy run #{index} is not readable ({exc!r})") from None
    return runs


@dataclass(frozen=True)
class Parity:
    reference: GreedyRun
    other: GreedyRun
    summary: Summary

    def line(self) -> str:
        counts = ", ".join(f"{n} {verdict}" for verdict, n in self.summary.verdicts.items() if n)
        first = next((c for c in self.summary.comparisons if c.verdict != "identical"), None)
        where = f"; first difference: {first.line()}" if first else ""
        return (
            f"{self.reference.label} vs {self.other.label}: {counts}; "
            f"max logprob delta {self.summary.max_logprob_delta:.4f}{where}"
        )

    def divergences(self, against: str) -> list[str]:
        """Each diverged prompt, naming the session, the prompt and the token."""
        return [
            f"{self.other.label} diverged from {against} {self.reference.label} on prompt {number} "
            f"{comparison.prompt!r} at token {comparison.first_divergence}"
            + (f" ({comparison.detail})" if comparison.detail else "")
            for number, comparison in enumerate(self.summary.comparisons, start=1)
            if comparison.verdict == "diverged"
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference.label,
            "other": self.other.label,
            "verdicts": self.summary.verdicts,
            "max_logprob_delta": self.summary.max_logprob_delta,
            "line": self.line(),
        }


def _comparable(a: GreedyRun, b: GreedyRun) -> bool:
    return a.identity == b.identity and a.prompts == b.prompts


def across_sessions(runs: list[GreedyRun]) -> list[Parity]:
    """Every pair of runs of different sessions on the same checkpoint and prompts."""
    return [
        Parity(a, b, compare_all(list(a.results), list(b.results)))
        for a, b in combinations(runs, 2)
        if a.session != b.session and _comparable(a, b)
    ]


def against_baseline(runs: list[GreedyRun], baseline: list[GreedyRun]) -> tuple[list[Parity], list[str]]:
    """Each run against the same session's same run in the baseline; and the runs the baseline lacks."""
    pairs, missing = [], []
    for run in runs:
        before = next(
            (b for b in baseline if (b.session, b.run) == (run.session, run.run) and _comparable(b, run)), None
        )
        if before is None:
            missing.append(f"{run.label}: no baseline run of checkpoint {run.identity[:12]} with the same prompts")
        else:
            pairs.append(Parity(before, run, compare_all(list(before.results), list(run.results))))
    return pairs, missing
