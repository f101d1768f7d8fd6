"""Process forensics from /proc and nvidia-smi: the servers a dead harness left behind, their process groups and how
to stop them, what a process really ran with, and who else holds the GPU (ci/gpu_cleanup.py, the GPU checks)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

MARK = "QCOMPAT_SERVER"  # in every server's environment, "HARNESS_PID LOG_PATH": what ci/gpu_cleanup.py looks for


def leftover_groups() -> dict[int, str]:
    """Process groups of servers whose harness died without stopping them (SIGKILL, a lost runner): each group
    leader's pid and the log it wrote. A server whose harness lives is its harness's to stop; only this user's
    processes can be read, and only those are returned."""
    groups = {}
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            marked = next(
                (item for item in environ.read_bytes().split(b"\0") if item.startswith(MARK.encode() + b"=")), None
            )
            stat = _stat(int(environ.parent.name))
        except OSError:
            continue
        if marked is None or len(stat) < 3 or stat[0] == "Z":
            continue
        harness, _, log = marked.decode(errors="replace").partition("=")[2].partition(" ")
        if not (harness.isdigit() and _alive(int(harness))):
            groups.setdefault(int(stat[2]), log)
    return groups


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def stop_group(pgid: int, grace: float = 10.0) -> bool:
    """SIGTERM a process group, SIGKILL what is left after `grace`; True once no member lives."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)
        deadline = time.monotonic() + wait
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not group_members(pgid):
            return True
    return False


def process_environ(pid: int) -> dict[str, str]:
    """The environment a process really started with (/proc/PID/environ)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode(errors="replace").partition("=")[::2] for item in raw.split(b"\0") if item)


def process_cmdline(pid: int) -> list[str]:
    return [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]


def gpu_holders() -> list[str]:
    """Other processes holding GPU memory, as nvidia-smi lists them ("pid 123 (python, 20480 MiB)"); none without
    nvidia-smi."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    query = [smi, "--query-compute-apps=pid,process_name,used_memory", "--format=csv,noheader,nounits"]
    try:
        out = subprocess.run(query, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    holders = []
    for line in out.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 3 and fields[0].isdigit() and int(fields[0]) != os.getpid():  # not this process's torch
            holders.append(f"pid {fields[0]} ({fields[1]}, {fields[2]} MiB)")
    return holders


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc (empty where there is no /proc)."""
    members = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            fields = _stat(int(proc.name))
        except OSError:
            continue
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(proc.name))
    return members
