"""Run an HTTP server as a subprocess in its own process group, wait for health, tear the group down.

Knows nothing about vLLM: the command, env and health path come from the caller.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from qcompat.engines.processes import MARK, gpu_holders, group_members
from qcompat.errors import QcompatError


class ServerError(QcompatError):
    """The server did not come up, or died; carries the phase and the end of its log."""

    def __init__(self, phase: str, message: str, log_path: Path, log_tail: str):
        self.phase, self.message, self.log_path, self.log_tail = phase, message, log_path, log_tail
        super().__init__(f"{phase}: {message} (log: {log_path})\n--- last lines of the server log ---\n{log_tail}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerSpec:
    command: list[str]  # the port is appended as `port_flag PORT`
    log_path: Path
    env: dict[str, str | None] = field(default_factory=dict)  # None removes the variable
    port_flag: str = "--port"
    health_path: str = "/health"
    startup_timeout: float = 600.0
    port: int | None = None  # default: a free port
    fatal_log: tuple[str, ...] = ()  # regexes: the server is dead even if its process lingers
    exclusive: str | None = None  # a device only one server may hold at a time ("cuda"): a second start is refused
    device_free_timeout: float = 60.0  # for "cuda": how long a start waits for other processes to free the GPU


class Server:
    """`with Server(spec) as server:` starts, waits until healthy, and always stops the whole group."""

    def __init__(self, spec: ServerSpec, progress: Callable[[str], None] | None = None):
        self.spec = spec
        self.port = spec.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        self._progress = progress or (lambda message: None)

    def __enter__(self) -> Self:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        holder = next((s for s in LIVE if s.spec.exclusive and s.spec.exclusive == self.spec.exclusive), None)
        if holder is not None:
            raise QcompatError(
                f"{self.spec.exclusive} is still held by the server started with {holder.spec.log_path} "
                f"(pid {holder.process.pid}): stop it before starting another on the same device"
            )
        _install_cleanup()
        if self.spec.exclusive == "cuda":
            self._wait_for_free_gpu()
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.spec.log_path.open("wb")
        command = [*self.spec.command, self.spec.port_flag, str(self.port)]
        env = [f"{k}={v}" for k, v in self.spec.env.items() if v is not None]
        unset = [f"-u {k}" for k, v in self.spec.env.items() if v is None]
        log.write(("$ " + " ".join(["env", *unset, *env, *command] if env or unset else command) + "\n").encode())
        log.flush()
        self._started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={
                k: v
                for k, v in {**os.environ, **self.spec.env, MARK: f"{os.getpid()} {self.spec.log_path}"}.items()
                if v is not None
            },
            start_new_session=True,  # its own process group, so stop() reaches every child
        )
        log.close()
        LIVE.append(self)

    def _wait_for_free_gpu(self) -> None:
        """vLLM refuses to start when free memory is below its target, so a previous server's processes (an
        engine core still exiting, another job's leftover) must be gone first; name them if they stay."""
        deadline = time.monotonic() + self.spec.device_free_timeout
        holders = gpu_holders()
        while holders and time.monotonic() < deadline:
            self._progress("waiting for the GPU: " + ", ".join(holders))
            time.sleep(1)
            holders = gpu_holders()
        if holders:
            raise ServerError(
                "startup",
                f"the GPU is still held after {self.spec.device_free_timeout:.0f} s by {', '.join(holders)}; "
                "vLLM would refuse to start below its memory target",
                self.spec.log_path,
                "",
            )

    def wait_healthy(self) -> None:
        deadline = self._started + self.spec.startup_timeout
        last_report = 0.0
        while True:
            if self.process.poll() is not None:
                raise self.error("startup", f"server exited with code {self.process.returncode} before it was healthy")
            fatal = self._fatal_line()
            if fatal:
                raise self.error("startup", f"the server log says it failed ({fatal}) and it never became healthy")
            if self._healthy():
                self.startup_seconds = time.monotonic() - self._started
                self._progress(f"server healthy after {self.startup_seconds:.0f} s at {self.url}")
                return
            now = time.monotonic()
            if now > deadline:
                raise self.error("startup", f"not healthy within {self.spec.startup_timeout:.0f} s")
            if now - last_report >= 15:
                self._progress(f"waiting for {self.url}{self.spec.health_path} ({now - self._started:.0f} s)")
                last_report = now
            time.sleep(0.5)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.spec.health_path, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _fatal_line(self) -> str | None:
        if not self.spec.fatal_log:
            return None
        text = self.log_text()
        for pattern in self.spec.fatal_log:
            match = re.search(pattern, text)
            if match:
                return match.group(0)
        return None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def error(self, phase: str, message: str) -> ServerError:
        return ServerError(phase, message, self.spec.log_path, self.log_tail())

    def log_text(self) -> str:
        try:
            return self.spec.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, grace: float = 15.0) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        # Children may outlive the leader (vLLM's engine core and workers): kill whatever is left, and wait
        # until the kernel has taken every one of them, so the next server (or test) starts on a clean machine.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        deadline = time.monotonic() + 10
        while group_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ValueError):
            LIVE.remove(self)


LIVE: list[Server] = []  # started and not yet stopped, in this process


def stop_all(grace: float = 3.0) -> None:
    for server in LIVE.copy():  # each stop() removes its server
        server.stop(grace)


def _on_signal(signum, frame) -> None:
    """SIGTERM (a CI timeout or cancel) or SIGHUP: stop every server's process group, then die of the signal."""
    stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@functools.cache
def _install_cleanup() -> None:
    """Servers run in their own sessions, so no signal to pytest reaches them: stop them on exit and on signals.
    SIGINT stays Python's (KeyboardInterrupt unwinds the fixtures that stop servers; exit stops the rest)."""
    atexit.register(stop_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) in (signal.SIG_DFL, None):
                signal.signal(signum, _on_signal)
