"""Findings grouped by cause: one rule broken the same way on many tensors reads as one line with a count."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from qcompat.inspection.findings import Finding, Severity

# Rules whose finding explains others: shown first, so the first line a person reads names the real difference.
CAUSES_FIRST = (
    "quant.settings",
    "quant.checkpoint_format",
    "config.architecture",
    "config.text_config",
    "attention.not_quantized",
    "mlp.quantized",
    "quant.matches_tensors",
)
LAYER_NAME = re.compile(r"^(?:.*\.)?layers\.(\d+)(?:\.(.+))?$")
LISTED = 3  # parts of a compact list before "+N more"


@dataclass(frozen=True)
class FindingGroup:
    findings: tuple[Finding, ...]

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def rule(self) -> str:
        return self.first.rule

    @property
    def severity(self) -> Severity:
        return self.first.severity

    def line(self) -> str:
        if len(self.findings) == 1:
            return self.first.line()
        files = {f.file for f in self.findings}
        where = self.first.file if len(files) == 1 else f"{len(files)} files"
        tensors = [f.tensor for f in self.findings if f.tensor]
        listing = f" ({compact(tensors)})" if tensors else ""
        detail = _detail(self.findings)
        times = f"{len(self.findings)} times"
        return f"[{self.rule}] {where + ': ' if where else ''}{self.first.message}: {times}{listing}{detail}"

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.first.message,
            "count": len(self.findings),
            "tensors": compact([f.tensor for f in self.findings if f.tensor]),
            "line": self.line(),
        }


def _detail(findings: tuple[Finding, ...]) -> str:
    pairs = list(dict.fromkeys((f.expected, f.found) for f in findings))
    expected, found = pairs[0]
    if not expected and not found:
        return ""
    if len(pairs) == 1:
        return f" (expected {expected}, found {found})"
    return f" (first: expected {expected}, found {found}; {len(pairs)} different)"


def group(findings: list[Finding]) -> list[FindingGroup]:
    """Errors before warnings, causes before symptoms, otherwise in the order the rules ran."""
    grouped: dict[tuple, list[Finding]] = defaultdict(list)
    for finding in findings:
        grouped[(finding.severity, finding.rule, finding.message)].append(finding)

    def rank(key: tuple) -> tuple[int, int]:
        severity, rule, _ = key
        cause = CAUSES_FIRST.index(rule) if rule in CAUSES_FIRST else len(CAUSES_FIRST)
        return (severity is not Severity.ERROR, cause)

    return [FindingGroup(tuple(grouped[key])) for key in sorted(grouped, key=rank)]


def spans(indices: list[int]) -> str:
    """[0, 1, 2, 5, 11] -> '0-2, 5, 11'."""
    runs: list[list[int]] = []
    for index in sorted(set(indices)):
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs)


def compact(names: list[str]) -> str:
    """Tensor names in a line: 'layers 0-5: mlp.down_proj.qweight, mlp.up_proj.qweight; +2 more'."""
    layers: dict[str, list[int]] = defaultdict(list)
    others: list[str] = []
    for name in dict.fromkeys(names):
        match = LAYER_NAME.match(name)
        if match:
            layers[match.group(2) or ""].append(int(match.group(1)))
        else:
            others.append(name)
    by_span: dict[str, list[str]] = defaultdict(list)
    for rest, indices in layers.items():
        by_span[spans(indices)].append(rest)
    parts = [_layer_part(span, rests) for span, rests in by_span.items()] + others
    more = f"; +{len(parts) - LISTED} more" if len(parts) > LISTED else ""
    return "; ".join(parts[:LISTED]) + more


def _layer_part(span: str, rests: list[str]) -> str:
    named = sorted(r for r in rests if r)
    shown = ", ".join(named[:LISTED]) + (f", +{len(named) - LISTED} more" if len(named) > LISTED else "")
    return f"layers {span}" + (f": {shown}" if shown else "")
