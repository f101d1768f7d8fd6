"""`qcompat triage LOG`: what it reads from a log, how the flags override it, and what it refuses."""

from __future__ import annotations

import json

from qcompat.cli import main
from qcompat.fixtures import fixtures_dir

AVX2_LOG = fixtures_dir() / "logs" / "replays" / "2026-11-29-amd-epyc-avx2" / "stable-0.32.0-int4.log"
AMX_KERNEL_LOG = fixtures_dir() / "logs" / "vllm-cpu-amx-bf16-onednn-capped.kernel.log"


def _triage(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["triage", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _status(answer: dict, issue: str) -> str:
    return next(i["status"] for i in answer["issues"] if i["id"] == issue)


def test_a_known_cpu_failure_is_confirmed_by_the_stack_and_cpu_given(capsys):
    code, answer = _triage(capsys, str(AVX2_LOG), "--vllm", "0.32.0", "--device", "cpu", "--cpu-flags", "avx2")
    assert (code, answer["verdict"]) == (0, "known")
    assert _status(answer, "vllm-cpu-avx2-no-wna16") == "known"


def test_without_the_cpu_it_is_unconfirmed_and_says_which_flag_gives_it(capsys):
    code, answer = _triage(capsys, str(AVX2_LOG), "--vllm", "0.32.0", "--device", "cpu")
    assert (code, answer["verdict"]) == (1, "unconfirmed")
    missing = next(i["missing"] for i in answer["issues"] if i["id"] == "vllm-cpu-avx2-no-wna16")
    assert missing == ["the CPU's flags (--cpu-flags)"]


def test_a_cpu_with_avx512_or_a_non_nvidia_accelerator_rules_the_cpu_entry_out(capsys):
    _, answer = _triage(capsys, str(AVX2_LOG), "--vllm", "0.32.0", "--device", "cpu", "--cpu-flags", "avx2,avx512f")
    assert _status(answer, "vllm-cpu-avx2-no-wna16") == "ruled out"
    code, answer = _triage(capsys, str(AVX2_LOG), "--vllm", "0.32.0", "--device", "rocm", "--cpu-flags", "avx2")
    assert (code, _status(answer, "vllm-cpu-avx2-no-wna16")) == (1, "ruled out")


def test_the_version_banner_in_the_log_is_read_and_a_flag_overrides_it(tmp_path, capsys):
    log = tmp_path / "server.log"
    log.write_text(
        "(APIServer pid=1) INFO 12-06 10:00:00 [api_server.py:1] vLLM API server version 0.22.0\n"
        + AVX2_LOG.read_text()
    )
    _, answer = _triage(capsys, str(log))
    assert answer["read_from_log"]["versions"] == {"vllm": "0.22.0"}
    assert answer["stack"]["packages"]["vllm"] == "0.22.0"
    _, answer = _triage(capsys, str(log), "--vllm", "0.32.0")
    assert answer["stack"]["packages"]["vllm"] == "0.32.0"


def test_env_lines_in_the_log_are_the_servers_environment(tmp_path, capsys):
    log = tmp_path / "server.log"
    log.write_text("ONEDNN_MAX_CPU_ISA=AVX2\n" + AMX_KERNEL_LOG.read_text())
    flags = ["--vllm", "0.32.0", "--device", "cpu", "--cpu-flags", "avx2,avx512f,avx512_bf16,amx_tile"]
    code, answer = _triage(capsys, str(log), *flags)
    assert (code, _status(answer, "vllm-cpu-amx-bf16-onednn-capped")) == (0, "known")
    assert answer["root_cause"].startswith("c10::Error: BFloat16 Brgemm VNNI format is only supported")
    log.write_text(AMX_KERNEL_LOG.read_text())
    _, answer = _triage(capsys, str(log), *flags)
    assert _status(answer, "vllm-cpu-amx-bf16-onednn-capped") == "ruled out", "no cap said: unset is assumed"


def test_an_empty_or_binary_file_is_unusable_and_a_stray_byte_is_not(tmp_path, capsys):
    empty, binary, stray = tmp_path / "empty.log", tmp_path / "core", tmp_path / "stray.log"
    empty.write_text("\n \n")
    binary.write_bytes(b"\x7fELF\0\0\1")
    stray.write_bytes(b"progress \xff\nValueError: boom\n")
    for path, word in ((empty, "empty"), (binary, "binary")):
        assert main(["triage", str(path)]) == 2
        assert word in capsys.readouterr().err
    assert main(["triage", str(stray)]) == 1
    assert "root cause: ValueError: boom" in capsys.readouterr().out
