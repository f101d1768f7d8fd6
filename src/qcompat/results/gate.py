"""The release gate: why a run fails (new failures, unexpected passes, missing or not-run required sessions,
greedy divergences between sessions or from a baseline run, quality that fell behind or drifted from the
baseline's); empty when it passes."""

from __future__ import annotations

from qcompat.results.files import FAILING, SessionResults, cell, check_name
from qcompat.results.session_parity import Parity, across_sessions, runs_of
from qcompat.results.session_quality import QualityComparison


def gate(
    sessions: list[SessionResults],
    required: list[str],
    baseline: list[Parity] = (),
    quality: list[QualityComparison] = (),
) -> list[str]:
    """Why the release gate fails; empty when it passes. A greedy divergence between sessions fails it, and so
    does one from a baseline run (session_parity.against_baseline of an earlier run's results), and quality
    beyond tolerance of the baseline's (session_quality.against_baseline)."""
    reasons = []
    by_name = {s.session: s for s in sessions}
    for name in required:
        if name not in by_name:
            reasons.append(f"required session {name} has no results")
        elif by_name[name].not_run_reason:
            reasons.append(f"required session {name} did not run: {by_name[name].not_run_reason}")
    for results in sessions:
        for check in results.checks:
            if check["outcome"] in FAILING:
                reasons.append(f"{results.session}: {check_name(check['check'])}: {cell(check)}")
    for pair in across_sessions(runs_of(sessions)):
        reasons += pair.divergences("session")
    for pair in baseline:
        reasons += pair.divergences("the baseline's")
    for comparison in quality:
        reasons += comparison.reasons()
    return reasons
