"""The bad-input campaign: the real CLI, as a subprocess, on 150+ damaged or odd inputs, each held to the contract
in selftests/support/bad_input (ends in time, no traceback, exit 0/1/2 as the case expects, exit 2 as one line
"qcompat: error: ..." naming the offending file or URL, --json parseable with {"error", "exit_code": 2} on 2).

Cases by class: configs (config.json, the quantization configs), headers (safetensors files built byte by byte,
with the safetensors library as the oracle; sharded indexes), profiles, access (unreadable files, FIFOs, devices,
loops), results (report / gate), registry (provenance, sweep-table, upstream), hub (a misbehaving Hub on
loopback), cpu-flags (expect). Each run is logged for `python -m selftests.support.bad_input.report`.
"""

from __future__ import annotations

import pytest

from selftests.support.bad_input import Case, Workspace, all_cases, can_drop_privileges, execute, record

CASES = all_cases()


@pytest.fixture
def workspace():
    ws = Workspace()
    yield ws
    ws.close()


def test_the_campaign_has_150_inputs_or_more():
    inputs = {case.id.removesuffix("+json") for case in CASES}
    assert len(inputs) >= 150, len(inputs)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_holds_the_contract(case: Case, workspace: Workspace):
    build = case.build
    unprivileged = []

    def remember(ws: Workspace):
        run = build(ws)
        unprivileged.append(run.unprivileged)
        return run

    probe = Case(case.id, remember, case.expect, case.group, case.why, case.twin, case.json, case.oracle)
    why_not = can_drop_privileges()
    outcome = None
    try:
        outcome = execute(workspace, probe)
    finally:
        if outcome is not None and not (unprivileged and unprivileged[0] and why_not):
            record(case, outcome)
    if unprivileged and unprivileged[0] and why_not:
        pytest.skip(why_not)
    if outcome.problems:
        pytest.fail(
            f"{case.id}: {' '.join(outcome.command)}\n  exit {outcome.returncode}\n  "
            + "\n  ".join(outcome.problems)
            + f"\n  stderr: {outcome.stderr[-800:]}",
            pytrace=False,
        )
