"""The transformers suite fails the right tests, by name, on damaged copies of the tiny INT4.

Runs inside the `transformers` nox session (it needs that stack); each case runs the real suite on a copy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcompat.inspection.run import inspect_checkpoint
from selftests.support.planting import edit_tensors
from selftests.support.safetensors_file import Entry

pytestmark = pytest.mark.transformers

REPO = Path(__file__).resolve().parents[2]
DAMAGED = "model.language_model.layers.2.mlp.down_proj.scales"


def _scale(entries: dict[str, Entry], name: str, factor: float) -> None:
    scales = np.frombuffer(entries[name].data, dtype=np.float16) * np.float16(factor)
    entries[name] = Entry(entries[name].dtype, entries[name].shape, scales.astype(np.float16).tobytes())


def _suite(checkpoint: Path, selection: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests",
        "-m",
        "transformers",
        "-k",
        selection,
        "-q",
        "-p",
        "no:cacheprovider",
        "--checkpoint",
        str(checkpoint),
    ]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200, check=False)


def _failed(result: subprocess.CompletedProcess) -> set[str]:
    return {line.split("::")[-1].split(" ")[0] for line in result.stdout.splitlines() if line.startswith("FAILED")}


def test_scales_times_1_5_in_one_projection_fail_the_reproduce_test_naming_it(tiny_copy: Path):
    edit_tensors(tiny_copy, lambda entries: _scale(entries, DAMAGED, 1.5))
    result = _suite(tiny_copy, "reproduce or memorized")
    assert _failed(result) == {"test_card_reproduce_command_gives_this_checkpoint_bit_exactly"}, result.stdout[-3000:]
    assert f"{DAMAGED}: max abs difference" in result.stdout
    assert "model.language_model.layers.2.mlp.down_proj.qweight" not in result.stdout, (
        "only the damaged tensor is named"
    )


def test_all_scales_negated_fail_the_memorized_output_and_reproduce_tests(tiny_copy: Path):
    def negate(entries):
        for name in [n for n in entries if n.endswith(".scales")]:
            _scale(entries, name, -1.0)

    edit_tensors(tiny_copy, negate)
    result = _suite(tiny_copy, "reproduce or memorized")
    assert _failed(result) == {
        "test_card_reproduce_command_gives_this_checkpoint_bit_exactly",
        "test_greedy_reproduces_the_memorized_sentences",
    }, result.stdout[-3000:]
    # auto-round's symmetric scales carry each group's sign, so a negated scale is as valid an encoding as
    # the original: numerics cannot see this damage, only the output and the reproduce check can.
    assert [f for f in inspect_checkpoint(tiny_copy, numerics=True).findings if f.rule.startswith("numerics.")] == []
