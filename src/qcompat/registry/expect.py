"""What the registry expects of a checkpoint on a stack someone plans, asked before installing anything.

A plan is versions, a device, the GPU's compute capability and CUDA toolkit, the CPU's flags and the
server's environment; what is not planned is taken from this machine (its CPU), or left unknown: an entry
that needs an unknown version or hardware fact is listed as not judged, never as "no known issue".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from qcompat.env.devices import ACCELERATORS
from qcompat.env.probe import CPU_FLAGS, Cpu, Gpu, Stack
from qcompat.errors import QcompatError
from qcompat.registry.issues import CPU_CONDITIONS, KnownIssue, Registry, versions_match
from qcompat.registry.sampler import SAMPLER_ENV

MAJOR_MINOR = re.compile(r"\d+\.\d+")


@dataclass
class Plan:
    stack: Stack
    env: dict[str, str] = field(default_factory=dict)
    probed: bool = False  # the stack is this machine's, not a plan


def _version(flag: str, value: str) -> str:
    try:
        Version(value)
    except InvalidVersion:
        raise QcompatError(f"--{flag} {value!r} is not a version (PEP 440, e.g. 0.33.0)") from None
    return value


def _major_minor(flag: str, value: str) -> str:
    if not MAJOR_MINOR.fullmatch(value):
        raise QcompatError(f"--{flag} {value!r} is not MAJOR.MINOR (e.g. 12.0)")
    return value


CPU_LINE_LABEL = re.compile(r"^\s*(flags|Flags|Features)\s*:")


def _cpu(flags: str, machine: Cpu | None) -> Cpu:
    """The planned CPU from a list of flags, or from the machine's whole line as /proc/cpuinfo ("flags\t\t: fpu
    ...") or lscpu ("Flags: fpu ...") print it: a pasted line names every flag the CPU has, and those the registry
    never reads are dropped; a short list naming a flag the probe does not record is a typo, refused."""
    labelled = CPU_LINE_LABEL.match(flags)
    named = [flag.lower() for flag in re.split(r"[\s,]+", flags[labelled.end() :] if labelled else flags) if flag]
    pasted = bool(labelled) or "fpu" in named or len(named) > len(CPU_FLAGS)
    unknown = [flag for flag in named if flag not in CPU_FLAGS]
    if unknown and not pasted:
        raise QcompatError(
            f"--cpu-flags names {', '.join(unknown)}; known: {', '.join(CPU_FLAGS)} "
            "(or paste the whole flags line of /proc/cpuinfo or lscpu)"
        )
    return Cpu("", "planned CPU", machine.arch if machine else "x86_64", tuple(f for f in CPU_FLAGS if f in named))


def _env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise QcompatError(f"--env {pair!r} is not KEY=VALUE")
        env[name] = value
    return env


def plan(
    versions: dict[str, str | None],
    *,
    device: str | None = None,
    gpu_cc: str | None = None,
    cuda: str | None = None,
    cpu_flags: str | None = None,
    env: list[str] | None = None,
    tools: dict[str, bool | None] | None = None,
    machine: Stack,
) -> Plan:
    """A Stack from the flags given; without any stack flag, `machine` (this machine's probe) itself. `tools`
    says whether nvcc and ninja are there (None: nvcc as on this machine, ninja there); `cuda` is the CUDA
    FlashInfer sees: nvcc's where there is one, else the one torch was built for."""
    planned = {name: _version(name, v) for name, v in versions.items() if v is not None}
    given_tools = {name: found for name, found in (tools or {}).items() if found is not None}
    if not planned and device is None and gpu_cc is None and cuda is None and cpu_flags is None and not given_tools:
        return Plan(machine, _env(env or []), probed=True)
    device = device or ("cuda" if gpu_cc or cuda else "cpu")
    gpus = []
    if device == "cuda":
        capability = _major_minor("gpu-cc", gpu_cc) if gpu_cc else ""
        gpus = [Gpu("planned GPU", capability, "")]
    elif gpu_cc or cuda:
        raise QcompatError("--gpu-cc and --cuda describe a GPU (an NVIDIA one): use them with --device cuda")
    # nvcc as on this machine unless said; ninja there unless said: flashinfer-python requires the ninja package,
    # whose binary is on the PATH of the venv the server runs from.
    # A planned GPU host's nvcc is its own: unknown unless said (entries that depend on it are then not judged),
    # never this machine's. ninja is there unless said: flashinfer-python requires the ninja package, whose binary
    # is on the PATH of the venv the server runs from.
    found_tools = {"nvcc": given_tools.get("nvcc"), "ninja": given_tools.get("ninja", True)}
    found_tools = {name: found for name, found in found_tools.items() if found is not None}
    cuda = _major_minor("cuda", cuda) if cuda else None
    with_nvcc = found_tools.get("nvcc", True)
    stack = Stack(
        packages=planned,
        cuda_toolkit=cuda if with_nvcc else None,
        cuda_runtime=None if with_nvcc else cuda,
        gpus=gpus,
        cpu=_cpu(cpu_flags, machine.cpu) if cpu_flags is not None else machine.cpu,
        tools=found_tools,
        accelerator=device if device in ACCELERATORS else None,
    )
    return Plan(stack, _env(env or []))


def unknown_facts(entry: KnownIssue | dict[str, Any], stack: Stack) -> list[str]:
    """What the plan leaves unknown that this entry's conditions (its cases included) need."""
    conditions = entry.conditions if isinstance(entry, KnownIssue) else entry
    if not _may_apply(conditions, stack):
        return []
    cases = [case for case in conditions.get("cases") or [] if _may_apply(case, stack)]
    parts = [conditions, *cases]
    affected = {package for part in parts for package in part.get("affected", {})}
    hardware = {key for part in parts for key in part.get("hardware", {})}
    missing = [f"the {package} version" for package in sorted(affected) if package not in stack.packages]
    if "compute_capability" in hardware and stack.gpus and not stack.compute_capability:
        missing.append("the GPU's compute capability (--gpu-cc)")
    if "cuda_toolkit" in hardware and stack.gpus and not (stack.cuda_toolkit or stack.cuda_runtime):
        missing.append("the CUDA toolkit (--cuda)")
    if "flashinfer_kernels" in hardware and stack.gpus and stack.flashinfer_kernels is None:
        unsaid = [tool for tool in ("nvcc", "ninja") if tool not in stack.tools]
        missing.append(" and ".join(f"whether {tool} is there (--{tool}/--no-{tool})" for tool in unsaid))
    if any(key in hardware for key in CPU_CONDITIONS) and stack.cpu is None and stack.device == "cpu":
        missing.append("the CPU's flags (--cpu-flags)")
    return missing


def _may_apply(case: dict[str, Any], stack: Stack) -> bool:
    """A case whose versions the plan names and rules out needs nothing more from the plan."""
    known = {package: spec for package, spec in case.get("affected", {}).items() if package in stack.packages}
    return versions_match(known, stack)


@dataclass
class Expectation:
    failures: list[KnownIssue]
    behaviours: list[dict[str, Any]]  # each with the `log` line to expect for the planned setting
    not_judged: dict[str, list[str]]  # entry id -> what the plan leaves unknown
    unread: list[str] = field(default_factory=list)  # planned releases whose requirements were not checked
    install: list[KnownIssue] = field(default_factory=list)  # the plan does not install from the index (the rest
    # holds once installed another way: exit 0 or 1 speaks of the checkpoint on the stack)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


def expect(registry: Registry, planned: Plan, facts: dict[str, Any]) -> Expectation:
    stack, env = planned.stack, planned.env
    failures, install, not_judged = [], [], {}
    for issue in registry.issues.values():
        missing = unknown_facts(issue, stack) if issue.env_matches(env) and issue.checkpoint_matches(facts) else []
        if missing:
            if issue.hardware.get("device", "any") in ("any", stack.device):
                not_judged[issue.id] = missing
        elif issue.applies(stack, facts, env):
            (install if issue.phase == "install" else failures).append(issue)
    setting = env.get(SAMPLER_ENV, "unset")
    for behaviour in registry.behaviours:
        missing = unknown_facts(behaviour, stack)
        if missing and setting in (behaviour.get("log") or {}):
            not_judged[behaviour["id"]] = missing
    behaviours = [{**behaviour, "log": log} for behaviour, log in registry.expected_logs(stack, setting)]
    return Expectation(failures, behaviours, not_judged, install=install)
