"""Numerics of the packed weights, streamed one tensor (and one group of rows) at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from qcompat import gptq
from qcompat.checkpoint import Checkpoint
from qcompat.findings import Finding, error
from qcompat.tensordata import as_float32, mapped, read_rows

RULES = {
    "numerics.scales": "every scale is finite and nonzero (auto-round's symmetric scales are signed)",
    "numerics.zero_points": "every stored zero point is 7 (symmetric 4-bit, stored as zero-1)",
    "numerics.g_idx": "g_idx[i] == i // group_size (no act-order)",
    "numerics.zero_group": "no group of a column dequantizes to all zeros",
}


def _first_bad(bad: np.ndarray, values: np.ndarray) -> str:
    position = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} of {bad.size}; first at {list(position)} = {values[position]}"


def check_module(checkpoint: Checkpoint, module: str, group_size: int) -> Iterator[Finding]:
    records = {part: checkpoint.tensors[f"{module}.{part}"] for part in ("qweight", "qzeros", "scales", "g_idx")}
    where = lambda part: {"file": records[part].file, "tensor": records[part].name}
    scales = as_float32(mapped(checkpoint, records["scales"]), records["scales"].dtype)
    # auto-round's full-range symmetric RTN gives each group the sign of its largest-magnitude weight and
    # clamps |scale| away from zero: negative scales are valid, zero or non-finite ones are not.
    bad = ~(np.isfinite(scales) & (scales != 0))
    if bad.any():
        yield error(
            "numerics.scales",
            "scales zero or not finite",
            expected="finite, nonzero",
            found=_first_bad(bad, scales),
            **where("scales"),
        )
    stored = gptq.unpack_cols(np.asarray(mapped(checkpoint, records["qzeros"])))
    bad = stored != 2 ** (gptq.BITS - 1) - 1
    if bad.any():
        yield error(
            "numerics.zero_points",
            "zero points not symmetric",
            expected="7 in every nibble",
            found=_first_bad(bad, stored),
            **where("qzeros"),
        )
    g_idx = np.asarray(mapped(checkpoint, records["g_idx"]))
    bad = g_idx != np.arange(g_idx.shape[0]) // group_size
    if bad.any():
        yield error(
            "numerics.g_idx",
            "g_idx is not i // group_size",
            expected=f"i // {group_size}",
            found=_first_bad(bad, g_idx),
            **where("g_idx"),
        )
    yield from _zero_groups(
        checkpoint, records["qweight"], gptq.zero_points(np.asarray(mapped(checkpoint, records["qzeros"]))), group_size
    )


def _zero_groups(checkpoint: Checkpoint, record, zeros: np.ndarray, group_size: int) -> Iterator[Finding]:
    """(group, column) pairs whose every value sits at the zero point, so they dequantize to zeros whatever the scale."""
    rows_per_group = group_size // gptq.PACK
    count, first = 0, None
    for group in range(record.shape[0] // rows_per_group):
        rows = read_rows(checkpoint, record, group * rows_per_group, (group + 1) * rows_per_group)
        values = gptq.unpack_rows(rows)
        columns = np.flatnonzero(np.all(values == zeros[group], axis=0))
        count += len(columns)
        if first is None and len(columns):
            first = [group, int(columns[0])]
    if count:
        yield error(
            "numerics.zero_group",
            "groups that dequantize to all zeros (every value at the zero point)",
            expected="none",
            found=f"{count} (group, column) pairs; first {first}",
            file=record.file,
            tensor=record.name,
        )


def check_numerics(
    checkpoint: Checkpoint, group_size: int, progress: Callable[[str], None] | None = None
) -> list[Finding]:
    findings: list[Finding] = []
    for module in checkpoint.gptq_modules():
        if progress:
            progress(module)
        findings += check_module(checkpoint, module, group_size)
    return findings
