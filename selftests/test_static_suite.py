"""The static suite users run: every layout rule is consulted by a test, and a defect fails the right test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qcompat.inspection.layout import RULES
from qcompat.suite.rules import CONSULTED
from selftests.test_planted_defects import mlp_linear_left_bf16, v_proj_on_full_layer

REPO = Path(__file__).resolve().parents[1]


def _run_static(checkpoint: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        "-m",
        "static",
        "-q",
        "-p",
        "no:cacheprovider",
        "--checkpoint",
        str(checkpoint),
    ]
    return subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_every_layout_rule_is_consulted_by_a_static_test():
    import tests.checkpoint.test_layout  # noqa: F401  (registers what each test consults)

    assert {rule for rule in RULES if not rule.startswith("warn.")} == CONSULTED


def test_static_suite_passes_on_the_tiny_int4(tiny: Path):
    result = _run_static(tiny)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "22 passed" in result.stdout
    assert "warn.scales_f16" in result.stdout, "warnings are shown in the summary"


def test_static_suite_fails_the_tests_that_consult_the_broken_rules(tiny_copy: Path):
    v_proj_on_full_layer(tiny_copy)
    mlp_linear_left_bf16(tiny_copy)
    result = _run_static(tiny_copy)
    assert result.returncode == 1
    failed = sorted(
        line.split("::")[1].split(" ")[0] for line in result.stdout.splitlines() if line.startswith("FAILED")
    )
    assert failed == ["test_full_attention_layers_have_no_v_proj", "test_mlp_linears_are_int4"]
    assert "[attention.v_proj_full]" in result.stdout and "[mlp.quantized]" in result.stdout


def test_a_context_shorter_than_the_cards_fails_the_max_model_len_test(tiny_copy: Path):
    config = json.loads((tiny_copy / "config.json").read_text())
    config["text_config"]["max_position_embeddings"] = 2048
    (tiny_copy / "config.json").write_text(json.dumps(config))
    result = _run_static(tiny_copy)
    assert result.returncode == 1
    assert "FAILED tests/checkpoint/test_layout.py::test_the_cards_max_model_len_fits_the_checkpoints_positions" in (
        result.stdout
    )
    assert "max_position_embeddings is 2048; the card serves with --max-model-len 8192" in result.stdout


def test_console_script_prints_json_and_exits_0_on_the_default_checkpoint():
    result = subprocess.run(
        [sys.executable, "-m", "qcompat.cli", "inspect", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["profile"] == "gemma-4-12b-it-int4-mlponly:tiny"
    assert set(summary["bytes_by_dtype"]) == {"BF16", "F16", "I32"}
    assert summary["packed_modules"] == 18
    assert summary["kept_linears_by_dtype"] == {"BF16": 23}
