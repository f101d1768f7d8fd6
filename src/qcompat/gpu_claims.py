"""Decision logic of the GPU checks, kept apart from the GPU so CPU selftests can feed it logs and probes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from qcompat.registry import KnownIssue, Registry
from qcompat.stack import Stack

SAMPLER_ENV = "VLLM_USE_FLASHINFER_SAMPLER"
SAMPLER_SETTINGS = {"unset": None, "0": "0", "1": "1"}
MODEL_LOADING = re.compile(r"Model loading took ([\d.]+) GiB")  # vLLM: "Model loading took %.4f GiB and %.6f seconds"
MODEL_LOAD_LIMIT_GIB = 11.5  # the card: "The model loads in ~11 GB"


def model_loading_gib(log: str) -> float | None:
    found = MODEL_LOADING.findall(log)
    return max(float(value) for value in found) if found else None


@dataclass(frozen=True)
class SamplerExpectation:
    setting: str  # "unset", "0" or "1"
    issues: list[KnownIssue]  # known failures the registry expects with this setting
    log: re.Pattern[str] | None  # a line a passing server must print (vLLM's own fallback notice)

    @property
    def describe(self) -> str:
        if self.issues:
            return "fails: " + ", ".join(i.id for i in self.issues)
        return "serves" + (f", logging /{self.log.pattern}/" if self.log else "")


def sampler_env(setting: str) -> dict[str, str]:
    value = SAMPLER_SETTINGS[setting]
    return {} if value is None else {SAMPLER_ENV: value}


def _behaviour_applies(behaviour: dict, stack: Stack) -> bool:
    for package, spec in behaviour.get("affected", {}).items():
        try:
            if package not in stack.packages or not SpecifierSet(spec).contains(
                Version(stack.packages[package]), prereleases=True
            ):
                return False
        except InvalidVersion:
            return False
    hardware = behaviour.get("hardware", {})
    if hardware.get("device", "any") not in ("any", stack.device):
        return False
    wanted = hardware.get("compute_capability")
    return wanted is None or (
        stack.compute_capability is not None and SpecifierSet(wanted).contains(stack.compute_capability)
    )


def sampler_expectation(
    registry: Registry, stack: Stack, setting: str, among: list[str], quantization: dict
) -> SamplerExpectation:
    env = sampler_env(setting)
    issues = registry.applicable(among, stack, quantization, env)
    log = None
    if not issues:
        for behaviour in registry.behaviours:
            if behaviour["id"] == "flashinfer-sampler-fallback" and _behaviour_applies(behaviour, stack):
                pattern = behaviour["log"].get(setting)
                log = re.compile(pattern) if pattern else None
    return SamplerExpectation(setting, issues, log)
