"""Known issues as data (fixtures/known_issues.yaml): which apply to a stack, and what an outcome means.

A check asks which entries apply to the probed stack, hardware, checkpoint and server environment. An
observed failure that one of them explains (same phase, signature found) is a known failure; any other
failure is new; a pass where an entry expected failure is an unexpected pass that must fail the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from qcompat.checkpoint import quantconfig
from qcompat.checkpoint.architecture import ConfigKeyMissing, text_architecture
from qcompat.checkpoint.local import Checkpoint
from qcompat.env.probe import Stack
from qcompat.registry.forensics import find_signature, root_cause

PHASES = ("install", "config", "load", "startup", "first_request")
# What the harness can tell apart: the stack did not install (the resolver's message), the server died before it
# was healthy, or the first request failed.
OBSERVED_PHASE = {
    "install": "install",
    "config": "startup",
    "load": "startup",
    "startup": "startup",
    "first_request": "first_request",
}
Kind = Literal["passed", "known-failure", "new-failure", "unexpected-pass"]


QUANTIZED_ATTENTION = re.compile(r"\.self_attn\.(q|k|v)_proj\.qweight$")


def checkpoint_facts(checkpoint: Checkpoint) -> dict[str, Any]:
    """What an entry's `checkpoint` conditions read: the effective quantization config's keys,
    heterogeneous_head_dims from config.json (absent where the config cannot say), and
    quantized_attention: whether any q/k/v projection is GPTQ-packed (from the tensor names)."""
    quant = quantconfig.effective(checkpoint.quant_sources)
    facts: dict[str, Any] = dict(quant.values) if quant else {}
    facts["quantized_attention"] = any(QUANTIZED_ATTENTION.search(name) for name in checkpoint.tensors)
    try:
        facts["heterogeneous_head_dims"] = text_architecture(checkpoint.config).heterogeneous_head_dims
    except ConfigKeyMissing:
        pass
    return facts


LOWER_BOUNDS = (">=", ">", "~=")


def specifier_holds(specifier: SpecifierSet | str, version: str) -> bool:
    """PEP 440 containment, pre-releases and dev builds included, with one deliberate turn: against a lower bound a
    pre-release or dev build of release X counts as X. A behaviour that entered in X was on X's branch before X
    was tagged (transformers 5.15.0.dev0 already raises what `>=5.15` describes), and PEP 440 sorts X.dev0 below X.
    Upper bounds stay as PEP 440 has them: `<X` (fixed in X) excludes X's own pre-releases, so a release candidate
    or nightly of the fixing release is taken to carry the fix."""
    parsed = Version(version)
    base = Version(parsed.base_version) if parsed.is_prerelease or parsed.is_devrelease else parsed
    return all(
        clause.contains(base if clause.operator in LOWER_BOUNDS else parsed, prereleases=True)
        for clause in SpecifierSet(str(specifier))
    )


def versions_match(affected: dict[str, SpecifierSet | str], stack: Stack) -> bool:
    """Every package's specifier holds for the probed version (specifier_holds)."""
    for package, specifier in affected.items():
        try:
            if package not in stack.packages or not specifier_holds(specifier, stack.packages[package]):
                return False
        except InvalidVersion:
            return False
    return True


CPU_CONDITIONS = ("cpu_arch", "cpu_has", "cpu_lacks")  # machine, and lists of CPU_FLAGS; an unprobed CPU meets none
FLASHINFER_KERNELS = ("available", "disabled")  # Stack.flashinfer_kernels: vLLM >= 0.34's has_flashinfer()


def hardware_matches(hardware: dict[str, Any], stack: Stack) -> bool:
    device = hardware.get("device", "any")
    if device != "any" and device != stack.device:
        return False
    if any(key in hardware for key in CPU_CONDITIONS):
        if stack.device != "cpu" or stack.cpu is None or hardware.get("cpu_arch", stack.cpu.arch) != stack.cpu.arch:
            return False
        if not all(stack.cpu.has(flag) for flag in hardware.get("cpu_has", [])):
            return False
        if any(stack.cpu.has(flag) for flag in hardware.get("cpu_lacks", [])):
            return False
    for key, found in (
        ("compute_capability", stack.compute_capability),
        ("cuda_toolkit", stack.cuda_toolkit or stack.cuda_runtime),
    ):
        if key in hardware and (found is None or not SpecifierSet(hardware[key]).contains(found)):
            return False
    # unknown (None) meets neither value
    return "flashinfer_kernels" not in hardware or hardware["flashinfer_kernels"] == stack.flashinfer_kernels


def stack_matches(conditions: dict[str, Any], stack: Stack) -> bool:
    """An entry's or behaviour's `affected` and `hardware` hold, and one of its `cases` (if it lists any):
    each case is its own affected + hardware, for thresholds that move between releases."""
    if not (
        versions_match(conditions.get("affected", {}), stack)
        and hardware_matches(conditions.get("hardware", {}), stack)
    ):
        return False
    cases = conditions.get("cases") or []
    return not cases or any(stack_matches(case, stack) for case in cases)


@dataclass(frozen=True)
class KnownIssue:
    id: str
    title: str
    component: str
    affected: dict[str, SpecifierSet]
    phases: tuple[str, ...]  # where it shows: a bug may kill startup on one stack and the first request on another
    signature: re.Pattern[str]
    hardware: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str | None | list[str | None]] = field(default_factory=dict)
    workaround: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # logs under fixtures/logs its signature must match (default: <id>.log)
    cases: tuple[dict[str, Any], ...] = ()  # alternatives of affected + hardware; one must hold

    @property
    def phase(self) -> str:
        """Where it shows first (or only)."""
        return self.phases[0]

    @property
    def conditions(self) -> dict[str, Any]:
        """What stack_matches reads, as a behaviour holds it."""
        return {"affected": self.affected, "hardware": self.hardware, "cases": self.cases}

    @property
    def cpu_specific(self) -> bool:
        """The entry names CPU conditions: a known failure of this CPU, not of the whole stack."""
        return any(
            key in hardware
            for hardware in (self.hardware, *(c.get("hardware", {}) for c in self.cases))
            for key in CPU_CONDITIONS
        )

    def applies(
        self, stack: Stack, quantization: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> bool:
        return (
            stack_matches(self.conditions, stack)
            and self.checkpoint_matches(quantization or {})
            and self.env_matches(env or {})
        )

    def checkpoint_matches(self, quantization: dict[str, Any]) -> bool:
        for key, wanted in self.checkpoint.items():
            if key == "lacks":
                if quantization.get(wanted):
                    return False
            elif quantization.get(key) != wanted:
                return False
        return True

    def env_matches(self, env: dict[str, str]) -> bool:
        """Each variable has the value named, or one of the values listed (None: unset)."""
        return all(
            env.get(name) in wanted if isinstance(wanted, list) else env.get(name) == wanted
            for name, wanted in self.env.items()
        )

    def explains(self, phase: str, text: str) -> bool:
        observed = {OBSERVED_PHASE[phase] for phase in self.phases}
        return phase in observed and find_signature(self.signature, text) is not None


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    issue: str | None = None  # the known issue's id (known-failure, unexpected-pass)
    signature: str | None = None  # what matched (known-failure), or the root cause (new-failure)
    message: str = ""

    @property
    def fields(self) -> dict[str, str | None]:
        """What the results file records of it (the suite's recorder reads these, never the label)."""
        return {"kind": self.kind, "issue": self.issue, "signature": self.signature}

    @property
    def label(self) -> str:
        if self.kind in ("known-failure", "unexpected-pass"):
            return f"{self.kind}({self.issue})"
        if self.kind == "new-failure":
            return f"new-failure({self.signature})"
        return self.kind


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
            match = find_signature(issue.signature, text)
            return Verdict("known-failure", issue.id, match.group(0), f"known issue {issue.id}: {issue.title}")
    wanted = "; ".join(f"{i.id} ({'/'.join(i.phases)}: /{i.signature.pattern}/)" for i in expected)
    detail = f" (expected {wanted})" if expected else ""
    return Verdict(
        "new-failure",
        signature=root_cause(text),
        message=f"new failure in phase {phase}{detail}: {root_cause(text)}",
    )


class Registry:
    def __init__(self, issues: list[KnownIssue], behaviours: list[dict[str, Any]] | None = None):
        self.issues = {issue.id: issue for issue in issues}
        self.behaviours = behaviours or []

    def __getitem__(self, issue_id: str) -> KnownIssue:
        return self.issues[issue_id]

    def expected_logs(self, stack: Stack, setting: str) -> list[tuple[dict[str, Any], str]]:
        """Behaviours that hold on `stack`, each with the log line (a regex) it prints for a sampler `setting`."""
        return [
            (behaviour, behaviour["log"][setting])
            for behaviour in self.behaviours
            if setting in (behaviour.get("log") or {}) and stack_matches(behaviour, stack)
        ]

    def applicable(
        self, among: list[str], stack: Stack, quantization: dict | None = None, env: dict | None = None
    ) -> list[KnownIssue]:
        return [self.issues[i] for i in among if self.issues[i].applies(stack, quantization, env)]
