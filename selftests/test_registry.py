"""The known-issue registry validates, each signature matches its evidence, and verdicts follow the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.fixtures import fixtures_dir
from qcompat.registry import OBSERVED_PHASE, default_registry, judge, telling_line
from qcompat.stack import Gpu, Stack
from tests.expectations import CHECKS

LOGS = fixtures_dir() / "logs"
REGISTRY = default_registry()

CPU_LEGACY = Stack(packages={"vllm": "0.22.0", "transformers": "5.12.0"})
CPU_027 = Stack(packages={"vllm": "0.27.1", "transformers": "5.16.1"})
CPU_027_PINNED = Stack(packages={"vllm": "0.27.1", "transformers": "5.14.1"})
CPU_STABLE = Stack(packages={"vllm": "0.32.0", "transformers": "5.19.0"})
BLACKWELL = [Gpu("NVIDIA GeForce RTX 5090", "12.0", "580.82")]
SM120_030 = Stack(packages={"vllm": "0.30.2", "transformers": "5.14.1"}, cuda_toolkit="13.0", gpus=BLACKWELL)
SM120_NIGHTLY = Stack(packages={"vllm": "0.33.1.dev123+gabc1234"}, cuda_toolkit="13.0", gpus=BLACKWELL)
GPU_LEGACY = Stack(
    packages={"vllm": "0.22.0"}, cuda_toolkit="12.8", gpus=[Gpu("NVIDIA H100 80GB HBM3", "9.0", "570.1")]
)
GPTQ = {"quant_method": "gptq", "modules_in_block_to_quantize": [["mlp.up_proj"]]}


def evidence(issue_id: str) -> str:
    for suffix in (".log", ".reported.txt"):
        if (LOGS / f"{issue_id}{suffix}").is_file():
            return (LOGS / f"{issue_id}{suffix}").read_text()
    raise AssertionError(f"no evidence for {issue_id} under {LOGS}")


@pytest.mark.parametrize("issue_id", sorted(REGISTRY.issues))
def test_signature_matches_its_evidence(issue_id):
    assert REGISTRY[issue_id].signature.search(evidence(issue_id)), f"{issue_id}: signature does not match its log"


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


def test_legacy_cpu_expects_the_wna16_crash_and_not_the_head_dim_bug():
    assert applicable(CPU_LEGACY) == {"vllm-cpu-wna16-transformers-backend"}
    assert applicable(CPU_LEGACY, quantization={}) == set(), "the BF16 base is expected to serve on CPU"


def test_legacy_gpu_expects_the_head_dim_bug():
    assert applicable(GPU_LEGACY) == {"vllm-head-dim-transformers-backend"}


def test_027_with_transformers_5_15_or_later_expects_the_ambiguous_head_dim_error():
    assert applicable(CPU_027) == {"vllm-ambiguous-per-layer-head-dim"}
    assert applicable(CPU_027_PINNED) == set()


def test_stable_cpu_expects_nothing_of_a_complete_checkpoint():
    assert applicable(CPU_STABLE) == set()
    assert applicable(CPU_STABLE, quantization={"quant_method": "gptq"}) == set(), "does not reproduce on CPU"


def test_flashinfer_sampler_expectation_follows_version_and_env_on_sm120():
    assert "flashinfer-sampler-sm120" in applicable(SM120_030, env={})
    assert "flashinfer-sampler-sm120" not in applicable(SM120_030, env={"VLLM_USE_FLASHINFER_SAMPLER": "0"})
    assert "flashinfer-sampler-sm120" not in applicable(SM120_NIGHTLY, env={}), "nightly falls back by itself"
    assert "flashinfer-sampler-sm120" not in applicable(GPU_LEGACY, env={}), "only sm120"


def test_nightly_version_counts_as_inside_open_ranges():
    assert applicable(SM120_NIGHTLY, quantization={"quant_method": "gptq"}) == {"vllm-modules-in-block-missing"}


def test_known_failure_needs_the_phase_and_the_signature():
    issue = REGISTRY["vllm-cpu-wna16-transformers-backend"]
    log = evidence(issue.id)
    verdict = judge([issue], passed=False, phase="first_request", text=log)
    assert (verdict.kind, verdict.issue) == ("known-failure", issue.id)
    assert "a_k_size % 32 == 0" in verdict.signature
    assert judge([issue], passed=False, phase="startup", text=log).kind == "new-failure", "same text, other phase"


def test_failure_with_another_signature_is_new_and_named_by_its_telling_line():
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
    assert set(OBSERVED_PHASE.values()) == {"startup", "first_request"}


def test_telling_line_prefers_the_last_error_line():
    assert telling_line(evidence("vllm-ambiguous-per-layer-head-dim")).startswith(
        "transformers.integrations.heterogeneity.configuration_utils.AmbiguousGlobalPerLayerAttributeError"
    )


def test_registry_with_a_bad_range_is_refused(tmp_path: Path):
    from qcompat.errors import QcompatError
    from qcompat.registry import load_registry

    bad = tmp_path / "issues.yaml"
    bad.write_text(
        "issues:\n  - {id: x, title: t, component: vllm, affected: {vllm: '<<0.2'}, phase: startup, signature: x}\n"
    )
    with pytest.raises(QcompatError, match="issue x"):
        load_registry(bad)
