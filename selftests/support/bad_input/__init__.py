"""The bad-input campaign (selftests/test_bad_input.py): damaged or odd inputs, each run through the real CLI as a
subprocess and held to the contract every command owes a user.

The contract, checked by `check` for every run:

- the command ends within its timeout (20 s; a Hub that never answers gets 30 s): else "hang";
- no "Traceback" on stdout or stderr;
- the exit code is 0, 1 or 2, and one of the case's expected codes;
- exit 2 (unusable input) prints exactly one stderr line starting "qcompat: error: " that names the offending file
  (its path or base name), URL or argument;
- with --json (inspect, expect, report, upstream): stdout parses as JSON; on exit 2 it is an object with an "error"
  string and "exit_code": 2.

A case is an id, a builder and the exit codes it may end with: (2,) for unusable input, (0, 1) for input that is
valid but odd (the case says which it expects, and why), (1, 2) where the input does not conform and either a
finding (1) or a refusal (2) is an honest answer, never 0. Builders get a Workspace (a fresh world-readable folder,
copies of the tiny checkpoints on demand) and return the Run: the arguments, what the error must name, the
environment, and whether it runs as an unprivileged user (permission bits do not stop root).

Every run is logged as one JSON file under RUN_LOG (id, command, exit, streams, problems; for safetensors headers
also what the safetensors library said) for `python -m selftests.support.bad_input.report`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcompat.fixtures import fixtures_dir

TIMEOUT = 20.0
PREFIX = "qcompat: error: "
JSON_COMMANDS = ("inspect", "expect", "report", "upstream")
RUN_LOG = Path(os.environ.get("QCOMPAT_BAD_INPUT_LOG", Path(tempfile.gettempdir()) / "qcompat-bad-input-runs"))
UNPRIVILEGED = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
DEAD_ENDPOINT = "http://127.0.0.1:9"  # discard: nothing listens, so a local case never reaches a network

UNUSABLE = (2,)
ODD = (0, 1)
NONCONFORMING = (1, 2)
OK = (0,)


def tiny(kind: str = "int4") -> Path:
    return fixtures_dir() / "tiny" / kind


@dataclass
class Run:
    args: list[str]
    named: tuple[str, ...] = ()  # on exit 2 the error line must hold one of these
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    online: bool = False  # False: HF_HUB_OFFLINE=1 and HF_ENDPOINT at a port where nothing listens
    unprivileged: bool = False  # run as nobody (65534), so permission bits hold
    timeout: float = TIMEOUT
    not_named: tuple[str, ...] = ()  # on exit 2 the error line must hold none of these
    must_name_all: tuple[str, ...] = ()  # on exit 2 the error line must hold every one of these


@dataclass
class Case:
    id: str
    build: Callable[[Workspace], Run]
    expect: tuple[int, ...]
    group: str  # the campaign's class: config, quant, header, profile, access, results, registry, hub, cpu-flags
    why: str = ""  # why these exits (for odd cases)
    twin: bool = False  # the command takes --json: the case gets a +json twin
    json: bool = False  # this is the --json variant of the case
    oracle: dict[str, Any] | None = None  # safetensors headers: what the library said of the planted file

    def with_json(self) -> Case:
        return Case(self.id + "+json", self.build, self.expect, self.group, self.why, False, True, self.oracle)


class Workspace:
    """A fresh folder any user may enter (pytest's tmp_path is root's alone), removed afterwards."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="qcompat-bad-input-"))
        self.root.chmod(0o777)
        self.home = self.root / "hf-home"
        self.home.mkdir(mode=0o777)
        self.home.chmod(0o777)
        self.cwd = self.root / "cwd"
        self.cwd.mkdir()
        self.cwd.chmod(0o777)
        self.cleanups: list[Callable[[], None]] = []

    def checkpoint(self, kind: str = "int4", name: str = "ckpt") -> Path:
        destination = self.root / name
        shutil.copytree(tiny(kind), destination)
        return destination

    def path(self, name: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()
        for path in [self.root, *self.root.rglob("*")]:
            if not path.is_symlink():
                try:
                    path.chmod(0o777)
                except OSError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


def can_drop_privileges() -> str | None:
    """None when an unprivileged run is possible, else why not."""
    if os.geteuid() != 0:
        return None  # not root: permission bits already hold for this user
    if shutil.which("setpriv") is None:
        return "running as root and setpriv is missing: permission bits do not stop root"
    probe = subprocess.run([*UNPRIVILEGED, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return f"running as root and setpriv cannot drop to nobody ({probe.stderr.decode(errors='replace').strip()})"
    return None


def environment(ws: Workspace, run: Run) -> dict[str, str]:
    env = {**os.environ, "HF_HOME": str(ws.home), "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("COLUMNS", "LINES", "FORCE_COLOR", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        env.pop(name, None)
    if not run.online:
        env |= {"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": DEAD_ENDPOINT}
    env |= run.env
    for name in run.unset:
        env.pop(name, None)
    return env


def command(run: Run, json_mode: bool) -> list[str]:
    args = list(run.args)
    if json_mode:
        args.append("--json")
    line = [sys.executable, "-m", "qcompat.cli", *args]  # the report shows this as "qcompat ARGS"
    if run.unprivileged and os.geteuid() == 0:
        line = [*UNPRIVILEGED, *line]
    return line


@dataclass
class Outcome:
    command: list[str]
    returncode: int | None  # None: it hung
    stdout: str
    stderr: str
    problems: list[str]


MEMORY_LIMIT = 4 << 30  # a read of /dev/zero must fail as memory, not take the machine with it


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def execute(ws: Workspace, case: Case) -> Outcome:
    run = case.build(ws)
    line = command(run, case.json)
    env = environment(ws, run)
    try:
        done = subprocess.run(
            line,
            cwd=ws.cwd,
            env=env,
            capture_output=True,
            timeout=run.timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")
        err = (exc.stderr or b"").decode(errors="replace")
        return Outcome(line, None, out, err, [f"hang: no exit within {run.timeout:g} s"])
    out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    return Outcome(line, done.returncode, out, err, check(case, run, done.returncode, out, err))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def check(case: Case, run: Run, code: int, out: str, err: str) -> list[str]:
    """Every way this run breaks the contract, most telling first (empty: it holds)."""
    problems = []
    for stream, text in (("stderr", err), ("stdout", out)):
        if "Traceback" in text:
            tail = text[text.index("Traceback") :]
            problems.append(f"traceback on {stream}: {_last_line(tail)}")
    if code not in (0, 1, 2):
        problems.append(f"exit {code}, not 0, 1 or 2")
    elif code not in case.expect:
        first = _last_line(err) if code == 2 else (out.strip().splitlines() or [""])[0]
        problems.append(f"wrong exit: {code}, expected {' or '.join(map(str, case.expect))} ({first[:300]})")
    if code == 2:
        lines = err.rstrip("\n").split("\n") if err.strip() else []
        if len(lines) != 1:
            problems.append(f"error is {len(lines)} lines, not one: {lines[:1]!r} ... {lines[-1:]!r}")
        if not lines or not lines[0].startswith(PREFIX):
            problems.append(f"error does not start {PREFIX!r}: {(lines or [''])[0][:300]!r}")
        message = err.strip()
        if run.named and not any(name in message for name in run.named):
            problems.append(
                f"error names none of {list(run.named)}: {message.splitlines()[0][:300] if message else ''!r}"
            )
        missing = [name for name in run.must_name_all if name not in message]
        if missing:
            problems.append(f"error does not name {missing}: {message[:300]!r}")
        wrong = [name for name in run.not_named if name in message]
        if wrong:
            problems.append(f"error names {wrong}, which is not the cause: {message[:300]!r}")
    if case.json:
        try:
            value = json.loads(out)
        except ValueError as exc:
            value = exc
        if code == 2 and not (
            isinstance(value, dict) and isinstance(value.get("error"), str) and value.get("exit_code") == 2
        ):
            problems.append(f"--json on exit 2: stdout is not {{error, exit_code: 2}}: {out[:200]!r}")
        elif isinstance(value, ValueError):
            problems.append(f"--json stdout is not JSON ({value}): {out[:120]!r}")
    if case.oracle is not None and case.oracle["refused"] and code == 0:
        problems.insert(0, f"DIFFERS from safetensors: the library refuses ({case.oracle['message']}), qcompat exit 0")
    return problems


def record(case: Case, outcome: Outcome) -> None:
    RUN_LOG.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", case.id)
    entry = {
        "id": case.id,
        "group": case.group,
        "expect": list(case.expect),
        "why": case.why,
        "command": outcome.command,
        "returncode": outcome.returncode,
        "stdout": outcome.stdout[-4000:],
        "stderr": outcome.stderr[-4000:],
        "problems": outcome.problems,
        "oracle": case.oracle,
    }
    (RUN_LOG / f"{name}.json").write_text(json.dumps(entry, indent=1))


def unique(cases: list[Case]) -> list[Case]:
    seen: set[str] = set()
    for case in cases:
        assert case.id not in seen, f"two cases named {case.id}"
        seen.add(case.id)
    return cases


def all_cases() -> list[Case]:
    """Every case, with a --json twin for each command that takes --json."""
    from selftests.support.bad_input import (
        access,
        configs,
        cpu_flags,
        headers,
        hub,
        profiles,
        registry,
        results,
    )

    base = [
        *configs.cases(),
        *headers.cases(),
        *profiles.cases(),
        *access.cases(),
        *results.cases(),
        *registry.cases(),
        *hub.cases(),
        *cpu_flags.cases(),
    ]
    return unique([twin for case in base for twin in _twins(case)])


def _twins(case: Case) -> list[Case]:
    return [case, case.with_json()] if case.twin else [case]
