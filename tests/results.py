"""Collect each test's outcome into results/<session>.json (and show the session's notes)."""

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
        self.started = time.time()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        outcome = yield
        report = outcome.get_result()
        entry = self.checks.setdefault(item.nodeid, {"check": item.nodeid, "outcome": "passed", "seconds": 0.0})
        entry["seconds"] += report.duration
        if report.skipped:
            entry["outcome"] = "skipped"
            entry["reason"] = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        elif report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry["message"] = _message(report)

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
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "session": self.config.getoption("--session-name"),
            "checkpoint": str(self.config.getoption("--checkpoint") or "tiny-int4"),
            "started": self.started,
            "seconds": time.time() - self.started,
            "checks": list(self.checks.values()),
            "notes": list(dict.fromkeys(self.notes)),
        }
        path.write_text(json.dumps(data, indent=2) + "\n")


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message if crash else str(report.longrepr)[-2000:]
