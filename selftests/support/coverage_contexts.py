"""pytest plugin for the mutation driver's coverage run: each line is recorded under the node id of the test
that ran it (setup and call), so a mutant selects exactly the tests that reach it. coverage's own
`dynamic_context = test_function` names the innermost function called test*, which for a hypothesis test is
hypothesis's `test_function`, not the test."""

from __future__ import annotations

import coverage


def _switch(context: str) -> None:
    current = coverage.Coverage.current()
    if current is not None:
        current.switch_context(context)


def pytest_runtest_setup(item) -> None:
    _switch(item.nodeid)


def pytest_runtest_teardown(item) -> None:
    _switch("")
