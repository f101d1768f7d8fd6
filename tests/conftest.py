"""The compatibility suite: options that name the checkpoint under test, and its inspection."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.errors import QcompatError
from qcompat.findings import Severity
from qcompat.fixtures import tiny_int4


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qcompat")
    group.addoption(
        "--checkpoint", default=None, help="checkpoint directory or cached Hub repo id (default: the tiny INT4)"
    )
    group.addoption(
        "--profile", default=None, help="profile NAME or NAME:VARIANT (default: chosen by the config's sizes)"
    )


@pytest.fixture(scope="session")
def checkpoint_path(pytestconfig: pytest.Config) -> Path:
    return Path(pytestconfig.getoption("--checkpoint") or tiny_int4())


@pytest.fixture(scope="session")
def inspection(pytestconfig: pytest.Config, checkpoint_path: Path):
    from qcompat.inspection import inspect_checkpoint

    try:
        result = inspect_checkpoint(checkpoint_path, pytestconfig.getoption("--profile"))
    except QcompatError as exc:
        pytest.fail(f"checkpoint unusable: {exc}", pytrace=False)
    pytestconfig.stash[_WARNINGS] = [f.line() for f in result.findings if f.severity is Severity.WARNING]
    return result


_WARNINGS = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    warnings = config.stash.get(_WARNINGS, [])
    if warnings:
        terminalreporter.section("checkpoint warnings (do not fail the run)")
        for line in warnings:
            terminalreporter.write_line(line)
