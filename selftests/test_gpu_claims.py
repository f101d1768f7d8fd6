"""Decision logic of the GPU checks, fed recorded log lines and probes (no GPU runs them here)."""

from __future__ import annotations

from qcompat.gpu_claims import model_loading_gib, sampler_env, sampler_expectation
from qcompat.registry import default_registry, judge
from selftests.test_registry import BLACKWELL, GPTQ, GPU_LEGACY, SM120_030, SM120_NIGHTLY, evidence
from tests.expectations import CHECKS

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


def test_sampler_unset_on_sm120_before_0_31_is_the_known_crash():
    expectation = expect(SM120_030, "unset")
    assert [i.id for i in expectation.issues] == ["flashinfer-sampler-sm120"]
    verdict = judge(expectation.issues, passed=False, phase="startup", text=evidence("flashinfer-sampler-sm120"))
    assert verdict.label == "known-failure(flashinfer-sampler-sm120)"


def test_card_workaround_serves_on_sm120_before_0_31():
    assert expect(SM120_030, "0").issues == []
    assert expect(SM120_030, "0").log is None


def test_nightly_on_sm120_falls_back_by_itself_and_says_so():
    unset, zero = expect(SM120_NIGHTLY, "unset"), expect(SM120_NIGHTLY, "0")
    assert unset.issues == [] and zero.issues == []
    assert unset.log.search(
        "INFO FlashInfer top-p/top-k sampling unavailable: SM 12.0 needs CUDA >= 12.9; falling back"
    )
    assert zero.log.search("INFO FlashInfer top-p/top-k sampling disabled via VLLM_USE_FLASHINFER_SAMPLER=0")


def test_forced_sampler_has_no_recorded_expectation_so_a_crash_would_be_reported_as_new():
    expectation = expect(SM120_NIGHTLY, "1")
    assert expectation.issues == [] and expectation.log is None
    verdict = judge(expectation.issues, passed=False, phase="startup", text="RuntimeError: something about FlashInfer")
    assert verdict.kind == "new-failure"


def test_no_sampler_expectation_off_blackwell():
    assert expect(GPU_LEGACY, "unset").issues == []


def test_sampler_settings_map_to_the_env():
    assert sampler_env("unset") == {} and sampler_env("0") == {"VLLM_USE_FLASHINFER_SAMPLER": "0"}
    assert BLACKWELL[0].compute_capability == "12.0"
