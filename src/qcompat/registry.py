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

from qcompat import quantconfig
from qcompat.architecture import ConfigKeyMissing, text_architecture
from qcompat.checkpoint import Checkpoint
from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir
from qcompat.stack import CPU_FLAGS, Stack

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


CPU_CONDITIONS = ("cpu_arch", "cpu_has", "cpu_lacks")  # machine, and lists of CPU_FLAGS; an unprobed CPU meets none
FLASHINFER_KERNELS = ("available", "disabled")  # Stack.flashinfer_kernels: vLLM >= 0.34's has_flashinfer()


def hardware_matches(hardware: dict[str, Any], stack: Stack) -> bool:
    device = hardware.get("device", "any")
    if device != "any" and device != stack.device:
        return False
    if any(key in hardware for key in CPU_CONDITIONS):
        if stack.cpu is None or hardware.get("cpu_arch", stack.cpu.arch) != stack.cpu.arch:
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
    phase: str
    signature: re.Pattern[str]
    hardware: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str | None | list[str | None]] = field(default_factory=dict)
    workaround: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()  # logs under fixtures/logs its signature must match (default: <id>.log)
    cases: tuple[dict[str, Any], ...] = ()  # alternatives of affected + hardware; one must hold

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
            and self._env_matches(env or {})
        )

    def checkpoint_matches(self, quantization: dict[str, Any]) -> bool:
        for key, wanted in self.checkpoint.items():
            if key == "lacks":
                if quantization.get(wanted):
                    return False
            elif quantization.get(key) != wanted:
                return False
        return True

    def _env_matches(self, env: dict[str, str]) -> bool:
        """Each variable has the value named, or one of the values listed (None: unset)."""
        return all(
            env.get(name) in wanted if isinstance(wanted, list) else env.get(name) == wanted
            for name, wanted in self.env.items()
        )

    def explains(self, phase: str, text: str) -> bool:
        return OBSERVED_PHASE[self.phase] == phase and self.signature.search(text) is not None


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    issue: str | None = None  # the known issue's id (known-failure, unexpected-pass)
    signature: str | None = None  # what matched (known-failure), or the root cause (new-failure)
    message: str = ""

    @property
    def label(self) -> str:
        if self.kind in ("known-failure", "unexpected-pass"):
            return f"{self.kind}({self.issue})"
        if self.kind == "new-failure":
            return f"new-failure({self.signature})"
        return self.kind


ERROR_LINE = re.compile(r"(Error|Exception|Check failed|error:|FAILED|Traceback)")
# What vLLM and torch put before a line: "(Worker pid=1) ERROR 11-29 05:47:47 [file.py:1063] ",
# "[rank0]:E1129 06:01:26.757000 13909 path/file.py:2908] [0/0] ".
LOG_PREFIX = re.compile(
    r"^(\([\w-]+ pid=\d+\)\s*)?"
    r"((DEBUG|INFO|WARNING|ERROR|CRITICAL) \d\d-\d\d [\d:]+ \[[^\]]*\]\s?)?"
    r"(\[rank\d+\]:[A-Z]\d{4} [\d:.]+ \d+ \S+\] (\[[\d/]+\] )?)?"
)
EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Unsupported)(?::\s.*)?$"
)
FATAL_CHECK = re.compile(r"(\S+:\d+\] )?Check failed: .*")
TRACEBACK = "Traceback (most recent call last)"


def _strip(line: str) -> str:
    return LOG_PREFIX.sub("", line.strip(), count=1).strip()


PROCESS = re.compile(r"^\(([\w-]+ pid=\d+)\)")


def root_cause(text: str) -> str:
    """The innermost error of a log, trimmed: what a failure is called in the matrix.

    Python prints a chain's innermost exception first, so the first exception line that ends a traceback is
    the root cause; a native fatal check (glog "Check failed") aborts before any traceback. Never a traceback
    frame or a debug-context line (they are indented or not exception lines). Each vLLM process's lines
    ("(EngineCore_DP0 pid=7) ...") are read apart, so tracebacks of two processes interleaved in one log stay
    whole; the process whose traceback starts first names the failure (a worker's error, not the engine core's
    or API server's wrappers of it).
    """
    raw_lines = text.splitlines()
    lines = [_strip(line) for line in raw_lines]
    processes: dict[str, list[tuple[int, str]]] = {}
    for number, (raw, line) in enumerate(zip(raw_lines, lines)):
        process = PROCESS.match(raw.strip())
        processes.setdefault(process.group(1) if process else "", []).append((number, line))
    causes = [cause for by_process in processes.values() if (cause := _first_error(by_process))]
    if causes:
        return min(causes)[1][:300]
    exceptions = [line for line in lines if EXCEPTION_LINE.match(line)]
    if exceptions:
        return exceptions[0][:300]
    errors = [line for line in lines if ERROR_LINE.search(line) and TRACEBACK not in line]
    return (errors[-1] if errors else (text.strip().splitlines() or ["(no output)"])[-1].strip())[:300]


def _first_error(lines: list[tuple[int, str]]) -> tuple[int, str] | None:
    """(where it started, text) of one process's first fatal check or traceback-ending exception."""
    started = None
    for number, line in lines:
        if TRACEBACK in line:
            started = number if started is None else started
        elif fatal := FATAL_CHECK.search(line):
            return number, fatal.group(0)
        elif started is not None and EXCEPTION_LINE.match(line):
            return started, line
    return None


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


def _validate_conditions(raw: dict[str, Any], where: str) -> None:
    """Every specifier parses and every CPU flag is one the probe records, in the cases too."""
    for spec in raw.get("affected", {}).values():
        SpecifierSet(spec)
    for key in ("compute_capability", "cuda_toolkit"):
        if key in raw.get("hardware", {}):
            SpecifierSet(raw["hardware"][key])
    kernels = raw.get("hardware", {}).get("flashinfer_kernels")
    if kernels is not None and kernels not in FLASHINFER_KERNELS:
        raise QcompatError(
            f"{where}: hardware.flashinfer_kernels is {kernels!r}; one of {', '.join(FLASHINFER_KERNELS)}"
        )
    for key in ("cpu_has", "cpu_lacks"):
        unknown = set(raw.get("hardware", {}).get(key, [])) - set(CPU_FLAGS)
        if unknown:
            raise QcompatError(
                f"{where}: hardware.{key} names {sorted(unknown)}; the probe records {', '.join(CPU_FLAGS)}"
            )
    for case in raw.get("cases", []):
        _validate_conditions(case, f"{where}: a case")


def _issue(raw: dict[str, Any], path: Path) -> KnownIssue:
    where = f"{path}: issue {raw.get('id', '?')}"
    try:
        affected = {package: SpecifierSet(spec) for package, spec in raw["affected"].items()}
        _validate_conditions(raw, where)
        if raw["phase"] not in PHASES:
            raise QcompatError(f"{where}: phase {raw['phase']!r} is not one of {', '.join(PHASES)}")
        return KnownIssue(
            id=raw["id"],
            title=raw["title"],
            component=raw["component"],
            affected=affected,
            phase=raw["phase"],
            signature=re.compile(raw["signature"]),
            hardware=raw.get("hardware", {}),
            checkpoint=raw.get("checkpoint", {}),
            env=raw.get("env", {}),
            workaround=raw.get("workaround", {}),
            links=raw.get("links", {}),
            evidence=tuple(raw.get("evidence", ())),
            cases=tuple(raw.get("cases", ())),
        )
    except KeyError as missing:
        raise QcompatError(f"{where}: missing {missing}") from None
    except InvalidSpecifier as exc:
        raise QcompatError(f"{where}: {exc}") from None
    except re.error as exc:
        raise QcompatError(f"{where}: signature is not a regex ({exc})") from None


def read_yaml(path: Path) -> Any:
    """The registry (or its provenance record) as data; an unreadable file or bad YAML is named."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise QcompatError(f"{path}: {exc}") from None


def load_registry(path: Path | None = None) -> Registry:
    path = path or fixtures_dir() / "known_issues.yaml"
    data = read_yaml(path)
    behaviours = data.get("behaviours", [])
    for behaviour in behaviours:
        where = f"{path}: behaviour {behaviour.get('id', '?')}"
        try:
            _validate_conditions(behaviour, where)
        except InvalidSpecifier as exc:
            raise QcompatError(f"{where}: {exc}") from None
    return Registry([_issue(raw, path) for raw in data["issues"]], behaviours)


@functools.cache
def default_registry() -> Registry:
    return load_registry()
