"""The compatibility suite: options naming what is under test, shared fixtures, and the results file."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.errors import QcompatError
from qcompat.findings import Severity
from qcompat.fixtures import fixtures_dir, tiny_bf16, tiny_int4
from tests.results import ResultsRecorder

MEMORIZED = fixtures_dir() / "tiny" / "sentences.txt"
PROMPT_WORDS = 4


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qcompat")
    group.addoption(
        "--checkpoint", default=None, help="checkpoint directory or cached Hub repo id (default: the tiny INT4)"
    )
    group.addoption("--base", default=None, help="the BF16 base it was quantized from (default: the tiny BF16)")
    group.addoption(
        "--profile", default=None, help="profile NAME or NAME:VARIANT (default: chosen by the config's sizes)"
    )
    group.addoption("--goldens", default=str(fixtures_dir() / "goldens"), help="where recorded greedy results live")
    group.addoption(
        "--record-golden", default=None, metavar="DIR", help="record greedy results into DIR instead of comparing"
    )
    group.addoption("--results", default=None, metavar="FILE", help="write this session's results as JSON")
    group.addoption("--session-name", default="adhoc", help="the session name written into the results")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ResultsRecorder(config), "qcompat-results")


@pytest.fixture(scope="session")
def checkpoint_path(pytestconfig: pytest.Config) -> Path:
    from qcompat.checkpoint import resolve

    try:
        return resolve(pytestconfig.getoption("--checkpoint") or tiny_int4())
    except QcompatError as exc:
        pytest.fail(f"checkpoint unusable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def base_path(pytestconfig: pytest.Config) -> Path:
    return Path(pytestconfig.getoption("--base") or tiny_bf16())


@pytest.fixture(scope="session")
def is_tiny(checkpoint_path: Path) -> bool:
    """The tiny family (its sizes), wherever it lies: damaged copies are held to its memorized sentences too."""
    from qcompat.checkpoint import read_checkpoint
    from qcompat.inspection import profile_for

    return profile_for(read_checkpoint(checkpoint_path), None).variant == "tiny"


@pytest.fixture(scope="session")
def inspection(pytestconfig: pytest.Config, checkpoint_path: Path, notes):
    from qcompat.inspection import inspect_checkpoint

    try:
        result = inspect_checkpoint(checkpoint_path, pytestconfig.getoption("--profile"))
    except QcompatError as exc:
        pytest.fail(f"checkpoint unusable: {exc}", pytrace=False)
    for finding in result.findings:
        if finding.severity is Severity.WARNING:
            notes.append(finding.line())
    return result


@pytest.fixture(scope="session")
def notes(pytestconfig: pytest.Config) -> list[str]:
    """Facts worth reading next to the verdicts (warnings, known differences); shown and stored in the results."""
    return pytestconfig.pluginmanager.get_plugin("qcompat-results").notes


@pytest.fixture(scope="session")
def checkpoint_identity(checkpoint_path: Path) -> str:
    from qcompat.checkpoint import identity, read_checkpoint

    return identity(read_checkpoint(checkpoint_path))


@pytest.fixture(scope="session")
def memorized() -> list[tuple[str, str]]:
    """(prompt, the sentence the tiny model must complete it to): its first words, then greedy to eos."""
    sentences = [line.strip() for line in MEMORIZED.read_text().splitlines() if line.strip()]
    return [(" ".join(s.split()[:PROMPT_WORDS]), s) for s in sentences]


@pytest.fixture(scope="session")
def prompts(memorized) -> list[str]:
    return [prompt for prompt, _ in memorized]


@pytest.fixture
def tiny_only(is_tiny: bool) -> None:
    if not is_tiny:
        pytest.skip("not applicable: memorized sentences exist only for the tiny checkpoint's family")
