"""Decision logic of the GPU checks, fed recorded log lines and probes (no GPU runs them here)."""

from __future__ import annotations

import pytest

from qcompat.env.probe import Gpu, Stack
from qcompat.registry.issues import judge
from qcompat.registry.load import default_registry
from qcompat.registry.sampler import model_loading_gib, sampler_env, sampler_expectation
from qcompat.suite.expectations import CHECKS
from selftests.test_registry import BLACKWELL, GPTQ, GPU_LEGACY, SM120_NIGHTLY, evidence

AMONG = CHECKS["gpu.flashinfer_sampler"]
# vllm 0.32.0's format (gpu_model_runner.py:5150): "Model loading took %s GiB memory and %.6f seconds"
LOADED_10_8 = (
    "(Worker pid=7) INFO 11-27 03:00:01 [gpu_model_runner.py:5150] Model loading took 10.81 GiB memory and "
    "21.402113 seconds"
)


def expect(stack, setting):
    return sampler_expectation(default_registry(), stack, setting, AMONG, GPTQ)


def test_model_loading_line_gives_gib():
    assert model_loading_gib("noise\n" + LOADED_10_8 + "\nmore") == 10.81
    assert model_loading_gib("Model loading took 10.81 GiB and 21.402113 seconds") == 10.81, (
        "model runner V2, 0.14-0.27.1"
    )
    assert model_loading_gib("no such line") is None


def sm120(vllm: str, cuda: str, capability: str = "12.0") -> Stack:
    return Stack(packages={"vllm": vllm}, cuda_toolkit=cuda, gpus=[Gpu("NVIDIA GeForce RTX 5090", capability, "580")])


def ids(stack: Stack, setting: str) -> list[str]:
    return [issue.id for issue in expect(stack, setting).issues]


# Lines as vLLM prints them (format strings read in the wheels; see fixtures/known_issues.yaml).
def fallback_line(reason: str) -> str:
    return (
        "(EngineCore pid=9) WARNING 11-29 03:00:01 [topk_topp_sampler.py:131] FlashInfer top-p/top-k sampling "
        f"unavailable: {reason}; falling back. Set VLLM_USE_FLASHINFER_SAMPLER=0 to silence."
    )


FALLBACK_LINE = fallback_line("SM 12.x requires CUDA >= 12.9")
DISABLED_LINE = (
    "(EngineCore pid=9) INFO 11-29 03:00:01 [topk_topp_sampler.py:96] FlashInfer top-p/top-k sampling disabled via "
    "VLLM_USE_FLASHINFER_SAMPLER=0."
)


@pytest.mark.parametrize("setting", ["unset", "1"])
def test_before_0_31_with_cuda_below_12_9_the_sampler_crashes_at_startup(setting: str):
    expectation = expect(sm120("0.30.0", "12.8"), setting)
    assert [i.id for i in expectation.issues] == ["flashinfer-sampler-sm120"]
    verdict = judge(expectation.issues, passed=False, phase="startup", text=evidence("flashinfer-sampler-sm120"))
    assert verdict.label == "known-failure(flashinfer-sampler-sm120)"


@pytest.mark.parametrize("stack", [sm120("0.30.0", "12.8"), sm120("0.32.0", "12.8"), SM120_NIGHTLY, GPU_LEGACY])
def test_the_cards_workaround_serves_on_every_version_and_toolkit_and_says_so(stack: Stack):
    zero = expect(stack, "0")
    assert zero.issues == []
    assert zero.log.search(DISABLED_LINE)


def test_from_0_31_with_cuda_below_12_9_vllm_falls_back_by_itself_and_refuses_the_forced_setting():
    stack = sm120("0.32.0", "12.8")
    unset = expect(stack, "unset")
    assert unset.issues == [] and unset.log.search(FALLBACK_LINE)
    assert ids(stack, "1") == ["flashinfer-sampler-forced-sm120"]
    verdict = judge(
        expect(stack, "1").issues, passed=False, phase="startup", text=evidence("flashinfer-sampler-forced-sm120")
    )
    assert verdict.label == "known-failure(flashinfer-sampler-forced-sm120)"


@pytest.mark.parametrize("setting", ["unset", "1"])
def test_on_the_cards_setup_the_jit_failure_is_expected_unless_the_sampler_is_off(setting: str):
    assert ids(SM120_NIGHTLY, setting) == ["flashinfer-sampler-jit-sm120"]
    assert ids(sm120("0.30.0", "12.9"), setting) == ["flashinfer-sampler-jit-sm120"]
    runtime_only = Stack(packages={"vllm": "0.32.0"}, cuda_runtime="13.0", gpus=BLACKWELL)
    assert ids(runtime_only, setting) == ["flashinfer-sampler-jit-sm120"], "no nvcc: FlashInfer reads torch's CUDA"


def test_vllm_0_33_pins_a_flashinfer_that_targets_sm120_from_cuda_12_8():
    assert ids(sm120("0.33.0", "12.8"), "unset") == ["flashinfer-sampler-jit-sm120"]
    old = expect(sm120("0.33.0", "12.6"), "unset")
    assert old.issues == [] and old.log.search(fallback_line("SM 120 requires CUDA >= 12.8"))
    assert ids(sm120("0.33.0", "12.6"), "1") == ["flashinfer-sampler-forced-sm120"]
    gb10 = expect(sm120("0.33.0", "12.8", capability="12.1"), "unset")
    assert gb10.issues == [] and gb10.log.search(fallback_line("SM 12.1+ requires CUDA >= 12.9"))


@pytest.mark.parametrize("setting", ["unset", "1"])
def test_no_sampler_failure_is_expected_off_blackwell(setting: str):
    assert expect(GPU_LEGACY, setting).issues == []
    assert expect(GPU_LEGACY, setting).log is None


def test_sampler_settings_map_to_the_env():
    assert sampler_env("unset") == {} and sampler_env("0") == {"VLLM_USE_FLASHINFER_SAMPLER": "0"}
    assert BLACKWELL[0].compute_capability == "12.0"
