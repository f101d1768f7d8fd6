"""The stack probe reads versions and hardware without importing the heavy packages."""

from __future__ import annotations

import json

from qcompat.stack import Gpu, Stack, parse_nvcc, parse_nvidia_smi, probe


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
