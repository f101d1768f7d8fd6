"""The GitHub workflows are valid and sound: the workflow schema, pinned actions, no pip on a system Python, no
crash turned green, inputs through env, timeouts, concurrency, and the jobs' logic left to ci/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # no YAML 1.1 booleans: "on" stays "on"


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, job, step


@pytest.fixture(params=WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def workflow(request) -> tuple[str, dict, str]:
    return request.param.name, load(request.param), request.param.read_text()


def test_there_are_the_pr_nightly_release_and_provenance_workflows():
    assert [p.name for p in WORKFLOWS] == ["nightly.yml", "pr.yml", "provenance.yml", "release.yml"]


def test_every_workflow_passes_githubs_workflow_schema():
    pytest.importorskip(
        "check_jsonschema", reason="not run: check-jsonschema is not installed (nox -s selftests has it)"
    )
    command = [
        sys.executable,
        "-m",
        "check_jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, WORKFLOWS),
    ]
    checked = subprocess.run(command, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path):
    pytest.importorskip(
        "check_jsonschema", reason="not run: check-jsonschema is not installed (nox -s selftests has it)"
    )
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    steps:\n      - run: echo\n")  # no runs-on
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(broken)]
    checked = subprocess.run(command, capture_output=True, text=True, check=False)
    assert checked.returncode == 1 and "'runs-on' is a required property" in checked.stdout


def test_actions_are_pinned_by_commit_with_their_version_beside(workflow):
    name, parsed, text = workflow
    for job_name, _, step in steps(parsed):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{name} {job_name}: {step['uses']} is not pinned to a commit SHA"
            assert re.search(re.escape(step["uses"]) + r" # v\d+\.\d+\.\d+", text), f"{name}: say {step['uses']}'s tag"


def test_no_step_runs_pip_or_swallows_a_failure_or_pastes_an_expression_into_shell(workflow):
    name, parsed, _ = workflow
    for job_name, _, step in steps(parsed):
        run = step.get("run", "")
        assert not re.search(r"\bpip3? install|-m pip\b", run), f"{name} {job_name}: pip on the runner's Python: {run}"
        assert "|| true" not in run, f"{name} {job_name}: `|| true` turns a crash green"
        assert "${{" not in run, f"{name} {job_name}: pass expressions through env:, not into the shell: {run}"


def test_jobs_call_the_ci_scripts_and_little_else(workflow):
    name, parsed, _ = workflow
    allowed = ("ci/", "sudo apt-get install -y chromium", "git diff")
    for job_name, _, step in steps(parsed):
        if "run" in step:
            assert step["run"].startswith(allowed), f"{name} {job_name}: put the job's logic in ci/: {step['run']}"


def test_permissions_are_read_only_by_default_and_widened_per_job(workflow):
    name, parsed, _ = workflow
    assert parsed["permissions"] == {"contents": "read"}, name
    for job_name, job in parsed["jobs"].items():
        widened = {k: v for k, v in job.get("permissions", {}).items() if v != "read" and k != "contents"}
        assert set(widened) <= {"issues"}, f"{name} {job_name}: {widened}"


def test_every_job_has_a_timeout_and_its_long_steps_a_shorter_one(workflow):
    name, parsed, _ = workflow
    for job_name, job in parsed["jobs"].items():
        assert "timeout-minutes" in job, f"{name} {job_name}: no job timeout"
        for step in job.get("steps", []):
            if "run" in step or "-artifact@" in step.get("uses", ""):
                assert "timeout-minutes" in step, f"{name} {job_name}: step {step.get('name', step)} has no timeout"
                assert int(step["timeout-minutes"]) < int(job["timeout-minutes"]), f"{name} {job_name}: {step}"


def test_reports_and_uploads_run_unless_cancelled_never_always(workflow):
    name, _, text = workflow
    assert "always()" not in text, f"{name}: always() runs on cancel too; use !cancelled()"


def test_uploads_keep_their_artifacts_for_a_stated_time(workflow):
    name, parsed, _ = workflow
    for job_name, _, step in steps(parsed):
        if "upload-artifact" in step.get("uses", ""):
            assert "retention-days" in step["with"], f"{name} {job_name}: say how long the artifact is kept"


def test_the_gpu_workflows_share_one_queue_on_the_runners_own_label():
    nightly, release = load(REPO / ".github/workflows/nightly.yml"), load(REPO / ".github/workflows/release.yml")
    assert nightly["concurrency"] == release["concurrency"] == {"group": "blackwell-gpu", "cancel-in-progress": "false"}
    labels = yaml.safe_load((REPO / ".github/actionlint.yaml").read_text())["self-hosted-runner"]["labels"]
    for workflow in (nightly, release):
        gpu_jobs = [job for job in workflow["jobs"].values() if isinstance(job["runs-on"], dict)]
        assert gpu_jobs and all(set(labels) <= set(job["runs-on"]["labels"]) for job in gpu_jobs)
        assert all(job["runs-on"]["group"] == "qcompat-gpu" for job in gpu_jobs)


def test_pr_runs_cancel_superseded_ones_and_pushes_only_for_main():
    pr = load(REPO / ".github/workflows/pr.yml")
    assert pr["on"]["push"] == {"branches": ["main"]}
    assert pr["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_the_gates_read_which_sessions_they_require_from_the_sessions_table():
    pr = load(REPO / ".github/workflows/pr.yml")
    (gate,) = [step["run"] for step in pr["jobs"]["matrix"]["steps"] if "report-and-gate" in step.get("run", "")]
    assert gate.startswith("ci/report-and-gate --job pr")
    assert "REQUIRED" not in (REPO / ".github/workflows/pr.yml").read_text()
    assert "verdict --job nightly" in (REPO / "ci/nightly").read_text()
    assert "verdict --job release" in (REPO / "ci/release-gate").read_text()
    noxfile = (REPO / "noxfile.py").read_text()
    assert 'sessions.required(SESSIONS, "pr")' in noxfile and 'sessions.tagged(SESSIONS, "suite")' in noxfile


def test_the_release_publishes_only_after_the_gate_in_a_protected_environment():
    release = load(REPO / ".github/workflows/release.yml")
    assert "release" not in release["on"], "release: created runs after publication and gates nothing"
    publish = release["jobs"]["publish"]
    assert publish["needs"] == "gate" and publish["environment"] == "release"


def test_a_red_nightly_opens_or_updates_one_issue():
    nightly = load(REPO / ".github/workflows/nightly.yml")
    red = nightly["jobs"]["red"]
    assert red["needs"] == "nightly" and red["if"] == "${{ failure() }}"
    assert red["permissions"] == {"issues": "write"}
    script = red["steps"][0]["with"]["script"]
    assert 'labels: "nightly-red"' in script and "createComment" in script and "issues.create(" in script


def test_the_weekly_watch_reads_the_index_and_the_wheels_and_keeps_one_issue_of_what_moved():
    watch = load(REPO / ".github/workflows/provenance.yml")
    job = watch["jobs"]["watch"]
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    (run,) = [step for step in job["steps"] if "run" in step]
    assert run["run"] == "ci/watch"
    script = (REPO / "ci" / "watch").read_text()
    assert "nox -s upstream -- --write fixtures/upstream.yaml" in script and "nox -s provenance" in script
    issue = next(step for step in job["steps"] if "github-script" in step.get("uses", ""))
    assert issue["if"] == "${{ failure() && steps.watch.outcome == 'failure' }}"
    assert 'labels: "upstream-moved"' in issue["with"]["script"] and "createComment" in issue["with"]["script"]
