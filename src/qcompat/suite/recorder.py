"""Collect each check's outcome into results/<session>.json (format: docs/results.md) and show the notes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest


class ResultsRecorder:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.notes: list[str] = []
        self.checks: dict[str, dict] = {}
        self.greedy: list[dict] = []  # each engine run's greedy results, for parity across sessions and runs
        self.quality: list[dict] = []  # each engine's quality figures against the base (qcompat.quality.record)
        self.started = time.time()

    # Reports, not items: with pytest-xdist (-n) the controller sees every worker's reports, and only them.
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(self.config, "workerinput"):
            return  # a worker: its controller records this report
        entry = self.checks.setdefault(report.nodeid, {"check": report.nodeid, "outcome": "passed", "seconds": 0.0})
        entry["seconds"] = round(entry["seconds"] + report.duration, 3)
        properties = dict(report.user_properties)
        verdict = properties.get("verdict") or {}  # registry.issues.Verdict.fields
        if report.skipped:
            entry.update(outcome="skipped", reason=_skip_reason(report))
        elif report.failed:
            entry.update(_failure(verdict, report))
        elif verdict.get("kind") == "known-failure" and entry["outcome"] == "passed":
            entry.update(outcome="known-failure", issue=verdict["issue"])
            if properties.get("known_on"):
                entry["known_on"] = properties["known_on"]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):  # a worker hands what its fixtures noted to the controller
            self.config.workeroutput["qcompat"] = json.dumps(
                {"notes": self.notes, "greedy": self.greedy, "quality": self.quality}
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        handed = json.loads(getattr(node, "workeroutput", {}).get("qcompat", "{}"))
        self.notes += handed.get("notes", [])
        self.greedy += handed.get("greedy", [])
        self.quality += handed.get("quality", [])

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.notes:
            terminalreporter.section("notes (do not fail the run)")
            for line in dict.fromkeys(self.notes):
                terminalreporter.write_line(line)
        path = self.config.getoption("--results")
        if path:
            self.write(Path(path))
            terminalreporter.write_line(f"results: {path}")

    def write(self, path: Path) -> None:
        from qcompat.env.probe import probe
        from qcompat.results.files import session_results, write

        session, found = self.config.getoption("--session-name"), probe().to_dict()
        extra: dict = {"notes": list(dict.fromkeys(self.notes)), "greedy": self.greedy, "quality": self.quality}
        installed = self.config.getoption("--installed")
        if installed:
            from qcompat.upstream.floating import read

            extra["installed"] = [vars(entry) for entry in read(Path(installed))]
        behind = _behind(session, found)
        if behind:
            extra["behind"] = behind
        write(
            path,
            session_results(
                session, _checkpoint(self.config), found, self.started, list(self.checks.values()), **extra
            ),
        )


def _behind(session: str, probe: dict) -> str | None:
    """For a pinned stack that follows releases: its vLLM is older than the newest installable one, by the
    committed upstream record (so the same commit says the same on any day)."""
    from qcompat.upstream.watch import behind

    return behind(session, probe)


def _checkpoint(config: pytest.Config) -> dict:
    from qcompat.checkpoint.hub import is_repo_spec, source
    from qcompat.checkpoint.local import identity, read_checkpoint, resolve
    from qcompat.errors import QcompatError
    from qcompat.fixtures import tiny_int4

    path = config.getoption("--checkpoint") or str(tiny_int4())
    try:
        root = resolve(path)
        recorded = {"path": path, "identity": identity(read_checkpoint(root))}
        if is_repo_spec(path) and not Path(path).is_dir():
            recorded["hub"] = source(path, root)
        return recorded
    except QcompatError as exc:
        return {"path": path, "identity": None, "error": str(exc)}


def _skip_reason(report) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


def _failure(verdict: dict, report) -> dict:
    message = _message(report)
    if verdict.get("kind") == "unexpected-pass":
        return {"outcome": "unexpected-pass", "issue": verdict["issue"], "message": message}
    if verdict.get("kind") == "new-failure":
        return {"outcome": "new-failure", "signature": verdict["signature"], "message": message}
    return {
        "outcome": "new-failure",
        "signature": message.splitlines()[0][:300] if message else report.when,
        "message": message,
    }


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return (crash.message if crash else str(report.longrepr))[-3000:]
