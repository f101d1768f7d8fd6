"""The stack probe reads versions and hardware without importing the heavy packages."""

from __future__ import annotations

import json

import pytest

from qcompat.env.probe import Cpu, Gpu, Stack, parse_cpuinfo, parse_nvcc, parse_nvidia_smi, probe
from qcompat.fixtures import fixtures_dir


def test_nvidia_smi_csv_gives_name_capability_and_driver():
    output = "NVIDIA GeForce RTX 5090, 12.0, 580.82.07\nNVIDIA H100 80GB HBM3, 9.0, 570.124.06\n"
    assert parse_nvidia_smi(output) == [
        Gpu("NVIDIA GeForce RTX 5090", "12.0", "580.82.07"),
        Gpu("NVIDIA H100 80GB HBM3", "9.0", "570.124.06"),
    ]
    assert parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.") == []


def test_nvcc_version_gives_the_toolkit_release():
    assert (
        parse_nvcc("Cuda compilation tools, release 13.0, V13.0.48\nBuild cuda_13.0.r13.0/compiler.36424714_0")
        == "13.0"
    )
    assert parse_nvcc("") is None


def test_nightly_dev_and_rc_builds_are_prereleases():
    stack = Stack(packages={"vllm": "0.33.1.dev123+gabc1234", "transformers": "5.19.0", "torch": "2.14.0rc2"})
    assert stack.is_prerelease("vllm") and stack.is_prerelease("torch")
    assert not stack.is_prerelease("transformers")


def test_probe_here_is_json_serialisable_and_says_cpu():
    stack = probe()
    data = json.loads(json.dumps(stack.to_dict()))
    assert data["device"] == ("cuda" if stack.gpus else "cpu")
    assert "on CPU" in stack.label() or stack.gpus


CPUINFO = fixtures_dir() / "cpuinfo"


def test_cpuinfo_of_the_avx2_only_epyc_gives_avx2_and_no_avx512():
    cpu = parse_cpuinfo((CPUINFO / "amd-epyc-avx2.txt").read_text())
    assert (cpu.vendor, cpu.model, cpu.flags) == ("AuthenticAMD", "AMD EPYC", ("avx2",))
    assert cpu.label() == "AMD EPYC [avx2]"


def test_cpuinfo_of_the_avx512_epyc_gives_its_bf16_and_vnni_flags():
    cpu = parse_cpuinfo((CPUINFO / "amd-epyc-avx512-bf16.txt").read_text())
    assert cpu.flags == ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16")
    assert not cpu.has("amx_bf16")


def test_cpuinfo_flags_are_matched_whole_and_only_the_first_processor_counts():
    text = "vendor_id\t: GenuineIntel\nmodel name\t: Xeon\nflags\t\t: avx2 avx512fx amx_bf16\n\nflags\t\t: avx512f\n"
    cpu = parse_cpuinfo(text)
    assert cpu.flags == ("avx2", "amx_bf16") and not cpu.has("avx512f")
    assert parse_cpuinfo("").label() == "x86_64 [no AVX2]"


def test_the_probe_reads_this_machines_cpu_into_the_results():
    stack = probe()
    if stack.cpu is None:
        pytest.skip("not applicable: this machine has no /proc/cpuinfo")
    data = json.loads(json.dumps(stack.to_dict()))
    assert Cpu.from_dict(data["cpu"]) == stack.cpu
    assert stack.cpu.label() in stack.label()


def _executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0, V13.0.88'\n")
    path.chmod(0o755)
    return str(path)


def test_nvcc_is_found_where_vllm_looks_cuda_home_first_then_the_path_then_usr_local_cuda(tmp_path):
    from qcompat.env.probe import find_nvcc

    home = _executable(tmp_path / "cuda-13.0" / "bin" / "nvcc")
    elsewhere = _executable(tmp_path / "opt" / "bin" / "nvcc")
    assert find_nvcc({"CUDA_HOME": str(tmp_path / "cuda-13.0"), "PATH": str(tmp_path / "opt" / "bin")}) == home
    assert find_nvcc({"CUDA_PATH": str(tmp_path / "cuda-13.0"), "PATH": ""}) == home
    assert find_nvcc({"PATH": str(tmp_path / "opt" / "bin")}) == elsewhere
    # a CUDA_HOME without nvcc is not followed by any other place (vLLM 0.34.0 utils/flashinfer.py:75-81)
    assert find_nvcc({"CUDA_HOME": str(tmp_path / "empty"), "PATH": str(tmp_path / "opt" / "bin")}) is None


def test_the_probe_records_nvcc_ninja_and_whether_flashinfer_s_kernels_are_available():
    data = probe().to_dict()
    assert set(data["tools"]) == {"nvcc", "ninja"}
    assert data["flashinfer_kernels"] == ("available" if all(data["tools"].values()) else "disabled")
