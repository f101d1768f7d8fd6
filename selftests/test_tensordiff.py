"""The reproduce comparison: packed tensors bit for bit, kept tensors by value across an exact widening.

FACTS.md: auto-round on a CPU without native BF16 writes every kept tensor as F32 while the packed tensors stay
bit-identical. That build must count as the same checkpoint; damage to any tensor must still be named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qcompat.checkpoint.local import read_checkpoint
from qcompat.checkpoint.tensors import as_float32
from qcompat.inspection.tensordiff import BIT_EXACT, compare
from selftests.support.planting import copy_checkpoint, edit_tensors
from selftests.support.safetensors_file import Entry

DOWN = "model.language_model.layers.2.mlp.down_proj"
Q_PROJ = "model.language_model.layers.0.self_attn.q_proj.weight"


def _as_f32(entry: Entry) -> Entry:
    values = as_float32(np.frombuffer(entry.data, dtype=np.uint16), "BF16")
    return Entry("F32", entry.shape, values.astype(np.float32).tobytes())


def _widen_kept_tensors(entries: dict[str, Entry]) -> None:
    """What auto-round writes on an AVX2-only CPU: every BF16 tensor as F32, packed tensors unchanged."""
    for name, entry in entries.items():
        if entry.dtype == "BF16":
            entries[name] = _as_f32(entry)


def _f32_build(tiny: Path, tmp_path: Path) -> Path:
    build = copy_checkpoint(tiny, tmp_path / "f32")
    edit_tensors(build, _widen_kept_tensors)
    return build


def test_the_same_checkpoint_has_no_differences(tiny: Path):
    comparison = compare(read_checkpoint(tiny), read_checkpoint(tiny))
    assert comparison.differences == [] and comparison.widened == {}


def test_kept_tensors_widened_to_f32_with_equal_values_match_and_are_reported_apart(tiny: Path, tmp_path: Path):
    expected = read_checkpoint(tiny)
    comparison = compare(expected, read_checkpoint(_f32_build(tiny, tmp_path)))
    kept = {n for n, r in expected.tensors.items() if r.dtype == "BF16"}
    assert comparison.differences == []
    assert set(comparison.widened) == kept and not any(n.endswith(BIT_EXACT) for n in comparison.widened)
    assert comparison.widened_summary() == f"{len(kept)} kept tensors BF16 -> F32 (values identical)"


def test_a_widened_tensor_whose_values_moved_is_named(tiny: Path, tmp_path: Path):
    build = _f32_build(tiny, tmp_path)

    def nudge(entries):
        values = np.frombuffer(entries[Q_PROJ].data, dtype=np.float32).copy()
        values[0] += 1e-3
        entries[Q_PROJ] = Entry("F32", entries[Q_PROJ].shape, values.tobytes())

    edit_tensors(build, nudge)
    comparison = compare(read_checkpoint(tiny), read_checkpoint(build))
    assert [d.name for d in comparison.differences] == [Q_PROJ]
    assert "max abs difference" in comparison.differences[0].detail and "(1 of " in comparison.differences[0].detail


def test_packed_parts_in_another_dtype_are_a_difference_even_if_values_agree(tiny: Path, tmp_path: Path):
    build = copy_checkpoint(tiny, tmp_path / "scales-f32")

    def widen_scales(entries):
        scales = entries[f"{DOWN}.scales"]
        values = np.frombuffer(scales.data, dtype=np.float16).astype(np.float32)
        entries[f"{DOWN}.scales"] = Entry("F32", scales.shape, values.tobytes())

    edit_tensors(build, widen_scales)
    comparison = compare(read_checkpoint(tiny), read_checkpoint(build))
    assert [d.line() for d in comparison.differences] == [f"{DOWN}.scales: F16 [3, 256] vs F32 [3, 256]"]


def test_scaled_scales_are_named_with_their_largest_difference(tiny: Path, tmp_path: Path):
    build = _f32_build(tiny, tmp_path)  # the damage must show through an F32 build too

    def scale(entries):
        scales = entries[f"{DOWN}.scales"]
        values = np.frombuffer(scales.data, dtype=np.float16) * np.float16(1.5)
        entries[f"{DOWN}.scales"] = Entry("F16", scales.shape, values.astype(np.float16).tobytes())

    edit_tensors(build, scale)
    comparison = compare(read_checkpoint(tiny), read_checkpoint(build))
    assert [d.name for d in comparison.differences] == [f"{DOWN}.scales"]
    assert comparison.differences[0].detail.startswith("max abs difference")


def test_narrowing_is_never_taken_for_a_widening(tiny: Path, tmp_path: Path):
    build = _f32_build(tiny, tmp_path)
    comparison = compare(read_checkpoint(build), read_checkpoint(tiny))  # expected F32, found BF16
    assert comparison.widened == {}
    assert len(comparison.differences) == len([r for r in read_checkpoint(tiny).tensors.values() if r.dtype == "BF16"])
