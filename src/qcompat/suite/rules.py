"""Which layout rules each static test holds the checkpoint to, so every rule is provably consulted."""

from __future__ import annotations

from qcompat.inspection.findings import Finding, Severity
from qcompat.inspection.grouping import group

CONSULTED: set[str] = set()


def consults(*rules: str):
    CONSULTED.update(rules)

    def mark(test):
        test.rules = rules
        return test

    return mark


def broken(findings: list[Finding], *rules: str) -> list[str]:
    """One line per cause: the same rule broken the same way on many tensors is one line with a count."""
    return [g.line() for g in group([f for f in findings if f.severity is Severity.ERROR and f.rule in rules])]
