"""`qcompat triage LOG`: what a failure log is, for the person on a red night or reading a log a user pasted.

The log's root cause; each registry entry whose signature the log shows, judged against the stack the log itself
reports (vLLM's version banner, an environment dump) and the flags given, which win. An entry is `known` when
every condition it has holds on facts that were given or read, `unconfirmed` when none is contradicted but some
fact is missing (named, with the flag that gives it), and ruled out when a fact contradicts it (said, with the
fact). The checkpoint is the suite's (its structure is the published model's) unless another is named. The log
cannot tell the phase reliably, so an entry's phases are shown, not required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qcompat.env.devices import STACK_DEVICES
from qcompat.registry.expect import Plan
from qcompat.registry.forensics import find_signature, read_lines, root_cause
from qcompat.registry.issues import CPU_CONDITIONS, KnownIssue, Registry, specifier_holds

VERSION = r"(\d+(?:\.\d+)+(?:[\w.+-]*\w)?)"
# What logs say of their stack: vLLM's banners (0.5 to 0.34), collect_env.py's report, pip freeze lines.
VERSION_FACTS = {
    "vllm": (
        rf"vLLM API server version {VERSION}",
        rf"Initializing an? (?:V\d )?LLM engine \(v{VERSION}\)",
        rf"vLLM Version\s*:\s*{VERSION}",
        rf"(?:^|\s|\[pip3?\] )vllm(?:-cpu)?=={VERSION}",
    ),
    "transformers": (rf"(?:^|\s|\[pip3?\] )transformers=={VERSION}", rf"[Tt]ransformers version\s*:\s*{VERSION}"),
    "torch": (rf"PyTorch version\s*:\s*{VERSION}", rf"(?:^|\s|\[pip3?\] )torch=={VERSION}"),
}
DEVICE_FACTS = (
    (re.compile(r"Automatically detected platform (\w+)\."), None),
    (re.compile(r"ROCM used to build PyTorch\s*:\s*\d"), "rocm"),
)
CUDA_FACT = re.compile(r"CUDA used to build PyTorch\s*:\s*(\d+\.\d+)")
NVCC_FACT = re.compile(r"Cuda compilation tools, release (\d+\.\d+)")
ENV_FACT = re.compile(r"^(?:export\s+)?((?:VLLM|ONEDNN|DNNL|FLASHINFER)_[A-Z0-9_]+)=(\S*)$")


@dataclass
class LogFacts:
    versions: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    cuda: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)  # each fact with the log line it came from

    def to_dict(self) -> dict[str, Any]:
        return {"versions": self.versions, "device": self.device, "cuda": self.cuda, "env": self.env}


def log_facts(text: str) -> LogFacts:
    facts = LogFacts()
    lines = [line.text for line in read_lines(text)]
    for package, patterns in VERSION_FACTS.items():
        for line in lines:
            found = next((m for pattern in patterns if (m := re.search(pattern, line))), None)
            if found and package not in facts.versions:
                facts.versions[package] = found.group(1)
                facts.said.append(f"{package} {found.group(1)}: {line[:160]}")
    for line in lines:
        for pattern, device in DEVICE_FACTS:
            if facts.device is None and (found := pattern.search(line)):
                named = device or found.group(1).lower()
                if named in STACK_DEVICES:
                    facts.device = named
                    facts.said.append(f"device {named}: {line[:160]}")
        cuda = NVCC_FACT.search(line) or CUDA_FACT.search(line)
        if cuda and facts.cuda is None:
            facts.cuda = cuda.group(1)
            facts.said.append(f"CUDA {cuda.group(1)}: {line[:160]}")
        if env := ENV_FACT.match(line):
            facts.env.setdefault(env.group(1), env.group(2))
    return facts


@dataclass
class Candidate:
    issue: KnownIssue
    matched: str
    missing: list[str]  # facts it needs that neither the log nor the flags gave
    contradicted: list[str]  # facts that rule it out

    @property
    def status(self) -> str:
        return "ruled out" if self.contradicted else "unconfirmed" if self.missing else "known"


@dataclass
class Triage:
    root_cause: str
    candidates: list[Candidate]
    facts: LogFacts
    device_known: bool

    @property
    def known(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status == "known"]

    @property
    def verdict(self) -> str:
        if self.known:
            return "known"
        return "unconfirmed" if any(c.status == "unconfirmed" for c in self.candidates) else "new"

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "known" else 1


def _judge_versions(affected: dict[str, Any], versions: dict[str, str], missing: list, contradicted: list) -> None:
    for package, specifier in affected.items():
        if package not in versions:
            missing.append(f"the {package} version (--{package})")
        elif not specifier_holds(specifier, versions[package]):
            contradicted.append(f"{package} {versions[package]} is outside {specifier}")


def _judge_hardware(hardware: dict[str, Any], plan: Plan, device_known: bool, missing: list, contradicted: list):
    stack = plan.stack
    device = hardware.get("device", "any")
    if device != "any":
        if not device_known:
            missing.append(f"the device (--device {device})")
        elif device != stack.device:
            contradicted.append(f"it is an issue of {device}, the log's device is {stack.device}")
    if any(key in hardware for key in CPU_CONDITIONS):
        if device_known and stack.device != "cpu":
            contradicted.append(f"its CPU conditions do not apply on {stack.device}")
        elif stack.cpu is None:
            missing.append("the CPU's flags (--cpu-flags)")
        else:
            lacking = [flag for flag in hardware.get("cpu_has", []) if not stack.cpu.has(flag)]
            having = [flag for flag in hardware.get("cpu_lacks", []) if stack.cpu.has(flag)]
            if lacking or having:
                contradicted.append(
                    f"the CPU {'lacks ' + ', '.join(lacking) if lacking else 'has ' + ', '.join(having)}"
                )
    for key, found, flag in (
        ("compute_capability", stack.compute_capability, "--gpu-cc"),
        ("cuda_toolkit", stack.cuda_toolkit or stack.cuda_runtime, "--cuda"),
    ):
        if key in hardware:
            if not found:
                missing.append(f"the {key.replace('_', ' ')} ({flag})")
            elif not specifier_holds(hardware[key], found):
                contradicted.append(f"{key.replace('_', ' ')} {found} is outside {hardware[key]}")
    if "flashinfer_kernels" in hardware:
        if stack.flashinfer_kernels is None:
            missing.append("whether nvcc and ninja are there (--nvcc/--ninja)")
        elif stack.flashinfer_kernels != hardware["flashinfer_kernels"]:
            contradicted.append(f"FlashInfer's kernels are {stack.flashinfer_kernels}")


def _judge(issue: KnownIssue, plan: Plan, device_known: bool, facts: dict[str, Any]) -> tuple[list, list]:
    missing: list[str] = []
    contradicted: list[str] = []
    _judge_versions(issue.affected, plan.stack.packages, missing, contradicted)
    _judge_hardware(issue.hardware, plan, device_known, missing, contradicted)
    if issue.cases:
        judged = []
        for case in issue.cases:
            case_missing: list[str] = []
            case_contradicted: list[str] = []
            _judge_versions(case.get("affected", {}), plan.stack.packages, case_missing, case_contradicted)
            _judge_hardware(case.get("hardware", {}), plan, device_known, case_missing, case_contradicted)
            judged.append((case_missing, case_contradicted))
        holding = [case_missing for case_missing, case_contradicted in judged if not case_contradicted]
        if not holding:
            contradicted.append("none of its cases holds (" + "; ".join(judged[0][1]) + ")")
        elif all(holding):
            missing.extend(dict.fromkeys(item for case_missing in holding for item in case_missing))
    if not issue.checkpoint_matches(facts):
        contradicted.append(f"the checkpoint does not meet {issue.checkpoint}")
    if not issue.env_matches(plan.env):
        contradicted.append(f"the server's environment does not meet {issue.env} (unset unless given)")
    return list(dict.fromkeys(missing)), contradicted


def triage(registry: Registry, text: str, plan: Plan, device_known: bool, facts: dict[str, Any]) -> Triage:
    """`plan` holds the stack from the flags over the log's facts; `facts` the checkpoint's (checkpoint_facts)."""
    candidates = []
    for issue in registry.issues.values():
        match = find_signature(issue.signature, text)
        if match:
            missing, contradicted = _judge(issue, plan, device_known, facts)
            candidates.append(Candidate(issue, match.group(0)[:300], missing, contradicted))
    return Triage(root_cause(text), candidates, log_facts(text), device_known)
