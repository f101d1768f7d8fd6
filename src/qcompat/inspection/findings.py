"""A finding: one rule broken (or warned about) at one place of a checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    file: str = ""
    tensor: str = ""
    expected: str = ""
    found: str = ""

    def to_dict(self) -> dict:
        return {**asdict(self), "severity": self.severity.value}

    def line(self) -> str:
        where = ":".join(part for part in (self.file, self.tensor) if part)
        detail = f" (expected {self.expected}, found {self.found})" if self.expected or self.found else ""
        return f"[{self.rule}] {where + ': ' if where else ''}{self.message}{detail}"


def error(rule: str, message: str, **where: str) -> Finding:
    return Finding(rule, Severity.ERROR, message, **where)


def warning(rule: str, message: str, **where: str) -> Finding:
    return Finding(rule, Severity.WARNING, message, **where)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
