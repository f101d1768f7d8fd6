"""`qcompat expect` tells someone planning a stack what the registry expects of the checkpoint, before installing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcompat.cli import main
from selftests.support.planting import edit_quantization

CUDA_033 = ["--vllm", "0.33.0", "--transformers", "5.19.0", "--device", "cuda", "--gpu-cc", "12.0"]
# CPU plans name their flags: left out, they are this machine's, and an AVX2-only one adds vllm-cpu-avx2-no-wna16.
AVX512 = ["--device", "cpu", "--cpu-flags", "avx2,avx512f"]


def expected(capsys, *argv: str) -> tuple[int, set[str]]:
    """The exit code and the ids of the known failures `qcompat expect --json` names."""
    code = main(["expect", *argv, "--json"])
    return code, {failure["id"] for failure in json.loads(capsys.readouterr().out)["failures"]}


def test_vllm_below_0_28_with_transformers_5_15_names_the_ambiguous_head_dim_error_and_its_workaround(capsys):
    assert main(["expect", "--vllm", "0.25.0", "--transformers", "5.16.1", *AVX512]) == 1
    out = capsys.readouterr().out
    assert "known failure: vllm-ambiguous-per-layer-head-dim (at config)" in out
    assert "workaround: pins vllm>=0.28; alternative transformers==5.14.1" in out
    assert out.rstrip().endswith("1 known failure expected")


def test_the_same_vllm_with_transformers_5_14_expects_nothing(capsys):
    assert main(["expect", "--vllm", "0.25.0", "--transformers", "5.14.1", *AVX512]) == 0
    assert capsys.readouterr().out.rstrip().endswith("no known issue expected")


@pytest.mark.parametrize(("flags", "failures"), [("avx2", {"vllm-cpu-avx2-no-wna16"}), ("avx2,avx512f", set())])
def test_planned_cpu_flags_decide_the_cpu_entries(capsys, flags: str, failures: set[str]):
    code, found = expected(
        capsys, "--vllm", "0.32.0", "--transformers", "5.19.0", "--device", "cpu", "--cpu-flags", flags
    )
    assert (code, found) == (1 if failures else 0, failures)


def test_an_mlp_only_checkpoint_without_modules_in_block_does_not_get_the_fused_qkv_entry(capsys, tiny_copy: Path):
    from selftests.test_planted_defects import quantized_attention

    edit_quantization(tiny_copy, lambda q: q.pop("modules_in_block_to_quantize"))
    args = ["--checkpoint", str(tiny_copy), *CUDA_033, "--cuda", "13.0", "--env", "VLLM_USE_FLASHINFER_SAMPLER=0"]
    assert "vllm-modules-in-block-missing" not in expected(capsys, *args)[1]
    quantized_attention(tiny_copy)
    assert "vllm-modules-in-block-missing" in expected(capsys, *args)[1]


def test_an_entry_needing_what_the_plan_leaves_out_is_not_judged(capsys):
    assert main(["expect", "--vllm", "0.25.0", *AVX512]) == 0
    out = capsys.readouterr().out
    assert "not judged: vllm-ambiguous-per-layer-head-dim: the plan does not say the transformers version" in out
    assert "no known failure among the entries judged" in out


def test_without_stack_flags_it_judges_this_machine(capsys):
    main(["expect", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["probed"] is True and data["checkpoint"].endswith("tiny/int4")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--vllm", "banana"], "--vllm 'banana' is not a version"),
        (["--transformers", "5.x"], "--transformers '5.x' is not a version"),
        (["--gpu-cc", "twelve"], "--gpu-cc 'twelve' is not MAJOR.MINOR"),
        (["--device", "cuda", "--cuda", "13"], "--cuda '13' is not MAJOR.MINOR"),
        (["--device", "cpu", "--gpu-cc", "12.0"], "--gpu-cc and --cuda describe a GPU"),
        (["--cpu-flags", "avx2,avx512"], "--cpu-flags names avx512"),
        (
            ["--vllm", "0.33.0", "--env", "VLLM_USE_FLASHINFER_SAMPLER"],
            "--env 'VLLM_USE_FLASHINFER_SAMPLER' is not KEY=VALUE",
        ),
        (["--checkpoint", "/nonexistent/checkpoint"], "/nonexistent/checkpoint"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_flag(capsys, argv: list[str], message: str):
    assert main(["expect", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_cards_setup_names_the_flashinfer_jit_failure_and_its_workaround(capsys):
    assert main(["expect", *CUDA_033, "--cuda", "13.0"]) == 1
    out = capsys.readouterr().out
    assert "known failure: flashinfer-sampler-jit-sm120 (at startup)" in out
    assert "workaround: env VLLM_USE_FLASHINFER_SAMPLER=0" in out
    assert main(["expect", *CUDA_033, "--cuda", "13.0", "--env", "VLLM_USE_FLASHINFER_SAMPLER=0"]) == 0
    out = capsys.readouterr().out
    assert "expected behaviour: flashinfer-sampler-disabled" in out


def test_a_toolkit_too_old_for_flashinfer_expects_the_fallback_unset_and_a_failure_forced(capsys):
    cuda_128_on_032 = ["--vllm", "0.32.0", "--transformers", "5.19.0", "--gpu-cc", "12.0", "--cuda", "12.8"]
    assert main(["expect", *cuda_128_on_032]) == 0
    out = capsys.readouterr().out
    assert "expected behaviour: flashinfer-sampler-fallback" in out and "known failure" not in out
    code, failures = expected(capsys, *cuda_128_on_032, "--env", "VLLM_USE_FLASHINFER_SAMPLER=1")
    assert (code, failures) == (1, {"flashinfer-sampler-forced-sm120"})


def test_vllm_0_33_accepts_cuda_12_8_for_sm120_so_the_jit_failure_is_expected_there(capsys):
    assert expected(capsys, *CUDA_033, "--cuda", "12.8") == (1, {"flashinfer-sampler-jit-sm120"})


def test_a_gpu_plan_without_compute_capability_leaves_the_sm120_entries_and_behaviours_not_judged(capsys):
    assert main(["expect", "--vllm", "0.33.0", "--transformers", "5.19.0", "--device", "cuda", "--cuda", "12.6"]) == 0
    out = capsys.readouterr().out
    assert "not judged: flashinfer-sampler-fallback: the plan does not say the GPU's compute capability" in out
    assert "not judged: flashinfer-sampler-jit-sm120" in out and "expected behaviour" not in out
    assert "flashinfer-sampler-forced-sm120" not in out  # needs VLLM_USE_FLASHINFER_SAMPLER=1, which the plan lacks


CUDA_034 = ["--vllm", "0.34.0", "--device", "cuda", "--gpu-cc", "12.0", "--cuda", "13.0"]


def test_a_plan_no_installer_can_make_exits_2_naming_the_requirement_that_excludes_it(capsys):
    assert main(["expect", *CUDA_034, "--transformers", "5.25.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        "no installer can make this stack: vllm 0.34.0 requires transformers<5.23.0,>=5.16.1 (its METADATA); "
        "the plan has transformers 5.25.0"
    ) in err


def test_vllm_0_34_without_nvcc_falls_back_from_flashinfer_and_serves(capsys):
    assert main(["expect", *CUDA_034, "--transformers", "5.22.2", "--no-nvcc"]) == 0
    out = capsys.readouterr().out
    assert "expected behaviour: flashinfer-sampler-kernels-disabled" in out
    assert (
        "the server logs /FlashInfer top-p/top-k sampling unavailable: FlashInfer kernels are disabled; falling back/"
        in out
    )
    assert "known failure" not in out
    # transformers 5.22.2's own requirements are not in the record: said, not guessed
    assert "requirements not checked: transformers 5.22.2" in out


def test_vllm_0_34_with_nvcc_and_ninja_compiles_the_sampler_and_meets_the_jit_failure(capsys):
    # ninja comes with flashinfer-python (it requires the ninja package): a plan has it unless it says --no-ninja
    assert expected(capsys, *CUDA_034, "--transformers", "5.22.2", "--nvcc") == (1, {"flashinfer-sampler-jit-sm120"})
    assert expected(capsys, *CUDA_034, "--transformers", "5.22.2", "--nvcc", "--no-ninja") == (0, set())


def test_vllm_0_34_forced_without_nvcc_is_refused_at_startup(capsys):
    forced = ["--env", "VLLM_USE_FLASHINFER_SAMPLER=1", "--no-nvcc"]
    assert expected(capsys, *CUDA_034, "--transformers", "5.22.2", *forced) == (
        1,
        {"flashinfer-sampler-forced-kernels-disabled"},
    )
    assert main(["expect", *CUDA_034, "--transformers", "5.22.2", *forced]) == 1
    assert "workaround: env VLLM_USE_FLASHINFER_SAMPLER=0" in capsys.readouterr().out


def test_the_card_s_workaround_holds_on_0_34_whatever_the_tools(capsys):
    for tools in (["--nvcc", "--ninja"], ["--no-nvcc"]):
        workaround = ["--env", "VLLM_USE_FLASHINFER_SAMPLER=0", *tools]
        assert main(["expect", *CUDA_034, "--transformers", "5.22.2", *workaround]) == 0
        assert "expected behaviour: flashinfer-sampler-disabled" in capsys.readouterr().out


def test_vllm_0_33_compiles_the_sampler_whether_or_not_nvcc_is_there(capsys):
    # 0.33.0's sampler never asks has_flashinfer(): FlashInfer takes torch's CUDA and JIT-compiles at first use
    assert expected(capsys, *CUDA_033, "--cuda", "13.0", "--no-nvcc") == (1, {"flashinfer-sampler-jit-sm120"})


def test_a_plan_the_index_cannot_install_says_so_apart_from_the_checkpoint_s_expectations(capsys):
    assert main(["expect", *CUDA_034, "--transformers", "5.22.2", "--no-nvcc", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in data["not_installable"]] == ["vllm-flashinfer-pin-unpublished"]
    assert data["failures"] == []
    assert main(["expect", *CUDA_034, "--transformers", "5.22.2", "--no-nvcc"]) == 0
    out = capsys.readouterr().out
    assert "cannot be installed from the index: vllm-flashinfer-pin-unpublished" in out
    assert "workaround: pins vllm==0.33.0" in out


def test_a_planned_gpu_hosts_nvcc_is_unknown_unless_said_never_this_machines(capsys):
    assert main(["expect", *CUDA_034, "--transformers", "5.20.2"]) == 0
    out = capsys.readouterr().out
    assert "ninja there; environment" in out.splitlines()[0]  # nvcc not said: not assumed
    assert (
        "not judged: flashinfer-sampler-jit-sm120: the plan does not say whether nvcc is there (--nvcc/--no-nvcc)"
        in out
    )
    assert main(["expect", *CUDA_034, "--transformers", "5.20.2", "--nvcc"]) == 1
    assert "nvcc there, ninja there" in capsys.readouterr().out
