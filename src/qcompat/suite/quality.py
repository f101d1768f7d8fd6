"""Quality checks' common end: record an engine's figures against the base, note them, hold them to the limits."""

from __future__ import annotations

import pytest

from qcompat.checkpoint.architecture import text_config_of
from qcompat.quality.corpus import Corpus
from qcompat.quality.figures import Figures, TaskFigures
from qcompat.quality.limits import Limits, breaches
from qcompat.quality.record import QualityRun

SAME_SIZES = ("hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size")


def base_mismatch(config: dict, base_config: dict) -> str | None:
    """Why the base cannot be this checkpoint's unquantized original: the first size that differs."""
    ours, theirs = text_config_of(config), text_config_of(base_config)
    for key in SAME_SIZES:
        if ours.get(key) != theirs.get(key):
            return f"its {key} is {theirs.get(key)}, the checkpoint's {ours.get(key)}"
    return None


def figures_line(run: QualityRun) -> str:
    f = run.figures
    if "accuracy" in f:
        return (
            f"task accuracy, {run.run} vs its base: {f['task']} {f['accuracy']:.1%} vs {f['base_accuracy']:.1%}"
            f" over {f['items']} items (recovery {f['recovery']:.1%}; {run.approximation.split(':')[0]})"
        )
    how = run.approximation.split(":")[0]
    return (
        f"quality, {run.run} vs its base over {f['tokens']} tokens of {run.corpus} ({how}): perplexity"
        f" {f['ppl']:.4f} vs {f['base_ppl']:.4f} (ratio {f['ppl_ratio']:.5f}), KLD mean {f['kld_mean']:.3g} p99"
        f" {f['kld_p99']:.3g} nats, top-1 agreement {f['top1_agreement']:.1%}"
    )


class QualityHolder:
    def __init__(
        self,
        weights_digest: str,
        base_identity: str,
        corpus: Corpus,
        limits: Limits | None,
        profile: str,
        runs: list[dict],
        notes: list[str],
    ):
        self.weights_digest, self.base_identity, self.corpus = weights_digest, base_identity, corpus
        self.limits, self.profile, self.runs, self.notes = limits, profile, runs, notes

    def __call__(self, run: str, approximation: str, figures: Figures | TaskFigures) -> QualityRun:
        """Stored in the results and noted whatever they are; the test then fails on each metric past its limit."""
        found = QualityRun.of(
            run, self.weights_digest, self.base_identity, self.corpus, approximation, figures, self.limits
        )
        self.runs.append(found.to_dict())
        self.notes.append(figures_line(found))
        if self.limits is None:
            self.notes.append(f"quality, {run}: profile {self.profile} states no limits: figures recorded, not held")
            return found
        failed = breaches(found.figures, self.limits)
        if failed:
            pytest.fail(
                f"quality of {run} against the base, profile {self.profile}: "
                + "; ".join(failed)
                + f" (limits from: {self.limits.source})",
                pytrace=False,
            )
        return found
