"""Numerics of the packed weights, streamed one tensor (and one group of rows) at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from qcompat.checkpoint import gptq
from qcompat.checkpoint.local import Checkpoint
from qcompat.checkpoint.scheme import Scheme
from qcompat.checkpoint.tensors import as_float32, mapped, read_rows
from qcompat.errors import QcompatError
from qcompat.inspection.findings import Finding, error, warning

RULES = {
    "numerics.scales": "every scale is finite and nonzero (auto-round's symmetric scales are signed)",
    "numerics.zero_points": "symmetric: every stored zero point is 2^(bits-1), minus one in GPTQ v1",
    "numerics.g_idx": "g_idx[i] == i // group_size (no act-order); with desc_act, every group group_size times",
    "numerics.zero_group": "no group of a column dequantizes to all zeros",
    "numerics.unreadable": "the packed tensors of a module can be read as the header declares them",
    "numerics.skipped": "modules whose packing already failed a header rule are not read (said, not hidden)",
}
READABLE_BITS = (2, 4, 8)


def _first_bad(bad: np.ndarray, values: np.ndarray) -> str:
    position = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{int(bad.sum())} of {bad.size}; first at {list(position)} = {values[position]}"


def check_module(checkpoint: Checkpoint, module: str, packing: Scheme) -> Iterator[Finding]:
    bits, group_size = packing.bits, packing.group_size
    parts = ("qweight", "qzeros", "scales", "g_idx") if packing.has_g_idx else ("qweight", "qzeros", "scales")
    records = {part: checkpoint.tensors[f"{module}.{part}"] for part in parts}
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
    qzeros = np.asarray(mapped(checkpoint, records["qzeros"]))
    if packing.sym is True:
        stored = gptq.unpack_cols(qzeros, bits)
        symmetric = 2 ** (bits - 1) - packing.stored_zero_offset
        bad = stored != symmetric
        if bad.any():
            yield error(
                "numerics.zero_points",
                "zero points not symmetric",
                expected=f"{symmetric} in every {bits}-bit field ({packing.format})",
                found=_first_bad(bad, stored),
                **where("qzeros"),
            )
    if packing.has_g_idx:
        yield from _g_idx(np.asarray(mapped(checkpoint, records["g_idx"])), packing, where("g_idx"))
    if packing.desc_act is not True:  # act-order groups are not runs of rows
        zeros = gptq.zero_points(qzeros, bits, packing.stored_zero_offset)
        yield from _zero_groups(checkpoint, records["qweight"], zeros, group_size, bits)


def _g_idx(g_idx: np.ndarray, packing: Scheme, where: dict[str, str]) -> Iterator[Finding]:
    group_size = packing.group_size
    if packing.desc_act is True:
        counts = np.bincount(np.clip(g_idx, 0, None), minlength=g_idx.shape[0] // group_size)
        if g_idx.min(initial=0) < 0 or len(counts) != g_idx.shape[0] // group_size or (counts != group_size).any():
            yield error(
                "numerics.g_idx",
                "g_idx does not put group_size rows in every group",
                expected=f"each of {g_idx.shape[0] // group_size} groups {group_size} times",
                found=f"counts {sorted(set(counts.tolist()))[:4]} over {len(counts)} groups",
                **where,
            )
        return
    bad = g_idx != np.arange(g_idx.shape[0]) // group_size
    if bad.any():
        yield error(
            "numerics.g_idx",
            "g_idx is not i // group_size",
            expected=f"i // {group_size}",
            found=_first_bad(bad, g_idx),
            **where,
        )


def _zero_groups(checkpoint: Checkpoint, record, zeros: np.ndarray, group_size: int, bits: int) -> Iterator[Finding]:
    """(group, column) pairs whose every value sits at the zero point, so they dequantize to zeros whatever the
    scale."""
    rows_per_group = group_size * bits // 32
    count, first = 0, None
    for group in range(record.shape[0] // rows_per_group):
        rows = read_rows(checkpoint, record, group * rows_per_group, (group + 1) * rows_per_group)
        values = gptq.unpack_rows(rows, bits)
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
    checkpoint: Checkpoint,
    packing: Scheme,
    modules: list[str],
    skipped: list[str] = (),
    progress: Callable[[str], None] | None = None,
) -> list[Finding]:
    """Numerics of each module packed as `packing` says (layout.run_layout finds them); skipped ones are named."""
    findings = [
        warning(
            "numerics.skipped",
            "packing failed a header rule, so its values are not read",
            tensor=f"{module}.qweight",
            file=checkpoint.tensors[f"{module}.qweight"].file,
        )
        for module in skipped
    ]
    if modules and packing.bits not in READABLE_BITS:
        findings.append(
            warning(
                "numerics.skipped",
                f"{packing.bits}-bit values are not read (values straddle int32 words): no module's numerics checked",
                file=checkpoint.weights_file_of(),
                expected=f"bits in {READABLE_BITS}",
                found=str(packing.bits),
            )
        )
        return findings
    for module in modules:
        if progress:
            progress(module)
        try:
            findings += check_module(checkpoint, module, packing)
        except (QcompatError, ValueError, IndexError, KeyError, TypeError, ArithmeticError) as exc:
            findings.append(
                error(
                    "numerics.unreadable",
                    "packed tensors cannot be read as the header declares them",
                    tensor=f"{module}.qweight",
                    file=checkpoint.tensors[f"{module}.qweight"].file,
                    expected=packing.label,
                    found=f"{type(exc).__name__}: {exc}",
                )
            )
    return findings
