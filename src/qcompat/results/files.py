"""A session's results file (results/<session>.json, format in docs/results.md): written (by the suite's recorder,
or for a session that could not run) and read back for the matrix, here together."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcompat import inputs
from qcompat.errors import InputError, QcompatError
from qcompat.results.schema import validate

FORMAT = 1
FAILING = ("new-failure", "unexpected-pass")
NOT_RUN_CHECK = "session"


@dataclass
class SessionResults:
    path: Path
    data: dict[str, Any]

    @property
    def session(self) -> str:
        return self.data["session"]

    @property
    def checks(self) -> list[dict[str, Any]]:
        return self.data["checks"]

    @property
    def not_run_reason(self) -> str | None:
        """Set when the whole session could not run here (the nightly on a machine without a GPU)."""
        return self.data.get("not_run")

    def failing(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c["outcome"] in FAILING]


def first_started(sessions: list[SessionResults]) -> float | None:
    """When a run began: its earliest session's start (None when no session says)."""
    return min((s.data["started"] for s in sessions if isinstance(s.data.get("started"), (int, float))), default=None)


def check_name(nodeid: str) -> str:
    """tests/vllm/test_serve.py::test_x[int4] -> vllm/test_x[int4]."""
    path, _, name = nodeid.partition("::")
    if not name:
        return nodeid
    folder = Path(path).parent.name
    return f"{folder}/{name}" if folder and folder != "tests" else name


def session_results(
    session: str,
    checkpoint: dict[str, Any] | None,
    probe: dict[str, Any],
    started: float,
    checks: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A results file's data: a session, what it ran on and each check's outcome; extra keys as docs/results.md
    names them (notes, greedy, installed, behind, not_run)."""
    return {
        "format": FORMAT,
        "session": session,
        "checkpoint": checkpoint,
        "probe": probe,
        "started": started,
        "seconds": round(time.time() - started, 1),
        "checks": checks,
        **extra,
    }


def not_run(session: str, reason: str, probe: dict[str, Any]) -> dict[str, Any]:
    check = {"check": NOT_RUN_CHECK, "outcome": "skipped", "reason": reason}
    return session_results(session, None, probe, time.time(), [check], not_run=reason, notes=[])


def write(path: Path, data: dict[str, Any]) -> None:
    inputs.write_text(path, json.dumps(data, indent=2) + "\n", "results file")


def load(path: Path) -> SessionResults:
    data = inputs.load_json(path, dict, "results file")
    if data.get("format") != FORMAT or not isinstance(data.get("checks"), list):
        raise InputError(path, f"not a qcompat results file of format {FORMAT}")
    validate(path, data)
    return SessionResults(path, data)


def load_all(directory: Path) -> list[SessionResults]:
    if not inputs.exists(directory):
        raise QcompatError(f"{directory}: no such results directory")
    found = [load(p) for p in sorted(p for p in inputs.list_dir(directory) if p.suffix == ".json")]
    if not found:
        raise QcompatError(f"{directory}: no results/*.json (run a nox session first)")
    return found


def cell(check: dict[str, Any]) -> str:
    outcome = check["outcome"]
    if outcome == "known-failure":
        return f"known failure ({check['issue']})" + (f" on {check['known_on']}" if check.get("known_on") else "")
    if outcome == "unexpected-pass":
        return f"UNEXPECTED PASS ({check['issue']})"
    if outcome == "new-failure":
        return f"NEW FAILURE: {check.get('signature') or ''}"
    if outcome == "skipped":
        reason = re.sub(r"^not run: ", "", check.get("reason") or "")
        return "not run: " + re.split(r"[;(]", reason, maxsplit=1)[0].strip()  # the full reason stays in the JSON
    return "pass"


def detail(check: dict[str, Any]) -> str:
    """A cell's whole reason, where `cell` keeps it to one line: the skip reason, or the failure's message."""
    return check.get("reason" if check["outcome"] == "skipped" else "message") or ""
