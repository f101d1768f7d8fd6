"""The server harness reports each fault within its deadline, with the log tail, and leaves nothing running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from qcompat.engines.processes import process_cmdline, process_environ
from qcompat.engines.server import Server, ServerError, ServerSpec
from qcompat.errors import QcompatError

FAULT_SERVER = Path(__file__).parent / "support" / "fault_server.py"


def processes_with(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


@pytest.fixture
def marker() -> str:
    token = f"qcompat-fault-{uuid.uuid4().hex}"
    yield token
    assert processes_with(token) == [], "the harness left processes behind"


def spec(mode: str, marker: str, tmp_path: Path, timeout: float = 20, port: int | None = None) -> ServerSpec:
    command = [sys.executable, str(FAULT_SERVER), mode, "--marker", marker]
    return ServerSpec(
        command, tmp_path / "server.log", startup_timeout=timeout, port=port, fatal_log=("EngineCore failed to start",)
    )


def test_server_dying_during_startup_is_reported_at_once_with_its_log(marker, tmp_path):
    start = time.monotonic()
    with pytest.raises(ServerError) as raised, Server(spec("dies", marker, tmp_path, timeout=60)):
        pass
    assert time.monotonic() - start < 15, "a dead server must not wait for the deadline"
    assert raised.value.phase == "startup"
    assert "exited with code 3" in str(raised.value)
    assert "planted startup failure" in raised.value.log_tail


def test_server_never_healthy_fails_at_the_deadline(marker, tmp_path):
    start = time.monotonic()
    with pytest.raises(ServerError) as raised, Server(spec("never_healthy", marker, tmp_path, timeout=4)):
        pass
    assert 4 <= time.monotonic() - start < 30
    assert "not healthy within 4 s" in str(raised.value)
    assert "listening" in raised.value.log_tail


def test_port_held_by_another_process_is_reported(marker, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServerError) as raised, Server(spec("healthy", marker, tmp_path, port=port)):
            pass
    assert "Address already in use" in raised.value.log_tail


def test_hung_request_times_out_and_teardown_still_happens(marker, tmp_path):
    with Server(spec("hangs", marker, tmp_path)) as server:
        request = urllib.request.Request(server.url + "/v1/completions", data=b"{}", method="POST")
        start = time.monotonic()
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            urllib.request.urlopen(request, timeout=2)
        assert time.monotonic() - start < 10
        assert server.alive()


def test_whole_process_group_is_torn_down_even_when_the_test_fails(marker, tmp_path):
    with pytest.raises(AssertionError), Server(spec("forks", marker, tmp_path)) as server:
        deadline = time.monotonic() + 10
        while len(processes_with(marker)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(processes_with(marker)) == 2, "server and its grandchild are running"
        assert server.startup_seconds is not None
        raise AssertionError("a failing test inside the server's context")


def test_server_whose_log_says_it_died_is_reported_without_waiting_for_the_deadline(marker, tmp_path):
    start = time.monotonic()
    with pytest.raises(ServerError) as raised, Server(spec("fatal_lingers", marker, tmp_path, timeout=120)):
        pass
    assert time.monotonic() - start < 15
    assert "the server log says it failed (EngineCore failed to start)" in str(raised.value)


def test_the_log_starts_with_the_command_and_the_environment_it_ran_with(marker, tmp_path):
    server_spec = spec("healthy", marker, tmp_path)
    server_spec.env = {"QCOMPAT_PLANTED": "1", "QCOMPAT_REMOVED": None}
    with Server(server_spec) as server:
        first = server.log_text().splitlines()[0]
    assert first.startswith("$ env -u QCOMPAT_REMOVED QCOMPAT_PLANTED=1 ")
    assert first.endswith(f"healthy --marker {marker} --port {server.port}")


KILLED_MID_RUN = """
import signal, sys, time
from pathlib import Path
from qcompat.engines.server import Server, ServerSpec

# A job started with `&` by a non-interactive shell inherits SIGINT ignored, and so would this pytest:
# give it what a terminal's Ctrl-C meets.
signal.signal(signal.SIGINT, signal.default_int_handler)

def test_holds_a_server():
    spec = ServerSpec([sys.executable, {fault!r}, "forks", "--marker", {marker!r}], Path({log!r}))
    with Server(spec):
        Path({ready!r}).write_text("up")
        time.sleep(600)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_pytest_killed_mid_run_leaves_no_server_or_child_behind(marker, tmp_path, signum):
    ready = tmp_path / "ready"
    test = tmp_path / "test_killed.py"
    test.write_text(
        KILLED_MID_RUN.format(fault=str(FAULT_SERVER), marker=marker, log=str(tmp_path / "s.log"), ready=str(ready))
    )
    pytest_run = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(test), "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not (ready.exists() and len(processes_with(marker)) == 2) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(processes_with(marker)) == 2, "the server and its grandchild are up"
    pytest_run.send_signal(signum)
    pytest_run.communicate(timeout=60)
    assert processes_with(marker) == [], "a server outlived the pytest that started it"


def test_a_second_server_on_a_held_device_is_refused_naming_the_holder(marker, tmp_path):
    first = spec("healthy", marker, tmp_path)
    first.exclusive = "cuda:0"
    second = spec("healthy", marker, tmp_path)
    second.exclusive, second.log_path = "cuda:0", tmp_path / "second.log"
    with Server(first) as holder:
        with pytest.raises(QcompatError) as refused:
            Server(second).start()
        assert str(refused.value) == (
            f"cuda:0 is still held by the server started with {first.log_path} (pid {holder.process.pid}): "
            "stop it before starting another on the same device"
        )
    with Server(second):  # free again once the holder stopped
        pass


FAKE_SMI = """#!/bin/sh
cat "{holders}"
"""


@pytest.fixture
def gpu_held_by(tmp_path, monkeypatch):
    """A stand-in nvidia-smi on PATH listing the compute apps written to a file (empty: the GPU is free)."""
    holders = tmp_path / "holders.csv"
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(FAKE_SMI.format(holders=holders))
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}:{os.environ['PATH']}")
    return holders


def test_a_gpu_server_waits_for_the_gpu_and_names_who_still_holds_it(marker, tmp_path, gpu_held_by):
    gpu_held_by.write_text("4242, python3, 20480\n")
    held = spec("healthy", marker, tmp_path)
    held.exclusive, held.device_free_timeout = "cuda", 2
    start = time.monotonic()
    with pytest.raises(ServerError) as raised, Server(held):
        pass
    assert 2 <= time.monotonic() - start < 15
    assert raised.value.phase == "startup"
    assert "the GPU is still held after 2 s by pid 4242 (python3, 20480 MiB)" in str(raised.value)


def test_a_gpu_server_starts_once_the_previous_holder_lets_go(marker, tmp_path, gpu_held_by):
    gpu_held_by.write_text("4242, python3, 20480\n")
    threading.Timer(1.5, gpu_held_by.write_text, args=("",)).start()
    freed = spec("healthy", marker, tmp_path)
    freed.exclusive, freed.device_free_timeout = "cuda", 30
    with Server(freed) as server:
        assert server.alive()


def test_the_environment_and_command_line_a_server_really_had_are_read_from_proc(marker, tmp_path):
    planted = spec("healthy", marker, tmp_path)
    planted.env = {"VLLM_USE_FLASHINFER_SAMPLER": "0", "QCOMPAT_REMOVED": None}
    os.environ["QCOMPAT_REMOVED"] = "inherited"
    try:
        with Server(planted) as server:
            environ, cmdline = process_environ(server.process.pid), process_cmdline(server.process.pid)
    finally:
        del os.environ["QCOMPAT_REMOVED"]
    assert environ["VLLM_USE_FLASHINFER_SAMPLER"] == "0"
    assert "QCOMPAT_REMOVED" not in environ
    assert cmdline == [*planted.command, "--port", str(server.port)]
