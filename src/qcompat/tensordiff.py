"""Tensor-by-tensor comparison of two checkpoints, for the bit-exact reproduce check."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcompat import gptq
from qcompat.checkpoint import Checkpoint
from qcompat.tensordata import as_float32, mapped

PACKED = (".qweight", ".qzeros")


@dataclass(frozen=True)
class TensorDiff:
    name: str
    detail: str  # "only in A", "dtype F16 vs BF16", "max abs difference 0.0123 (17 of 768 values)"

    def line(self) -> str:
        return f"{self.name}: {self.detail}"


def _values(checkpoint: Checkpoint, name: str) -> np.ndarray:
    record = checkpoint.tensors[name]
    array = np.asarray(mapped(checkpoint, record))
    if name.endswith(PACKED) and record.dtype == "I32" and array.ndim == 2:
        unpack = gptq.unpack_rows if name.endswith(".qweight") else gptq.unpack_cols
        return unpack(array).astype(np.float32)
    return as_float32(array, record.dtype)


def diff(expected: Checkpoint, found: Checkpoint) -> list[TensorDiff]:
    """Every tensor that is not byte-identical, with its largest difference (int4 values for packed tensors)."""
    diffs = [
        TensorDiff(name, "only in the expected checkpoint")
        for name in sorted(set(expected.tensors) - set(found.tensors))
    ]
    diffs += [
        TensorDiff(name, "only in the found checkpoint") for name in sorted(set(found.tensors) - set(expected.tensors))
    ]
    for name in sorted(set(expected.tensors) & set(found.tensors)):
        a, b = expected.tensors[name], found.tensors[name]
        if (a.dtype, a.shape) != (b.dtype, b.shape):
            diffs.append(TensorDiff(name, f"{a.dtype} {list(a.shape)} vs {b.dtype} {list(b.shape)}"))
            continue
        if np.array_equal(np.asarray(mapped(expected, a)).view(np.uint8), np.asarray(mapped(found, b)).view(np.uint8)):
            continue
        va, vb = _values(expected, name), _values(found, name)
        delta = np.abs(va - vb)
        differing = int(np.count_nonzero(delta != 0) + np.count_nonzero(np.isnan(va) != np.isnan(vb)))
        diffs.append(
            TensorDiff(name, f"max abs difference {float(np.nanmax(delta)):.6g} ({differing} of {delta.size} values)")
        )
    return diffs
