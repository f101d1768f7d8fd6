"""Failure logs from public bug reports (fixtures/logs/real), replayed through the forensics, the registry and
`qcompat triage`: real prefixes, wraps and noise, with the verdicts recorded in logs.yaml."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from qcompat.env.devices import STACK_DEVICES
from qcompat.fixtures import fixtures_dir
from qcompat.registry.forensics import root_cause

REAL = fixtures_dir() / "logs" / "real"
CASES = yaml.safe_load((REAL / "logs.yaml").read_text())
KNOWN = [case for case in CASES if case["verdict"]["kind"] == "known-failure"]
NEW = [case for case in CASES if case["verdict"]["kind"] == "new-failure"]


def _flags(case: dict, extra: dict | None = None) -> list[str]:
    """The stack flags a person would give from what the report states."""
    flags = []
    for package, version in {**(case.get("packages") or {}), **(extra or {})}.items():
        if package in ("vllm", "transformers", "torch", "gptqmodel"):
            flags += [f"--{package}", str(version)]
    if case.get("accelerator") in STACK_DEVICES:
        flags += ["--device", case["accelerator"]]
        if case["accelerator"] == "cuda" and case.get("cuda"):
            flags += ["--cuda", str(case["cuda"])]
    return flags


def _triage(case: dict, extra: dict | None = None) -> tuple[int, dict]:
    run = subprocess.run(
        [sys.executable, "-m", "qcompat.cli", "triage", str(REAL / case["log"]), "--json", *_flags(case, extra)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, json.loads(run.stdout)


def _id(case: dict) -> str:
    return case["log"].removesuffix(".log")


def test_the_set_holds_every_log_of_the_folder_and_enough_of_each_kind():
    assert {path.name for path in REAL.glob("*.log")} == {case["log"] for case in CASES}
    assert len(CASES) >= 22 and len(NEW) >= 11
    assert sum(1 for case in KNOWN if "wrapped" in case["log"]) >= 2
    assert any(case["phase"] == "first_request" for case in KNOWN)


@pytest.mark.parametrize("case", NEW, ids=_id)
def test_an_unrelated_failure_is_named_by_its_own_root_cause(case):
    assert root_cause((REAL / case["log"]).read_text()) == case["verdict"]["root_cause"]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_triage_with_the_stated_stack_gives_the_recorded_answer(case):
    code, answer = _triage(case)
    wanted = case["triage"]
    assert answer["verdict"] == wanted["verdict"], answer
    assert code == (0 if wanted["verdict"] == "known" else 1)
    if wanted["verdict"] == "new":
        assert [issue for issue in answer["issues"] if issue["status"] != "ruled out"] == []
        assert answer["root_cause"] == root_cause((REAL / case["log"]).read_text())
    else:
        named = {issue["id"]: issue for issue in answer["issues"]}
        assert named[wanted["issue"]]["missing"] == wanted["missing"]


@pytest.mark.parametrize("case", KNOWN, ids=_id)
def test_triage_names_the_known_issue_once_the_missing_facts_are_given(case):
    code, answer = _triage(case, case["confirm_with"])
    assert (code, answer["verdict"]) == (0, "known"), answer
    assert [issue["id"] for issue in answer["issues"] if issue["status"] == "known"] == [case["verdict"]["issue"]]
    assert answer["issues"][0]["workaround"] and answer["issues"][0]["links"]


@pytest.mark.parametrize("case", KNOWN, ids=_id)
def test_the_suite_judges_a_known_failure_at_the_phase_the_report_shows_it(case):
    from qcompat.env.probe import Stack
    from qcompat.registry.issues import OBSERVED_PHASE, judge
    from qcompat.registry.load import default_registry

    issue = default_registry()[case["verdict"]["issue"]]
    packages = {k: str(v) for k, v in {**(case.get("packages") or {}), **case["confirm_with"]}.items()}
    assert issue.applies(Stack(packages=packages), {"heterogeneous_head_dims": True, "quant_method": "gptq"})
    verdict = judge([issue], passed=False, phase=OBSERVED_PHASE[case["phase"]], text=(REAL / case["log"]).read_text())
    assert (verdict.kind, verdict.issue) == ("known-failure", issue.id), verdict.message


def test_a_signature_matches_across_the_line_wraps_and_quote_marks_a_report_adds():
    from qcompat.registry.forensics import find_signature
    from qcompat.registry.load import default_registry

    signature = default_registry()["vllm-ambiguous-per-layer-head-dim"].signature
    for case in KNOWN:
        if case["verdict"]["issue"] == "vllm-ambiguous-per-layer-head-dim":
            text = (REAL / case["log"]).read_text()
            assert signature.search(text) is None, "the log as written breaks the signature's text"
            assert find_signature(signature, text) is not None
