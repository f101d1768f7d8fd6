"""Decision logic of the GPU checks, kept apart from the GPU so CPU selftests can feed it logs and probes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qcompat.env.probe import Stack
from qcompat.registry.issues import KnownIssue, Registry

SAMPLER_ENV = "VLLM_USE_FLASHINFER_SAMPLER"
SAMPLER_SETTINGS = {"unset": None, "0": "0", "1": "1"}
# vllm 0.32.0 v1/worker/gpu_model_runner.py:5150 and v1/worker/gpu/model_runner.py:425:
# "Model loading took %s GiB memory and %.6f seconds" (GiB rounded to 2 places); model runner V2 in 0.14-0.27.1
# printed "%s GiB and %.6f seconds" (FACTS.md).
MODEL_LOADING = re.compile(r"Model loading took ([\d.]+) GiB")
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


def sampler_expectation(
    registry: Registry, stack: Stack, setting: str, among: list[str], quantization: dict
) -> SamplerExpectation:
    env = sampler_env(setting)
    issues = registry.applicable(among, stack, quantization, env)
    logs = [] if issues else registry.expected_logs(stack, setting)
    return SamplerExpectation(setting, issues, re.compile(logs[0][1]) if logs else None)
