"""Known issues as data (fixtures/known_issues.yaml): which apply to a stack, and what an outcome means.

A check asks which entries apply to the probed stack, hardware, checkpoint and server environment. An
observed failure that one of them explains (same phase, signature found) is a known failure; any other
failure is new; a pass where an entry expected failure is an unexpected pass that must fail the run.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir
from qcompat.stack import Stack

PHASES = ("config", "load", "startup", "first_request")
# What the harness can tell apart: the server died before it was healthy, or the first request failed.
OBSERVED_PHASE = {"config": "startup", "load": "startup", "startup": "startup", "first_request": "first_request"}
Kind = Literal["passed", "known-failure", "new-failure", "unexpected-pass"]


def versions_match(affected: dict[str, SpecifierSet | str], stack: Stack) -> bool:
    """Every package's specifier holds for the probed version (pre-releases such as nightlies included)."""
    for package, specifier in affected.items():
        try:
            if package not in stack.packages or not SpecifierSet(str(specifier)).contains(
                Version(stack.packages[package]), prereleases=True
            ):
                return False
        except InvalidVersion:
            return False
    return True


def hardware_matches(hardware: dict[str, Any], stack: Stack) -> bool:
    device = hardware.get("device", "any")
    if device != "any" and device != stack.device:
        return False
    for key, found in (
        ("compute_capability", stack.compute_capability),
        ("cuda_toolkit", stack.cuda_toolkit or stack.cuda_runtime),
    ):
        if key in hardware and (found is None or not SpecifierSet(hardware[key]).contains(found)):
            return False
    return True


@dataclass(frozen=True)
class KnownIssue:
    id: str
    title: str
    component: str
    affected: dict[str, SpecifierSet]
    phase: str
    signature: re.Pattern[str]
    hardware: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str | None] = field(default_factory=dict)
    workaround: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)

    def applies(
        self, stack: Stack, quantization: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> bool:
        return (
            self._versions_match(stack)
            and self._hardware_matches(stack)
            and self._checkpoint_matches(quantization or {})
            and self._env_matches(env or {})
        )

    def _versions_match(self, stack: Stack) -> bool:
        return versions_match(self.affected, stack)

    def _hardware_matches(self, stack: Stack) -> bool:
        return hardware_matches(self.hardware, stack)

    def _checkpoint_matches(self, quantization: dict[str, Any]) -> bool:
        for key, wanted in self.checkpoint.items():
            if key == "lacks":
                if quantization.get(wanted):
                    return False
            elif quantization.get(key) != wanted:
                return False
        return True

    def _env_matches(self, env: dict[str, str]) -> bool:
        return all(env.get(name) == wanted for name, wanted in self.env.items())

    def explains(self, phase: str, text: str) -> bool:
        return OBSERVED_PHASE[self.phase] == phase and self.signature.search(text) is not None


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    issue: str | None = None  # the known issue's id (known-failure, unexpected-pass)
    signature: str | None = None  # the failure's telling line (known-failure, new-failure)
    message: str = ""

    @property
    def label(self) -> str:
        if self.kind in ("known-failure", "unexpected-pass"):
            return f"{self.kind}({self.issue})"
        if self.kind == "new-failure":
            return f"new-failure({self.signature})"
        return self.kind


ERROR_LINE = re.compile(r"(Error|Exception|Check failed|error:|FAILED|Traceback)")


def telling_line(text: str) -> str:
    """The last line that looks like the error, trimmed: what a failure is called in the matrix."""
    lines = [line.strip() for line in text.splitlines() if ERROR_LINE.search(line) and "Traceback" not in line]
    line = lines[-1] if lines else (text.strip().splitlines() or ["(no output)"])[-1]
    return re.sub(r"^\(\w+ pid=\d+\)\s*", "", line)[:300]


def judge(
    expected: list[KnownIssue], passed: bool, phase: str | None = None, text: str = "", stack_label: str = ""
) -> Verdict:
    if passed:
        if expected:
            ids = ", ".join(issue.id for issue in expected)
            return Verdict(
                "unexpected-pass",
                ids,
                message=f"known issue {ids} no longer reproduces on {stack_label}: update the registry",
            )
        return Verdict("passed")
    for issue in expected:
        if phase is not None and issue.explains(phase, text):
            match = issue.signature.search(text)
            return Verdict("known-failure", issue.id, match.group(0), f"known issue {issue.id}: {issue.title}")
    wanted = "; ".join(f"{i.id} ({i.phase}: /{i.signature.pattern}/)" for i in expected)
    detail = f" (expected {wanted})" if expected else ""
    return Verdict(
        "new-failure",
        signature=telling_line(text),
        message=f"new failure in phase {phase}{detail}: {telling_line(text)}",
    )


class Registry:
    def __init__(self, issues: list[KnownIssue], behaviours: list[dict[str, Any]] | None = None):
        self.issues = {issue.id: issue for issue in issues}
        self.behaviours = behaviours or []

    def __getitem__(self, issue_id: str) -> KnownIssue:
        return self.issues[issue_id]

    def applicable(
        self, among: list[str], stack: Stack, quantization: dict | None = None, env: dict | None = None
    ) -> list[KnownIssue]:
        return [self.issues[i] for i in among if self.issues[i].applies(stack, quantization, env)]


def _issue(raw: dict[str, Any], path: Path) -> KnownIssue:
    where = f"{path}: issue {raw.get('id', '?')}"
    try:
        affected = {package: SpecifierSet(spec) for package, spec in raw["affected"].items()}
        for key in ("compute_capability", "cuda_toolkit"):
            if key in raw.get("hardware", {}):
                SpecifierSet(raw["hardware"][key])
        if raw["phase"] not in PHASES:
            raise QcompatError(f"{where}: phase {raw['phase']!r} is not one of {', '.join(PHASES)}")
        return KnownIssue(
            id=raw["id"], title=raw["title"], component=raw["component"], affected=affected, phase=raw["phase"],
            signature=re.compile(raw["signature"]), hardware=raw.get("hardware", {}), checkpoint=raw.get("checkpoint", {}),
            env=raw.get("env", {}), workaround=raw.get("workaround", {}), links=raw.get("links", {}),
        )  # fmt: skip
    except KeyError as missing:
        raise QcompatError(f"{where}: missing {missing}") from None
    except InvalidSpecifier as exc:
        raise QcompatError(f"{where}: {exc}") from None
    except re.error as exc:
        raise QcompatError(f"{where}: signature is not a regex ({exc})") from None


def load_registry(path: Path | None = None) -> Registry:
    path = path or fixtures_dir() / "known_issues.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QcompatError(f"{path}: {exc}") from None
    return Registry([_issue(raw, path) for raw in data["issues"]], data.get("behaviours", []))


@functools.cache
def default_registry() -> Registry:
    return load_registry()
