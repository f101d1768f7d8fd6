"""Quality runs across nights: each session's quality figures (results' `quality`) against the baseline run's.

A run is compared with the baseline's same session and run (`hf-int4`, `vllm-int4`) over the same corpus and the
same base. Of the same checkpoint, a move beyond tolerance either way is drift (the engine's numerics changed under
an unchanged revision); of another checkpoint (a new revision), only a move for the worse fails the gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from qcompat.errors import QcompatError
from qcompat.quality.limits import METRICS, moved
from qcompat.quality.record import QualityRun
from qcompat.results.files import SessionResults


@dataclass(frozen=True)
class SessionQuality:
    session: str
    quality: QualityRun

    @property
    def label(self) -> str:
        return f"{self.session} {self.quality.run}"


def quality_of(sessions: list[SessionResults]) -> list[SessionQuality]:
    found = []
    for session in sessions:
        for index, raw in enumerate(session.data.get("quality") or []):
            try:
                found.append(SessionQuality(session.session, QualityRun.from_dict(raw)))
            except (KeyError, TypeError, ValueError) as exc:
                raise QcompatError(f"{session.path}: quality run #{index} is not readable ({exc!r})") from None
    return found


def _key(found: SessionQuality) -> tuple[str, ...]:
    """What makes two quality runs comparable: the same session and run, measured the same way (and on the same
    task), over the same corpus against the same base."""
    q = found.quality
    task = f"{q.figures.get('task')} x{q.figures.get('items')}"  # the same items: a limit moved is not a regression
    return found.session, q.run, q.approximation, task, q.corpus_digest, q.base_identity


@dataclass(frozen=True)
class QualityComparison:
    baseline: SessionQuality
    tonight: SessionQuality

    @property
    def same_revision(self) -> bool:
        return self.baseline.quality.weights_digest == self.tonight.quality.weights_digest

    def line(self) -> str:
        before, now = self.baseline.quality.figures, self.tonight.quality.figures
        digests = self.tonight.quality.weights_digest[:12], self.baseline.quality.weights_digest[:12]
        kind = "same checkpoint" if self.same_revision else "weights {} vs the baseline's {}".format(*digests)
        shown = ", ".join(
            f"{n} {m.shown(before[n])} -> {m.shown(now[n])}" for n, m in METRICS.items() if n in before and n in now
        )
        return f"quality {self.tonight.label} ({kind}): {shown}"

    def reasons(self) -> list[str]:
        """Each metric beyond tolerance: worse on a new revision; either way on the same one (drift)."""
        limits = self.tonight.quality.limits
        if limits is None:
            return []
        found = []
        for name, metric in METRICS.items():
            if not (name in self.baseline.quality.figures and name in self.tonight.quality.figures):
                continue
            if name not in limits.tolerance:
                continue
            before, now = self.baseline.quality.figures[name], self.tonight.quality.figures[name]
            beyond = moved(metric, before, now, limits.tolerance[name])
            tolerance = limits.tolerance[name]
            band = f"{tolerance:.0%} of it" if metric.relative else metric.shown(tolerance)
            said = f"{name} {metric.shown(now)} against the baseline's {metric.shown(before)} (tolerance {band})"
            if beyond > 0:
                what = "drifted worse on the same checkpoint" if self.same_revision else "regressed on a new revision"
                found.append(f"quality {self.tonight.label}: {what}: {said}")
            elif beyond < 0 and self.same_revision:
                found.append(f"quality {self.tonight.label}: drifted on the same checkpoint (the engine moved): {said}")
        return found


def against_baseline(
    tonight: list[SessionQuality], baseline: list[SessionQuality]
) -> tuple[list[QualityComparison], list[str]]:
    """Each of tonight's quality runs against the baseline's comparable one; and the runs the baseline lacks."""
    pairs, missing = [], []
    for run in tonight:
        before = next((b for b in baseline if _key(b) == _key(run)), None)
        if before is None:
            missing.append(
                f"quality {run.label}: no baseline run over corpus {run.quality.corpus} against the same base"
            )
        else:
            pairs.append(QualityComparison(before, run))
    return pairs, missing
