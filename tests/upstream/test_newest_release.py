"""A floating session (latest, nightly) tested the index's newest releases, or says why it could not: an
uninstallable newest release is an `install` failure the registry explains (a known failure) or not (new)."""

from __future__ import annotations

import pytest

from qcompat.registry.load import default_registry
from qcompat.upstream.floating import Installed, read
from qcompat.upstream.judge import install_verdicts

pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def installed(pytestconfig: pytest.Config) -> list[Installed]:
    path = pytestconfig.getoption("--installed")
    if not path:
        pytest.skip("not run: a pinned session installs its lock, not the newest releases (latest and nightly do)")
    from pathlib import Path

    return read(Path(path))


def test_the_newest_releases_install_or_the_registry_says_why(installed, stack, record_property):
    verdicts = install_verdicts(default_registry(), installed, stack)
    failing = [v for v in verdicts if v.kind in ("new-failure", "unexpected-pass")]
    known = [v for v in verdicts if v.kind == "known-failure"]
    if known and not failing:
        record_property("verdict", known[0].fields)
        record_property("known_on", "this stack")
    if failing:
        record_property("verdict", failing[0].fields)
        pytest.fail("; ".join(v.message for v in failing), pytrace=False)
