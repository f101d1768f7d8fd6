"""Numerics checks: the tiny INT4 is clean; each planted numeric defect is named by its rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qcompat.checkpoint import gptq
from qcompat.checkpoint.local import read_checkpoint
from qcompat.inspection.findings import Severity
from qcompat.inspection.run import inspect_checkpoint
from selftests.support.planting import edit_tensors
from selftests.support.safetensors_file import Entry

MODULE = "model.language_model.layers.2.mlp.down_proj"


def _replace(entries: dict[str, Entry], name: str, array: np.ndarray) -> None:
    entries[name] = Entry(entries[name].dtype, entries[name].shape, np.ascontiguousarray(array).tobytes())


def scales_zero_and_nan(root: Path) -> None:
    def change(entries):
        scales = np.frombuffer(entries[f"{MODULE}.scales"].data, dtype=np.float16).copy()
        scales[0], scales[-1] = 0, np.nan
        _replace(entries, f"{MODULE}.scales", scales)

    edit_tensors(root, change)


def zero_points_asymmetric(root: Path) -> None:
    def change(entries):
        shape = entries[f"{MODULE}.qzeros"].shape
        _replace(entries, f"{MODULE}.qzeros", gptq.pack_cols(np.full((shape[0], shape[1] * 8), 8, np.uint8)))

    edit_tensors(root, change)


def g_idx_in_act_order(root: Path) -> None:
    def change(entries):
        g_idx = np.frombuffer(entries[f"{MODULE}.g_idx"].data, dtype=np.int32)
        _replace(entries, f"{MODULE}.g_idx", g_idx[::-1])

    edit_tensors(root, change)


def one_group_all_zero(root: Path) -> None:
    def change(entries):
        qweight = (
            np.frombuffer(entries[f"{MODULE}.qweight"].data, dtype=np.int32)
            .reshape(entries[f"{MODULE}.qweight"].shape)
            .copy()
        )
        qweight[16:32, 3] = np.uint32(0x88888888).view(np.int32)  # group 1, column 3: every value at the zero point
        _replace(entries, f"{MODULE}.qweight", qweight)

    edit_tensors(root, change)


NUMERIC_DEFECTS = {
    scales_zero_and_nan: "numerics.scales",
    zero_points_asymmetric: "numerics.zero_points",
    g_idx_in_act_order: "numerics.g_idx",
    one_group_all_zero: "numerics.zero_group",
}


def test_tiny_int4_numerics_are_clean_with_signed_scales(tiny: Path):
    checkpoint = read_checkpoint(tiny)
    scales = np.frombuffer(
        (tiny / "model.safetensors").read_bytes()[checkpoint.tensors[f"{MODULE}.scales"].begin :][
            : checkpoint.tensors[f"{MODULE}.scales"].nbytes
        ],
        np.float16,
    )
    assert (scales < 0).any() and (scales > 0).any(), (
        "auto-round's symmetric scales carry the sign of each group's extreme"
    )
    result = inspect_checkpoint(tiny, numerics=True)
    assert result.numerics_modules == len(checkpoint.gptq_modules()) == 18
    assert [f for f in result.findings if f.rule.startswith("numerics.")] == []


@pytest.mark.parametrize("plant", NUMERIC_DEFECTS, ids=lambda plant: plant.__name__)
def test_planted_numeric_defect_is_named_by_its_rule(plant, tiny_copy: Path):
    plant(tiny_copy)
    header_only = inspect_checkpoint(tiny_copy)
    assert header_only.ok, "a numeric defect must not be visible in the headers"
    findings = inspect_checkpoint(tiny_copy, numerics=True).findings
    errors = [f for f in findings if f.severity is Severity.ERROR]
    assert {(f.rule, f.tensor.rsplit(".", 1)[0]) for f in errors} == {(NUMERIC_DEFECTS[plant], MODULE)}


def test_zero_group_finding_points_at_the_group_and_column(tiny_copy: Path):
    one_group_all_zero(tiny_copy)
    (finding,) = [f for f in inspect_checkpoint(tiny_copy, numerics=True).findings if f.rule.startswith("numerics.")]
    assert finding.found == "1 (group, column) pairs; first [1, 3]"
