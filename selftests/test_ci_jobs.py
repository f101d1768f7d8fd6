"""The ci/ jobs run by hand on a machine without the card's GPU: they refuse or record "not run" with reasons,
exit 2 without QCOMPAT_CHECKPOINT, clean up servers a killed job left, and the report step returns the gate's
code. A small `nvidia-smi` of the tests' own stands in for the driver, so the verdicts are the same on any
machine; everything else is the real scripts and the real qcompat."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qcompat.engines.processes import MARK, group_members
from selftests.support.published_layout import write_checkpoint
from selftests.test_report_gate import SERVE, write

REPO = Path(__file__).resolve().parents[1]
FAKE_NVIDIA_SMI = """#!/bin/sh
case "$*" in
  *--query-gpu*) [ -n "$FAKE_GPUS" ] && printf '%s\\n' "$FAKE_GPUS" ;;
  *--query-compute-apps*) [ -n "$FAKE_APPS" ] && printf '%s\\n' "$FAKE_APPS" ;;
  "") printf '| NVIDIA-SMI 580.82.07    Driver Version: 580.82.07    CUDA Version: %s |\\n' "${FAKE_CUDA:-13.0}" ;;
esac
exit 0
"""
RTX5090 = "NVIDIA GeForce RTX 5090, 12.0, 580.82.07"
H100 = "NVIDIA H100 80GB HBM3, 9.0, 570.86.15"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The ci/ scripts in a folder of their own: what they write (results/, the summary) stays in the test's."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "ci", root / "ci")
    (root / "stacks").mkdir()
    shutil.copy(REPO / "stacks" / "sessions.toml", root / "stacks" / "sessions.toml")  # which sessions a gate needs
    (tmp_path / "bin").mkdir()
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.write_text(FAKE_NVIDIA_SMI)
    smi.chmod(0o755)
    return root


def run(repo: Path, command: list[str], **env: str) -> subprocess.CompletedProcess:
    """The tools venv is the one running these tests (it has qcompat); the fake nvidia-smi comes first on PATH;
    the cleanups the jobs run look only at this test's folder."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("QCOMPAT_", "GITHUB_", "FAKE_"))}
    base.update(
        QCOMPAT_CI_VENV=sys.prefix,
        PATH=f"{repo.parent / 'bin'}:{os.environ['PATH']}",
        QCOMPAT_CLEANUP_UNDER=str(repo.parent),
    )  # a parallel run's leftovers are that run's to stop
    return subprocess.run(
        command, cwd=repo, env={**base, **env}, capture_output=True, text=True, timeout=300, check=False
    )


def results_of(repo: Path, session: str) -> dict:
    return json.loads((repo / "results" / f"{session}.json").read_text())


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("published") / "ckpt")


@pytest.mark.parametrize("job", ["nightly", "release-gate"])
def test_the_gpu_jobs_exit_2_naming_qcompat_checkpoint_when_it_is_unset(repo: Path, job: str):
    done = run(repo, [f"ci/{job}"])
    assert done.returncode == 2
    assert f"{job}: QCOMPAT_CHECKPOINT is not set: name the real checkpoint" in done.stderr
    assert "making the tools venv" not in done.stderr and not (repo / "results").exists(), "refused before anything"


def test_the_nightly_refuses_the_embedded_tiny_and_records_each_session_not_run(repo: Path, tmp_path: Path):
    summary = tmp_path / "summary.md"
    done = run(
        repo,
        ["ci/nightly"],
        QCOMPAT_CHECKPOINT=str(REPO / "fixtures/tiny/int4"),
        QCOMPAT_BASE=str(REPO / "fixtures/tiny/bf16"),
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert done.returncode == 2, done.stderr
    for session in ("nightly", "transformers"):
        reason = results_of(repo, session)["not_run"]
        assert reason.startswith("preflight: checkpoint: QCOMPAT_CHECKPOINT="), reason
        assert "has the sizes of the embedded tiny checkpoint (gemma-4-12b-it-int4-mlponly:tiny)" in reason
    text = summary.read_text()
    assert text.startswith("### nightly did not start: the runner failed its preflight")
    assert "FAIL  gpu         no NVIDIA GPU (nvidia-smi lists no GPU); this job needs one" in text


def test_the_release_gate_without_a_gpu_records_why_its_four_sessions_did_not_run(repo: Path, published: Path):
    done = run(repo, ["ci/release-gate"], QCOMPAT_CHECKPOINT=str(published), QCOMPAT_BASE=str(published))
    assert done.returncode == 2, done.stderr
    assert "ok    checkpoint  " in done.stdout and "1109 tensors, 11.3 GB (gemma-4-12b-it-int4-mlponly)" in done.stdout
    for session in ("static", "transformers", "stable", "nightly"):
        assert results_of(repo, session)["not_run"] == (
            "preflight: gpu: no NVIDIA GPU (nvidia-smi lists no GPU); this job needs one"
        )


def test_preflight_names_a_gpu_that_is_not_the_cards(repo: Path, published: Path):
    done = run(
        repo, [sys.executable, "ci/preflight.py", "--checkpoint", str(published), "--min-free-gib", "0"], FAKE_GPUS=H100
    )
    assert done.returncode == 2
    assert (
        "FAIL  gpu         NVIDIA H100 80GB HBM3, compute capability 9.0, driver 570.86.15; "
        "the card's claims need compute capability 12.0"
    ) in done.stdout


def test_preflight_passes_on_an_idle_sm120_with_the_real_layout(repo: Path, published: Path):
    done = run(
        repo,
        [sys.executable, "ci/preflight.py", "--checkpoint", str(published), "--min-free-gib", "0"],
        FAKE_GPUS=RTX5090,
    )
    assert done.returncode == 0, done.stdout
    assert "ok    gpu         NVIDIA GeForce RTX 5090, compute capability 12.0, driver 580.82.07" in done.stdout
    assert "ok    driver      supports CUDA 13.0" in done.stdout
    assert done.stdout.rstrip().endswith("preflight: ready (5 of 5 hold)")


def test_preflight_names_a_driver_too_old_for_the_cards_cuda(repo: Path, published: Path):
    done = run(
        repo,
        [sys.executable, "ci/preflight.py", "--checkpoint", str(published), "--min-free-gib", "0"],
        FAKE_GPUS=RTX5090,
        FAKE_CUDA="12.8",
    )
    assert done.returncode == 2
    assert "FAIL  driver      supports CUDA 12.8; the card was verified on CUDA 13: update the driver" in done.stdout


def test_preflight_names_the_process_that_holds_the_gpu(repo: Path, published: Path):
    done = run(
        repo,
        [sys.executable, "ci/preflight.py", "--checkpoint", str(published), "--min-free-gib", "0"],
        FAKE_GPUS=RTX5090,
        FAKE_APPS="4242, python3, 20480",
    )
    assert done.returncode == 2
    assert (
        "FAIL  idle        the GPU is in use by pid 4242 (python3, 20480 MiB): run ci/gpu-cleanup, or wait"
        in done.stdout
    )


def test_preflight_asks_for_more_disk_than_there_is(repo: Path, published: Path):
    done = run(
        repo,
        [sys.executable, "ci/preflight.py", "--checkpoint", str(published), "--min-free-gib", "1e9"],
        FAKE_GPUS=RTX5090,
    )
    assert done.returncode == 2
    assert "GiB free at" in done.stdout and "; needs 1e+09 GiB" in done.stdout


def test_gpu_cleanup_stops_the_server_group_a_killed_job_left_and_nothing_else(repo: Path, tmp_path: Path):
    harness = subprocess.Popen(["sleep", "300"])  # stands for a pytest that was killed with its servers running
    harness.kill()
    harness.wait()
    server = subprocess.Popen(
        ["sh", "-c", "sleep 300 & sleep 300"],
        start_new_session=True,
        env={**os.environ, MARK: f"{harness.pid} {tmp_path / 'vllm.log'}"},
    )
    living = subprocess.Popen(
        ["sleep", "300"],
        start_new_session=True,  # a server whose harness still runs
        env={**os.environ, MARK: f"{os.getpid()} {tmp_path / 'other.log'}"},
    )
    elsewhere = subprocess.Popen(
        ["sleep", "300"],
        start_new_session=True,  # left behind, but not under the folder
        env={**os.environ, MARK: f"{harness.pid} {tmp_path.parent / 'elsewhere.log'}"},
    )
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while len(group_members(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # --logs-under: the same test in a parallel run (tox p) plants its own leftover, which is that run's to stop
        done = run(repo, [sys.executable, "ci/gpu_cleanup.py", "--grace", "2", "--logs-under", str(tmp_path)])
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"gpu-cleanup: stopped the server group {server.pid} (its log: {tmp_path / 'vllm.log'})" in done.stdout
        assert group_members(server.pid) == []
        assert bystander.poll() is None, "a process that is not a qcompat server is left alone"
        assert living.poll() is None, "a server whose harness lives is left to that harness"
        assert elsewhere.poll() is None, "--logs-under narrows the cleanup to one folder's servers"
    finally:
        for process in (server, living, elsewhere, bystander):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def test_gpu_cleanup_names_a_foreign_process_on_the_gpu_and_fails(repo: Path):
    done = run(repo, [sys.executable, "ci/gpu_cleanup.py", "--logs-under", str(repo)], FAKE_APPS="4242, python3, 20480")
    assert done.returncode == 2
    assert "gpu-cleanup: the GPU is still held by pid 4242 (python3, 20480 MiB): stop it by hand" in done.stdout


@pytest.mark.parametrize("outcome, code", [("passed", 0), ("new-failure", 1)])
def test_report_and_gate_writes_the_summary_and_page_and_returns_the_gates_code(
    repo: Path, tmp_path: Path, outcome, code
):
    write(repo / "results", "stable", [{"check": SERVE, "outcome": outcome, "signature": "ValueError: boom"}])
    summary = tmp_path / "summary.md"
    done = run(repo, ["ci/report-and-gate", "--require", "stable"], GITHUB_STEP_SUMMARY=str(summary))
    assert done.returncode == code, done.stderr
    text = summary.read_text()
    assert text.startswith("| check | stable |")
    assert f"**Gate** (exit {code})" in text
    assert ("gate: FAILED" if code else "gate: passed (stable)") in text
    assert (repo / "results" / "matrix.html").stat().st_size > 1000


def test_report_and_gate_without_results_exits_2_naming_the_folder(repo: Path):
    done = run(repo, ["ci/report-and-gate", "--require", "stable"])
    assert done.returncode == 2
    assert "qcompat: error: results: no such results directory" in done.stderr


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pr_matrix_has_one_job_per_cpu_session_and_leaves_the_report_to_the_final_job():
    listing = [
        {"session": "selftests", "name": "selftests", "tags": ["cpu"]},
        {"session": "v027(transformers-5.16.1)", "name": "v027", "tags": ["cpu", "suite"]},
        {"session": "report", "name": "report", "tags": ["cpu"]},
    ]
    assert _module("pr_matrix").jobs(listing) == [
        {"session": "selftests", "artifact": "results-selftests"},
        {"session": "v027(transformers-5.16.1)", "artifact": "results-v027-transformers-5.16.1"},
    ]


def test_history_carries_the_last_nights_forward_oldest_first(tmp_path: Path):
    history = _module("history")
    night = 1795737600  # 2026-11-27 00:00 UTC
    older = tmp_path / "older"
    write(older, "nightly", [{"check": SERVE, "outcome": "passed"}], started=night)
    baseline = tmp_path / "baseline"
    write(baseline, "nightly", [{"check": SERVE, "outcome": "passed"}], started=night + 86400)
    shutil.copytree(older, baseline / "history" / "2026-11-27T0000Z")
    carried = history.carry(baseline, tmp_path / "results", keep=14)
    assert [path.name for path in carried] == ["2026-11-27T0000Z", "2026-11-28T0000Z"]
    assert all((path / "nightly.json").is_file() for path in carried)
    assert [p.name for p in history.carry(baseline, tmp_path / "again", keep=1)] == ["2026-11-28T0000Z"]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"QCOMPAT_CHECKPOINT": "org/ckpt@" + "a" * 40, "RELEASE_TAG": "v1"}, "publish: HF_TOKEN not set"),
        (
            {"QCOMPAT_CHECKPOINT": "org/ckpt@main", "RELEASE_TAG": "v1", "HF_TOKEN": "x"},
            "publish: org/ckpt@main: name the gated revision as a full 40-hex commit (ORG/NAME@COMMIT)",
        ),
    ],
)
def test_publish_refuses_without_a_token_or_a_pinned_commit(repo: Path, env, message):
    done = run(repo, [sys.executable, "ci/publish.py"], **env)
    assert (done.returncode, done.stderr.strip()) == (2, message)


def test_the_ci_scripts_pass_shellcheck():
    if not shutil.which("shellcheck"):
        pytest.skip("not run: no shellcheck here (Debian's shellcheck package: apt-get install shellcheck)")
    scripts = [p for p in (REPO / "ci").rglob("*") if p.is_file() and (p.suffix == ".sh" or _is_bash(p))]
    checked = subprocess.run(
        ["shellcheck", "-x", *map(str, scripts)], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout


def _is_bash(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.readline().startswith(b"#!/usr/bin/env bash")
